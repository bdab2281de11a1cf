"""Reading pip requirements files: includes, pins and a digest of everything pip will read.

This is not a second pip. It reads just enough (the pip requirements-file format: `-r`/`-c`
includes, `--hash`, `${VAR}` expansion, line continuations and comments) to decide whether an
unchanged set of files means an unchanged install, which is what lets a rebuild reuse the venv.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .appfiles import Kind
from .errors import (
    AppFileMissing,
    ConfigFileUnreadable,
    RequirementsIncludeCycle,
    RequirementsIncludeMissing,
    RequirementsIncludeNamesNoFile,
    RequirementsIncludeUnreadable,
    RequirementsTooManyLines,
)
from .redact import mask

if TYPE_CHECKING:
    from .app_snapshot import AppSnapshot

REQUIREMENTS = Kind.REQUIREMENTS
# Logical lines (requirements and options) in a requirements file and all its includes.
MAX_LINES = 20_000

# pip only expands POSIX-style ${VAR} with upper-case names, digits and underscores.
ENV_VAR = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)\}")
COMMENT = re.compile(r"(^|\s+)#.*$")
INCLUDE_OPTIONS = {"-r": "requirement", "--requirement": "requirement"}
CONSTRAINT_OPTIONS = {"-c": "constraint", "--constraint": "constraint"}
EDITABLE_OPTIONS = ("-e", "--editable")
VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
FULL_COMMIT = re.compile(r"@[0-9a-f]{40}(#|$)")


@dataclass(frozen=True)
class Line:
    file: Path
    number: int
    text: str  # after continuation joining, comment stripping and ${VAR} expansion

    def where(self, app_dir: Path) -> str:
        return f"{_relative(self.file, app_dir)} line {self.number}"


@dataclass
class RequirementsSet:
    files: list[Path] = field(default_factory=list)
    digest: str = ""
    # Human-readable reasons the install is not fully determined by these files.
    unpinned: list[str] = field(default_factory=list)
    pinned_names: set[str] = field(default_factory=set)

    @property
    def fully_pinned(self) -> bool:
        return not self.unpinned


def logical_lines(raw: str, path: Path, environ: Mapping[str, str]) -> Iterator[Line]:
    pending: list[str] = []
    start = 0
    for number, physical in enumerate(raw.splitlines(), start=1):
        if not pending:
            start = number
        text = COMMENT.sub("", physical)
        if text.endswith("\\"):
            pending.append(text[:-1])
            continue
        pending.append(text)
        joined = " ".join(part.strip() for part in pending).strip()
        pending = []
        if joined:
            yield Line(path, start, ENV_VAR.sub(lambda m: environ.get(m["name"], m[0]), joined))
    if pending and " ".join(pending).strip():
        yield Line(path, start, " ".join(pending).strip())


def _split_option(text: str, options: Mapping[str, str]) -> str | None:
    """The argument of `-r x`, `-rx`, `--requirement x` or `--requirement=x`, else None."""
    for option in options:
        if text == option:
            return ""
        if text.startswith(option + " ") or text.startswith(option + "="):
            return text[len(option) + 1 :].strip()
        if len(option) == 2 and text.startswith(option) and not text.startswith(option + "-"):
            return text[2:].strip()
    return None


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def read_requirements(
    root_file: Path, app: AppSnapshot, environ: Mapping[str, str]
) -> RequirementsSet:
    """Follow `root_file` and its includes (read through the app snapshot); say whether every
    requirement is pinned."""
    app_dir = app.app_dir
    result = RequirementsSet()
    hasher = hashlib.sha256()
    constraint_pins: set[str] = set()
    candidates: list[tuple[Line, str]] = []  # requirement lines to judge once constraints are known
    seen: set[Path] = set()
    # The chain of includes being read, to report a cycle (pip itself would recurse forever).
    chain: list[Path] = []
    count = [0]  # logical lines read so far, in every file

    def visit(path: Path, is_constraint: bool, text: str) -> None:
        resolved = path.resolve()
        if resolved in chain:
            cycle = [*chain[chain.index(resolved) :], resolved]
            raise RequirementsIncludeCycle(
                _relative(path, app_dir), [_relative(p, app_dir) for p in cycle]
            )
        if resolved in seen:
            return
        seen.add(resolved)
        chain.append(resolved)
        result.files.append(path)
        hasher.update(f"\0file:{_relative(path, app_dir)}\0".encode())
        for line in logical_lines(text, path, environ):
            count[0] += 1
            if count[0] > MAX_LINES:
                raise RequirementsTooManyLines(_relative(root_file, app_dir), MAX_LINES)
            hasher.update(line.text.encode() + b"\n")
            include = _split_option(line.text, INCLUDE_OPTIONS)
            constraint = _split_option(line.text, CONSTRAINT_OPTIONS)
            target = include if include is not None else constraint
            if target is not None:
                if not target:
                    raise RequirementsIncludeNamesNoFile(line.where(app_dir), line.text)
                if "://" in target:
                    result.unpinned.append(f"{line.where(app_dir)}: includes a URL ({target})")
                    continue
                included = Path(os.path.normpath(path.parent / target))
                try:
                    content = app.text(_relative(included, app_dir), REQUIREMENTS)
                except ConfigFileUnreadable as error:
                    raise RequirementsIncludeUnreadable(
                        line.where(app_dir), target, error.reason, line.text
                    ) from None
                if content is None:
                    raise RequirementsIncludeMissing(line.where(app_dir), target, line.text)
                visit(included, is_constraint or constraint is not None, content)
            elif line.text.startswith("-") and not line.text.startswith(EDITABLE_OPTIONS):
                continue  # a global option such as --index-url: part of the digest, not a package
            elif is_constraint:
                name = pinned_name(line.text)
                if name:
                    constraint_pins.add(name)
            else:
                candidates.append((line, line.text))
        chain.pop()

    root_text = app.text(_relative(root_file, app_dir), REQUIREMENTS)
    if root_text is None:
        raise AppFileMissing(_relative(root_file, app_dir))
    visit(root_file, False, root_text)
    for line, text in candidates:
        name = pinned_name(text)
        if name:
            result.pinned_names.add(name)
            continue
        loose = requirement_name(text)
        if loose and loose in constraint_pins:
            result.pinned_names.add(loose)
            continue
        result.unpinned.append(f"{line.where(app_dir)}: {mask(text)}")
    result.digest = hasher.hexdigest()
    return result


def _strip_line_options(text: str) -> tuple[str, bool]:
    """The requirement part of a line, and whether it carries a --hash."""
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    kept: list[str] = []
    has_hash = False
    skip_next = False
    for word in words:
        if skip_next:
            skip_next = False
            continue
        if word.startswith("--hash"):
            has_hash = True
            skip_next = word == "--hash"
        elif word.startswith("--"):
            skip_next = "=" not in word and word in ("--config-settings", "--global-option")
        else:
            kept.append(word)
    return " ".join(kept), has_hash


def requirement_name(text: str) -> str | None:
    requirement_text, _ = _strip_line_options(text)
    try:
        return canonicalize_name(Requirement(requirement_text).name)
    except InvalidRequirement:
        return None


def pinned_name(text: str) -> str | None:
    """The canonical name if this line pins exactly one release, else None."""
    if text.startswith(EDITABLE_OPTIONS):
        return None
    requirement_text, has_hash = _strip_line_options(text)
    try:
        requirement = Requirement(requirement_text)
    except InvalidRequirement:
        return None  # a path or URL line: whatever it points at may change
    name = canonicalize_name(requirement.name)
    if requirement.url:
        is_vcs = requirement.url.startswith(VCS_PREFIXES)
        return name if has_hash or (is_vcs and FULL_COMMIT.search(requirement.url)) else None
    if has_hash:
        return name
    specifiers = list(requirement.specifier)
    exact = len(specifiers) == 1 and specifiers[0].operator in ("==", "===")
    return name if exact and not specifiers[0].version.endswith(".*") else None
