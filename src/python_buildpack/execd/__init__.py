"""Programs the launcher runs before each process of the image (CNB exec.d).

They run in the run image, where only the layers exist: each is a self-contained stdlib script,
installed into a launch layer with a shebang naming that layer's own interpreter.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

# exec.d file name -> module of this package. The launcher runs them in file-name order.
PROGRAMS = {"web-concurrency": "web_concurrency.py"}
EXEC_D = "exec.d"


def _programs(interpreter: Path) -> dict[str, str]:
    """File name in exec.d -> its content."""
    return {
        name: f"#!{interpreter} -IS\n"
        + (Path(__file__).parent / module).read_text(encoding="utf-8")
        for name, module in PROGRAMS.items()
    }


def programs_digest(interpreter: Path) -> str:
    """What `install_programs(…, interpreter)` writes, as a digest: a layer reused without its
    files (from the previous image) must already hold exactly these."""
    digest = hashlib.sha256()
    for name, content in sorted(_programs(interpreter).items()):
        digest.update(f"{name}\0{content}\0".encode())
    return digest.hexdigest()


def install_programs(layer_dir: Path, interpreter: Path) -> list[Path]:
    """Make `<layer>/exec.d/` hold exactly these programs, run by `interpreter` in isolated mode
    (`-I`: no user site or PYTHON* variables of the app; `-S`: no site import, faster)."""
    exec_d = Path(layer_dir) / EXEC_D
    shutil.rmtree(exec_d, ignore_errors=True)
    exec_d.mkdir(parents=True)
    installed = []
    for name, content in _programs(interpreter).items():
        path = exec_d / name
        path.write_text(content, encoding="utf-8")
        path.chmod(0o755)
        installed.append(path)
    return installed


__all__ = ["EXEC_D", "PROGRAMS", "install_programs"]
