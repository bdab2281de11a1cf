from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest

import python_buildpack
import python_buildpack.build
from python_buildpack.__main__ import EXIT_ERROR, EXIT_INTERNAL_ERROR, main
from python_buildpack.cnb import CnbEnvError
from python_buildpack.output import Log


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (errno.ENOSPC, "No space left on device"),
        (errno.EROFS, "Read-only file system"),
        (errno.EACCES, "Permission denied"),
        (errno.EDQUOT, "Disk quota exceeded"),
    ],
)
def test_disk_errors_are_user_errors_naming_step_path_and_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], code: int, text: str
) -> None:
    def fail(argv: object, log: Log) -> int:
        log.header("Installing pip")
        raise OSError(code, text, "/layers/pip/lib")

    monkeypatch.setattr(python_buildpack.build, "run_build", fail)
    assert main(["build"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "! ERROR: File system error while installing pip" in err
    assert f"(/layers/pip/lib): {text}." in err
    assert "Traceback" not in err


def test_other_os_errors_stay_internal_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(argv: object, log: Log) -> int:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(python_buildpack.build, "run_build", fail)
    assert main(["build"]) == EXIT_INTERNAL_ERROR
    assert "Traceback" in capsys.readouterr().err


def test_a_contract_violation_is_a_user_error_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(argv: object, log: Log) -> int:
        raise CnbEnvError("CNB_LAYERS_DIR", "not set")

    monkeypatch.setattr(python_buildpack.build, "run_build", fail)
    assert main(["build"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "! ERROR: The platform did not follow the buildpack contract" in err
    assert "CNB_LAYERS_DIR: not set" in err
    assert "supports Buildpack API 0.12" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("module", "user_error"), [("pydantic_core._x", True), ("flask", False)])
def test_a_missing_own_dependency_is_a_user_error_and_any_other_a_bug(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    module: str,
    user_error: bool,
) -> None:
    def fail(argv: object, log: Log) -> int:
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)

    monkeypatch.setattr(python_buildpack.build, "run_build", fail)
    err_code = main(["build"])
    err = capsys.readouterr().err
    if user_error:
        assert err_code == EXIT_ERROR
        assert "! ERROR: The buildpack's own dependencies are missing" in err
        assert f"cannot import '{module}'" in err
        assert "make package" in err
        assert "Traceback" not in err
    else:
        assert err_code == EXIT_INTERNAL_ERROR
        assert "Traceback" in err


SRC = Path(python_buildpack.__file__).parents[1]


def run_script(script: str) -> subprocess.CompletedProcess[str]:
    """`script` in a fresh `python -I`, with this checkout's `src` first on sys.path (the
    script inserts `sys.argv[1]`, as bin/python-buildpack does)."""
    return subprocess.run(
        [sys.executable, "-I", "-c", script, str(SRC)], capture_output=True, text=True, check=False
    )


def test_run_flushes_what_was_written_and_exits_with_mains_code() -> None:
    # run() ends the process without the interpreter's teardown: what sits in the buffers of
    # piped stdout and stderr must still come out, and the exit code must be main()'s.
    script = (
        "import sys; sys.path.insert(0, sys.argv.pop(1))\n"
        "import python_buildpack.__main__ as entry\n"
        "sys.stderr.write('to stderr\\n')\n"
        "entry.main = lambda: print('last line') or 42\n"
        "entry.run()\n"
        "print('not reached')\n"
    )
    proc = run_script(script)
    assert proc.returncode == 42
    assert proc.stdout == "last line\n"
    assert proc.stderr == "to stderr\n"


def test_run_as_a_module_reports_usage() -> None:
    proc = subprocess.run(
        [sys.executable, "-I", "-m", "python_buildpack"],
        capture_output=True,
        text=True,
        check=False,
        cwd=SRC,
    )
    assert proc.returncode == EXIT_ERROR
    assert "usage: python -m python_buildpack detect|build" in proc.stdout


def test_the_phase_runs_with_the_garbage_collector_on_and_its_imports_frozen() -> None:
    """bin/python-buildpack turns the collector off before the first import; main() turns it
    back on once the phase's modules are imported, with their objects frozen."""
    launcher = (SRC.parent / "bin" / "python-buildpack").read_text()
    assert "gc.disable()" in launcher
    script = (
        "import gc, sys; gc.disable(); sys.path.insert(0, sys.argv.pop(1))\n"
        "import python_buildpack.__main__ as entry, python_buildpack.detect as detect\n"
        "frozen = lambda: gc.get_freeze_count() > 0\n"
        "detect.run_detect = lambda args, log: print(gc.isenabled(), frozen()) or 0\n"
        "sys.exit(entry.main(['detect']))\n"
    )
    proc = run_script(script)
    assert (proc.returncode, proc.stdout) == (0, "True True\n"), proc.stderr
