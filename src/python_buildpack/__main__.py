"""Entry point: `python -m python_buildpack detect|build <args>`.

Exit codes follow the CNB buildpack spec: detect passes with 0 and fails with 100; anything else
is an error. User errors are printed without a traceback; unexpected ones with it.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import sys
from collections.abc import Iterator, Sequence
from typing import NoReturn

from .cnb import CnbError
from .errors import (
    BuildpackDependenciesMissing,
    FilesystemError,
    PlatformContractViolated,
    UserError,
)
from .output import Log

EXIT_ERROR = 1
EXIT_INTERNAL_ERROR = 70
# A full, read-only or over-quota disk, or a directory the build user may not write: the
# platform's to fix, so a clear message rather than a traceback.
FILESYSTEM_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.EDQUOT,
        errno.EMFILE,
        errno.ENFILE,
        errno.EFBIG,
    }
)
RUNTIME_DEPENDENCIES = frozenset({"pydantic", "pydantic_core", "packaging", "tomli", "tomli_w"})


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    log = Log()
    if not args or args[0] not in ("detect", "build"):
        log.info("usage: python -m python_buildpack detect|build <args...>")
        return EXIT_ERROR
    phase, rest = args[0], args[1:]
    try:
        if phase == "detect":
            with _imports_uncollected():
                from .detect import run_detect

            return run_detect(rest, log)
        with _imports_uncollected():
            from .build import run_build

        return run_build(rest, log)
    except UserError as error:
        log.user_error(error)
        return EXIT_ERROR
    except CnbError as error:
        log.user_error(PlatformContractViolated(str(error)))
        return EXIT_ERROR
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in RUNTIME_DEPENDENCIES:
            log.user_error(BuildpackDependenciesMissing(sys.executable, error.name))
            return EXIT_ERROR
        log.internal_error(_traceback())
        return EXIT_INTERNAL_ERROR
    except OSError as error:
        if error.errno not in FILESYSTEM_ERRNOS:
            log.internal_error(_traceback())
            return EXIT_INTERNAL_ERROR
        log.user_error(filesystem_error(error, log.step or f"running {phase}"))
        return EXIT_ERROR
    except KeyboardInterrupt:
        log.info("Interrupted.")
        return EXIT_ERROR
    except Exception:
        log.internal_error(_traceback())
        return EXIT_INTERNAL_ERROR


def filesystem_error(error: OSError, step: str) -> FilesystemError:
    """The user error for a disk that is full, read-only, over quota or not ours to write."""
    operation = step[:1].lower() + step[1:]
    paths = [str(p) for p in (error.filename, error.filename2) if p is not None]
    return FilesystemError(operation, " -> ".join(paths) or None, error.strerror or str(error))


@contextlib.contextmanager
def _imports_uncollected() -> Iterator[None]:
    """The phase's imports with the cyclic garbage collector off (bin/python-buildpack turns it
    off before the first import), then their objects frozen out of its way.

    Why: importing the build phase creates some 250,000 objects (modules, classes, functions,
    pydantic's and typing's structures), none of them garbage. The collections that the
    allocations trigger walked them again and again: about a tenth of a warm build's own time.
    Frozen, they are never walked by the collections of the build itself."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def _traceback() -> str:
    # Imported only when needed: `traceback` costs detect more than all of detection itself.
    import traceback

    return traceback.format_exc()


def run() -> NoReturn:
    """`main()` as the whole process: it ends without the interpreter's teardown.

    Why: freeing every module and object at exit cost 30 ms of each detect and build (35 ms
    from the last line to the process's end on the packaged runtime, 3 ms with this), and there
    is nothing left for it to do. `main()` returns once every file it wrote is closed, every
    child process it waits for has ended and every cleanup of the build (its `ExitStack`) has
    run; a daemon thread still filling a layer after a failure is abandoned by a normal exit
    too, and that layer has no `<name>.toml`, so no later build trusts it. No code of ours
    registers `atexit` handlers: this exit would skip them."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe or stream: nothing more can reach it.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
