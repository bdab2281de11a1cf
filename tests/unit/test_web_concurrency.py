"""WEB_CONCURRENCY sizing (the exec.d program) on fake /proc and /sys/fs/cgroup trees."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from python_buildpack.execd import install_programs
from python_buildpack.execd.web_concurrency import (
    cpu_limit,
    memory_limit,
    web_concurrency,
    workers,
)

MIB = 1024 * 1024
GIB = 1024 * MIB
V1_UNLIMITED = "9223372036854771712"


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def machine(root: Path, mem_total: int = 16 * GIB, cgroup: str = "0::/\n") -> Path:
    write(root, "proc/meminfo", f"MemTotal:       {mem_total // 1024} kB\nMemFree: 1 kB\n")
    write(root, "proc/self/cgroup", cgroup)
    return root


def cgroup_v2(root: Path, path: str = "", cpu: str = "max 100000", memory: str = "max") -> None:
    base = "sys/fs/cgroup" + (f"/{path}" if path else "")
    write(root, "sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n")
    write(root, f"{base}/cpu.max", cpu + "\n")
    write(root, f"{base}/memory.max", memory + "\n")


def cgroup_v1(
    root: Path,
    quota: str = "-1",
    period: str = "100000",
    memory: str = V1_UNLIMITED,
    cpu_dir: str = "cpu,cpuacct",
) -> None:
    write(root, f"sys/fs/cgroup/{cpu_dir}/cpu.cfs_quota_us", quota + "\n")
    write(root, f"sys/fs/cgroup/{cpu_dir}/cpu.cfs_period_us", period + "\n")
    write(root, "sys/fs/cgroup/memory/memory.limit_in_bytes", memory + "\n")


@pytest.mark.parametrize(
    ("cpus", "memory", "expected"),
    [
        (1, 16 * GIB, 3),  # 2 per CPU + 1
        (4, 16 * GIB, 9),
        (0.5, 16 * GIB, 2),
        (0.25, 16 * GIB, 1),
        (4, 512 * MIB, 2),  # memory bound: one worker per 256 MiB
        (4, 100 * MIB, 1),  # never fewer than one
        (2, None, 5),  # memory unknown: CPUs decide
    ],
)
def test_workers(cpus: float, memory: int | None, expected: int) -> None:
    assert workers(cpus, memory) == expected


def test_no_limits_uses_the_cpus_and_memory_of_the_machine(tmp_path: Path) -> None:
    root = machine(tmp_path, mem_total=8 * GIB)
    cgroup_v2(root)  # "max" everywhere
    assert cpu_limit(root) is None and memory_limit(root) is None
    assert web_concurrency(root, cpus_available=2) == (5, "2 CPUs, 8192 MiB")


def test_cgroup_v2_limits(tmp_path: Path) -> None:
    root = machine(tmp_path)
    cgroup_v2(root, cpu="150000 100000", memory=str(768 * MIB))
    assert cpu_limit(root) == 1.5
    assert memory_limit(root) == 768 * MIB
    assert web_concurrency(root, cpus_available=8) == (3, "1.5 CPUs, 768 MiB")


def test_cgroup_v2_tightest_limit_of_the_hierarchy_wins(tmp_path: Path) -> None:
    # Outside a cgroup namespace the process sits in a nested cgroup; a parent's limit binds it
    # as much as its own.
    root = machine(tmp_path, cgroup="0::/kubepods/pod1/app\n")
    cgroup_v2(root, path="kubepods/pod1/app", cpu="400000 100000", memory="max")
    write(root, "sys/fs/cgroup/kubepods/pod1/cpu.max", "200000 100000\n")
    write(root, "sys/fs/cgroup/kubepods/memory.max", f"{GIB}\n")
    assert cpu_limit(root) == 2.0
    assert memory_limit(root) == GIB
    assert web_concurrency(root, cpus_available=16)[0] == 4


@pytest.mark.parametrize("cpu_dir", ["cpu,cpuacct", "cpu"])
def test_cgroup_v1_limits(tmp_path: Path, cpu_dir: str) -> None:
    root = machine(tmp_path, cgroup="4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n")
    # Inside a container the cgroup is mounted at its own root: /sys/fs/cgroup/memory/docker/abc
    # does not exist, the container's limits are at the mount's top.
    cgroup_v1(root, quota="200000", period="100000", memory=str(2 * GIB), cpu_dir=cpu_dir)
    assert cpu_limit(root) == 2.0
    assert memory_limit(root) == 2 * GIB
    assert web_concurrency(root, cpus_available=8) == (5, "2 CPUs, 2048 MiB")


def test_cgroup_v1_unlimited(tmp_path: Path) -> None:
    root = machine(tmp_path, mem_total=GIB)
    cgroup_v1(root)
    assert cpu_limit(root) is None and memory_limit(root) is None
    assert web_concurrency(root, cpus_available=4)[0] == 4  # MemTotal: 1 GiB / 256 MiB


def test_hybrid_host_reads_both_hierarchies(tmp_path: Path) -> None:
    root = machine(tmp_path)
    cgroup_v2(root, cpu="100000 100000")
    write(root, "sys/fs/cgroup/memory/memory.limit_in_bytes", f"{300 * MIB}\n")
    assert web_concurrency(root, cpus_available=4)[0] == 1


def test_cpus_never_exceed_the_affinity_mask(tmp_path: Path) -> None:
    root = machine(tmp_path)
    cgroup_v2(root, cpu="800000 100000")
    assert web_concurrency(root, cpus_available=1)[0] == 3


def test_nothing_readable_still_gives_an_answer(tmp_path: Path) -> None:
    assert web_concurrency(tmp_path, cpus_available=2) == (5, "2 CPUs, unknown memory")


# --- the installed program, run as the launcher runs it ------------------------------------


def run_execd(tmp_path: Path, env: dict[str, str]) -> tuple[str, str]:
    (program,) = install_programs(tmp_path / "layer", Path(sys.executable))
    read, write_end = os.pipe()
    try:
        # The launcher hands the program a pipe as fd 3; bash does the same here.
        result = subprocess.run(
            ["/bin/bash", "-c", f'exec "$0" 3>&{write_end}', program],
            env=env,
            pass_fds=(write_end,),
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.close(write_end)
    with os.fdopen(read) as pipe:
        return pipe.read(), result.stderr


def test_program_writes_toml_to_fd_3(tmp_path: Path) -> None:
    output, stderr = run_execd(tmp_path, {})
    name, _, value = output.strip().partition(" = ")
    assert name == "WEB_CONCURRENCY"
    assert value.startswith('"') and value.endswith('"') and int(value.strip('"')) >= 1
    assert stderr == ""


def test_program_leaves_a_user_value_alone(tmp_path: Path) -> None:
    output, _ = run_execd(tmp_path, {"WEB_CONCURRENCY": "7"})
    assert output == ""


def test_program_never_fails_the_launch(tmp_path: Path) -> None:
    # No fd 3 (a launcher bug or a hand run): a note on stderr, exit status 0 all the same.
    (program,) = install_programs(tmp_path / "layer", Path(sys.executable))
    result = subprocess.run([program], env={}, capture_output=True, text=True, close_fds=True)
    assert result.returncode == 0
    assert "not setting WEB_CONCURRENCY" in result.stderr
