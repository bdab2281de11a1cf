"""The app's `Procfile`: one `<process type>: <command>` per line.

Read and validated while the build is still deciding (see `config.decide()`), so a typo in it
fails the build before anything is installed. Blank lines and lines starting with `#` are
skipped; anything else that is not a process line is an error naming its line number, because a
silently ignored line is a process that never starts.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import (
    ProcfileCommandMissing,
    ProcfileControlCharacters,
    ProcfileHasNoProcess,
    ProcfileLineHasNoColon,
    ProcfileTypeInvalid,
    ProcfileTypeMissing,
    ProcfileTypeTwice,
)

if TYPE_CHECKING:
    from .app_snapshot import AppSnapshot

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


def read_procfile(app: AppSnapshot) -> Procfile | None:
    """The app's Procfile, or None when it has none."""
    text = app.text(PROCFILE)
    return None if text is None else parse_procfile(text)


def control_characters(command: str) -> list[str]:
    """The control characters in a command (tabs aside), as `\\xNN`, in order of appearance.

    A command is one line run by `bash -c`: a NUL cuts it short when the launcher passes it on,
    and an escape sequence or a carriage return hides what runs from whoever reads launch.toml.
    """
    seen: dict[str, None] = {}
    for char in command:
        if char != "\t" and unicodedata.category(char) == "Cc":
            seen[f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"] = None
    return list(seen)


def parse_procfile(text: str) -> Procfile:
    entries: list[ProcfileEntry] = []
    seen: dict[str, int] = {}
    # A byte order mark from a Windows editor is not part of the first process type.
    # Lines end at \n (and \r\n) only: splitlines() would also end one at a form feed or
    # \x1c-\x1e, and so split a command in two instead of reporting the character.
    for number, line in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        line = line.removesuffix("\r")
        stripped = line.strip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        controls = control_characters(line)
        if controls:
            raise ProcfileControlCharacters(number, line, controls)
        name, colon, command = stripped.partition(":")
        name, command = name.strip(), command.strip()
        if not colon:
            raise ProcfileLineHasNoColon(number, line)
        if not name:
            raise ProcfileTypeMissing(number, line)
        if not _TYPE_RE.match(name):
            raise ProcfileTypeInvalid(number, line, name)
        if not command:
            raise ProcfileCommandMissing(number, line, name)

        if name in seen:
            raise ProcfileTypeTwice(number, line, name, seen[name])
        seen[name] = number
        entries.append(ProcfileEntry(name, command, number))
    if not entries:
        raise ProcfileHasNoProcess()
    return Procfile(tuple(entries))
