"""Reading and writing the TOML files of the CNB contract.

pydantic is imported only when a model is validated or dumped, so plain dict reads stay cheap
(detect imports this module).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import CnbFileError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")

# Written files are read by the lifecycle, which may run as another user than the one owning
# the temp file that mkstemp creates with mode 0600.
_FILE_MODE = 0o644


def read_toml_dict(path: Path, *, what: str | None = None) -> dict[str, Any]:
    """Parse a TOML file; a missing, unreadable or malformed file is a `CnbFileError`."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise CnbFileError(path, "the file does not exist", what=what) from None
    except OSError as error:
        raise CnbFileError(path, f"the file cannot be read: {error.strerror}", what=what) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CnbFileError(path, f"the file is not UTF-8 text: {error}", what=what) from None
    try:
        parsed: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CnbFileError(path, f"the file is not valid TOML: {error}", what=what) from None
    return parsed


def load_toml(path: Path, model: type[M], *, what: str) -> M:
    """Read `path` and validate it as `model`, with every schema problem on its own line."""
    from pydantic import ValidationError

    from .models import validation_error_lines

    data = read_toml_dict(path, what=what)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        reason = "\n".join(validation_error_lines(error))
        raise CnbFileError(path, reason, what=what) from None


def dump_model(model: BaseModel) -> dict[str, Any]:
    """The TOML-ready dict of a model: spec key names, no nulls (TOML has none)."""
    dumped: dict[str, Any] = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    return dumped


def write_toml(path: Path, model_or_dict: BaseModel | Mapping[str, Any]) -> None:
    """Write TOML atomically: readers (and a build that dies half-way) see the old file or the new
    one, never a truncated one.

    `None` values in plain dicts are dropped, as TOML cannot express them.
    """
    import tomli_w

    if isinstance(model_or_dict, Mapping):
        data = _drop_none(model_or_dict)
    else:
        data = dump_model(model_or_dict)
    text = tomli_w.dumps(data)
    atomic_write_bytes(Path(path), text.encode("utf-8"))


def atomic_write_bytes(path: Path, content: bytes) -> None:
    """Replace `path` with `content` via a temp file in the same directory, renamed over it.

    The temp name neither ends in `.toml` nor looks like a layer: the lifecycle treats every
    `<layers>/*.toml` as a layer's metadata, so a leftover temp file must not be mistaken for one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        tmp.chmod(_FILE_MODE)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _drop_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_drop_none(v) for v in value if v is not None]
    return value


__all__ = ["atomic_write_bytes", "dump_model", "load_toml", "read_toml_dict", "write_toml"]
