"""Sets WEB_CONCURRENCY at launch from the container's CPU and memory limits (a CNB exec.d program).

gunicorn and uvicorn both take their number of worker processes from WEB_CONCURRENCY, so a
container given 4 CPUs serves with more workers than one given half a CPU, without the app
hard-coding a number. The python layer installs this file as `exec.d/web-concurrency`, run by the
layer's own interpreter (`python3 -IS`): the launcher runs it before every process of the image,
with the app directory as the working directory, and reads `NAME = "value"` TOML from file
descriptor 3.

Rules (the image's run-time view, no build-time guess):
- a WEB_CONCURRENCY already set (image env, `docker run -e`, platform) is left alone;
- CPUs: the cgroup CPU quota (v2 `cpu.max`, v1 `cpu.cfs_quota_us / cpu.cfs_period_us`) where one
  is set, never more than the CPUs the process may run on (its affinity mask, i.e. the cpuset);
- memory: the cgroup memory limit (v2 `memory.max`, v1 `memory.limit_in_bytes`) where one is set,
  never more than the machine's MemTotal;
- limits of every cgroup from the process's own up to the root count (the tightest wins), and
  both hierarchies are read, so a hybrid v1/v2 host works too;
- workers = 2 per CPU + 1 (gunicorn's advice), at most one per 256 MiB, at least one.

It must never stop the app from starting: any failure writes nothing, with a note on stderr.
This file is self-contained (standard library only, Python 3.10+), as it runs in the run image
where the buildpack's own package is not installed. It runs before every process, so it imports
only what the interpreter has loaded anyway (`os`, `sys`): pathlib, typing or collections would
triple its start-up time.
"""

# os.path rather than pathlib, for the start-up time (see above).
# ruff: noqa: PTH112, PTH113, PTH118, PTH123
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

VARIABLE = "WEB_CONCURRENCY"
MEMORY_PER_WORKER = 256 * 1024 * 1024
# cgroup v1 writes "no limit" as a page-rounded 2^63 - 1; anything this big is no limit.
NO_LIMIT = 1 << 60
V1_CPU_DIRS = ("cpu", "cpu,cpuacct", "cpuacct,cpu")
OUTPUT_FD = 3


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def join(*parts: str) -> str:
    return os.path.join(*parts)


def cgroup_paths(root: str) -> tuple[str | None, dict[str, str]]:
    """The process's cgroup: its v2 path (None if it has none) and its v1 path per controller,
    from /proc/self/cgroup ("0::/a/b" and "4:memory:/a/b" lines)."""
    text = read_text(join(root, "proc", "self", "cgroup")) or ""
    unified: str | None = None
    controllers: dict[str, str] = {}
    for line in text.splitlines():
        hierarchy, _, rest = line.partition(":")
        names, _, path = rest.partition(":")
        if hierarchy == "0" and names == "":
            unified = path
        else:
            for name in names.split(","):
                controllers[name] = path
    return unified, controllers


def ancestors(base: str, path: str | None) -> Iterator[str]:
    """`base/a/b`, `base/a`, `base`: where the limits of cgroup /a/b and its parents are. Inside a
    container the cgroup is usually mounted at its own root, so only `base` exists there."""
    parts = [part for part in (path or "").split("/") if part and part not in (".", "..")]
    for depth in range(len(parts), -1, -1):
        yield join(base, *parts[:depth])


def cgroup_dir(root: str) -> str:
    return join(root, "sys", "fs", "cgroup")


def is_unified(root: str) -> bool:
    return os.path.isfile(join(cgroup_dir(root), "cgroup.controllers"))


def cpu_limit(root: str) -> float | None:
    """The tightest CPU quota over the process's cgroups, in CPUs; None when there is none."""
    unified, controllers = cgroup_paths(root)
    quotas: list[float] = []
    if is_unified(root):
        for directory in ancestors(cgroup_dir(root), unified):
            fields = (read_text(join(directory, "cpu.max")) or "").split()
            if len(fields) == 2 and fields[0] != "max":
                quotas.append(_ratio(fields[0], fields[1]))
    for name in V1_CPU_DIRS:
        base = join(cgroup_dir(root), name)
        if not os.path.isdir(base):
            continue
        for directory in ancestors(base, controllers.get("cpu")):
            quota = read_text(join(directory, "cpu.cfs_quota_us"))
            period = read_text(join(directory, "cpu.cfs_period_us"))
            if quota and period and quota != "-1":
                quotas.append(_ratio(quota, period))
        break
    valid = [quota for quota in quotas if quota > 0]
    return min(valid) if valid else None


def _ratio(quota: str, period: str) -> float:
    try:
        return int(quota) / int(period)
    except (ValueError, ZeroDivisionError):
        return 0.0


def memory_limit(root: str) -> int | None:
    """The tightest memory limit over the process's cgroups, in bytes; None when there is none."""
    unified, controllers = cgroup_paths(root)
    limits: list[int] = []
    if is_unified(root):
        for directory in ancestors(cgroup_dir(root), unified):
            limits.extend(_bytes(read_text(join(directory, "memory.max"))))
    base = join(cgroup_dir(root), "memory")
    if os.path.isdir(base):
        for directory in ancestors(base, controllers.get("memory")):
            limits.extend(_bytes(read_text(join(directory, "memory.limit_in_bytes"))))
    valid = [limit for limit in limits if 0 < limit < NO_LIMIT]
    return min(valid) if valid else None


def _bytes(text: str | None) -> list[int]:
    if text is None or not text.isdigit():
        return []  # absent, or "max"
    return [int(text)]


def total_memory(root: str) -> int | None:
    for line in (read_text(join(root, "proc", "meminfo")) or "").splitlines():
        name, _, value = line.partition(":")
        fields = value.split()
        if name == "MemTotal" and fields and fields[0].isdigit():
            return int(fields[0]) * 1024
    return None


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def workers(cpus: float, memory: int | None) -> int:
    by_cpu = int(2 * cpus) + 1  # int() floors a positive number
    by_memory = memory // MEMORY_PER_WORKER if memory is not None else by_cpu
    return max(1, min(by_cpu, by_memory))


def web_concurrency(root: str | os.PathLike[str], cpus_available: int) -> tuple[int, str]:
    """The number of workers for this container, and how it was found (for tests and notes)."""
    root = os.fspath(root)
    quota = cpu_limit(root)
    cpus = min(float(cpus_available), quota) if quota is not None else float(cpus_available)
    limit = memory_limit(root)
    known = [memory for memory in (limit, total_memory(root)) if memory is not None]
    memory = min(known) if known else None
    count = workers(cpus, memory)
    memory_text = f"{memory // (1024 * 1024)} MiB" if memory is not None else "unknown memory"
    return count, f"{cpus:g} CPUs, {memory_text}"


def main(environ: Mapping[str, str] = os.environ, root: str = "/") -> int:
    if environ.get(VARIABLE):
        return 0
    try:
        count, _ = web_concurrency(root, usable_cpus())
        with os.fdopen(OUTPUT_FD, "w") as output:
            output.write(f'{VARIABLE} = "{count}"\n')
    except Exception as error:  # the app must start whatever happens here
        print(f"web-concurrency: not setting {VARIABLE}: {error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
