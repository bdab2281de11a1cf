"""Programs the launcher runs before each process of the image (CNB exec.d).

They run in the run image, where only the layers exist: each is a self-contained stdlib script,
installed into a launch layer with a shebang naming that layer's own interpreter.
"""

from __future__ import annotations

import shutil
from pathlib import Path

# exec.d file name -> module of this package. The launcher runs them in file-name order.
PROGRAMS = {"web-concurrency": "web_concurrency.py"}
EXEC_D = "exec.d"


def install_programs(layer_dir: Path, interpreter: Path) -> list[Path]:
    """Make `<layer>/exec.d/` hold exactly these programs, run by `interpreter` in isolated mode
    (`-I`: no user site or PYTHON* variables of the app; `-S`: no site import, faster)."""
    exec_d = Path(layer_dir) / EXEC_D
    shutil.rmtree(exec_d, ignore_errors=True)
    exec_d.mkdir(parents=True)
    installed = []
    for name in PROGRAMS:
        path = exec_d / name
        path.write_text(program_text(name, interpreter), encoding="utf-8")
        path.chmod(0o755)
        installed.append(path)
    return installed


def program_text(name: str, interpreter: Path) -> str:
    """The file `<layer>/exec.d/<name>` as `install_programs` writes it."""
    source = (Path(__file__).parent / PROGRAMS[name]).read_text(encoding="utf-8")
    return f"#!{interpreter} -IS\n{source}"


__all__ = ["EXEC_D", "PROGRAMS", "install_programs", "program_text"]
