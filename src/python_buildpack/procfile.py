"""The app's `Procfile`: one `<process type>: <command>` per line.

Read and validated while the build is still deciding (see `config.decide()`), so a typo in it
fails the build before anything is installed. Blank lines and lines starting with `#` are
skipped; anything else that is not a process line is an error naming its line number, because a
silently ignored line is a process that never starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigFileUnreadable, InvalidProcfile

PROCFILE = "Procfile"
# What the CNB lifecycle accepts as a process type (it becomes /cnb/process/<type>).
_TYPE_RE = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class ProcfileEntry:
    type: str
    command: str
    line: int


@dataclass(frozen=True)
class Procfile:
    entries: tuple[ProcfileEntry, ...]

    @property
    def types(self) -> list[str]:
        return [entry.type for entry in self.entries]

    def get(self, process_type: str) -> ProcfileEntry | None:
        return next((entry for entry in self.entries if entry.type == process_type), None)


def read_procfile(app_dir: Path) -> Procfile | None:
    """The app's Procfile, or None when it has none."""
    path = app_dir / PROCFILE
    if not path.exists() and not path.is_symlink():
        return None
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigFileUnreadable(PROCFILE, error.strerror or str(error)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigFileUnreadable(
            PROCFILE,
            f"it is not valid UTF-8 text (byte {error.start})",
            "Save the Procfile as UTF-8 text.",
        ) from None
    return parse_procfile(text)


def parse_procfile(text: str) -> Procfile:
    entries: list[ProcfileEntry] = []
    seen: dict[str, int] = {}
    # A byte order mark from a Windows editor is not part of the first process type.
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, colon, command = stripped.partition(":")
        name, command = name.strip(), command.strip()
        if not colon:
            raise InvalidProcfile(
                number, line, "it has no ':' between the process type and its command"
            )
        if not name:
            raise InvalidProcfile(number, line, "it has no process type before the ':'")
        if not _TYPE_RE.match(name):
            raise InvalidProcfile(
                number,
                line,
                f"{name!r} is not a valid process type: use only letters, digits, '.', '_' and '-'",
            )
        if not command:
            raise InvalidProcfile(number, line, f"the {name} process has no command")
        if name in seen:
            raise InvalidProcfile(
                number, line, f"the {name} process is already defined on line {seen[name]}"
            )
        seen[name] = number
        entries.append(ProcfileEntry(name, command, number))
    if not entries:
        raise InvalidProcfile(None, "", "it defines no process (every line is empty or a comment)")
    return Procfile(tuple(entries))
