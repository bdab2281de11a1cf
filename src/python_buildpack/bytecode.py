"""Compiling installed packages to bytecode on every CPU the build may use.

pip compiles each wheel's modules as it installs it, one file after another, in its own
process: about half of a `pip install` of a typical web app (1.3 s of 2.6 s for
bench/apps/web from a warm cache, on 2 cores). The pip installer runs pip with `--no-compile`
and then compiles the venv's `site-packages` with `compileall` in one worker process per usable
CPU: the same `.pyc` files (hash-based under the build's SOURCE_DATE_EPOCH, the same bytes
whatever the number of workers), in a fraction of the time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from .commands import Result, run
from .dist_info import site_packages_dirs
from .output import Log

# Beyond this many workers, starting them costs more than they save on a venv's few thousand
# modules.
MAX_WORKERS = 8
# compileall -q's line for a file that does not compile (the path is a Python repr).
ERROR_LINE = re.compile(r"^\*\*\* Error compiling (['\"])(.*)\1\.\.\.$", re.MULTILINE)


def usable_cpus() -> int:
    """The CPUs this process may run on (a container's CPU set), not the host's count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def compileall_command(
    python: Path,
    directories: Sequence[Path],
    *,
    workers: int,
    invalidation_mode: str | None = None,
) -> list[str | Path]:
    """`python -m compileall` of `directories`, isolated from the environment's PYTHON*
    variables and without `site`: no `.pth` file of an installed package runs while its own
    package is compiled. With no `invalidation_mode`, py_compile's default applies:
    hash-based `.pyc` files when SOURCE_DATE_EPOCH is set."""
    command: list[str | Path] = [python, "-I", "-S", "-m", "compileall", "-q", "-j", str(workers)]
    if invalidation_mode is not None:
        command += ["--invalidation-mode", invalidation_mode]
    return [*command, *directories]


def compile_venv(python: Path, venv: Path, env: dict[str, str], log: Log) -> None:
    """Compile what was installed into the `venv`'s site-packages.

    A file that does not compile is left as pip leaves it: packages ship templates and modules
    for other Python versions that were never meant to be imported, and Python compiles any
    module it does import. So the step names one in a line and the build goes on. Where the
    workers cannot start (no `/dev/shm` for their locks, say), it compiles in one process."""
    directories = site_packages_dirs(venv)
    if not directories:
        return  # compileall without a directory would compile its own sys.path
    workers = min(usable_cpus(), MAX_WORKERS)
    processes = "1 process" if workers == 1 else f"{workers} processes"
    with log.timed(f"Compiling bytecode ({processes})"):
        result = _compileall(python, directories, env, log, workers)
        failed = _failed_files(result.output)
        if not result.ok and not failed and workers > 1:
            log.info(f"compileall's workers failed (status {result.exit_code}): in one process now")
            result = _compileall(python, directories, env, log, 1)
            failed = _failed_files(result.output)
    if failed:
        log.info(
            f"Some files are not valid Python for this version and have no bytecode, e.g. "
            f"{os.path.relpath(failed[0], directories[0])} (as pip leaves them: a module "
            "compiles when it is imported)"
        )
    elif not result.ok:
        log.info(
            f"compileall exited with status {result.exit_code}: modules without bytecode "
            "compile when they are first imported"
        )


def _compileall(
    python: Path, directories: Sequence[Path], env: dict[str, str], log: Log, workers: int
) -> Result:
    return run(
        compileall_command(python, directories, workers=workers), env=env, log=log, quiet=True
    )


def _failed_files(output: str) -> list[str]:
    """The files compileall -q reported it could not compile."""
    return [match[2] for match in ERROR_LINE.finditer(output)]
