from __future__ import annotations

import hashlib
import json
import string
import unicodedata
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from python_buildpack.app_snapshot import AppSnapshot
from python_buildpack.distributions import Manifest
from python_buildpack.errors import (
    AppFileNotJson,
    AppFileNotToml,
    ConfigFileUnreadable,
    NoPythonForTarget,
    PythonVersionEmpty,
    PythonVersionEol,
    PythonVersionFreethreaded,
    PythonVersionImplementation,
    PythonVersionInvalid,
    PythonVersionInvisibleCharacters,
    PythonVersionMultiple,
    PythonVersionNotAvailable,
    PythonVersionPrerelease,
    PythonVersionSystem,
    PythonVersionUnknown,
    RequiresPythonInvalid,
    RequiresPythonNotString,
    RequiresPythonUnsatisfiable,
    RuntimeTxtInvalid,
    UserError,
)
from python_buildpack.python_version import (
    Notice,
    RequestedVersion,
    ResolvedPython,
    VersionOrigin,
    make_visible,
    parse_python_version_file,
    read_requested_version,
    resolve_version,
)

TODAY = date(2026, 1, 15)
# 3.10's policy in the fixture manifest, as shipped: warnings from 2026-05-01, end of life on
# 2026-10-31, builds pass with a warning until 2027-01-31 and fail from 2027-02-01.
WARN_FROM_3_10 = date(2026, 5, 1)
EOL_3_10 = date(2026, 10, 31)
BUILDS_STOP_3_10 = date(2027, 2, 1)


def _release(version: str, arch: str = "amd64") -> dict[str, Any]:
    return {
        "version": version,
        "os": "linux",
        "arch": arch,
        "libc": "gnu",
        "url": f"https://example.com/cpython-{version}-{arch}.tar.gz",
        "sha256": hashlib.sha256(f"{version}{arch}".encode()).hexdigest(),
    }


def _minor(version: str, eol_year: int) -> dict[str, Any]:
    return {
        "version": version,
        "warn_from": date(eol_year, 5, 1),
        "eol": date(eol_year, 10, 31),
        "builds_stop": date(eol_year + 1, 2, 1),
    }


@pytest.fixture
def manifest() -> Manifest:
    return Manifest.from_data(
        {
            "minors": [
                _minor("3.10", 2026),
                _minor("3.11", 2027),
                _minor("3.12", 2028),
                _minor("3.13", 2029),
                _minor("3.14", 2030),
                _minor("3.15", 2031),
            ],
            "releases": [
                _release("3.10.19"),
                _release("3.11.14"),
                _release("3.12.3"),
                _release("3.12.11"),
                _release("3.13.9"),
                _release("3.13.9", "arm64"),
                _release("3.14.2"),
                _release("3.15.0b2"),
            ],
        }
    )


def requested(
    text: str, origin: VersionOrigin = VersionOrigin.PYTHON_VERSION_FILE
) -> RequestedVersion:
    _, (major, minor, patch) = parse_python_version_file(text)
    return RequestedVersion(origin, text, major, minor, patch)


def rendered(error: UserError) -> str:
    return f"{error.title}\n{error.render()}"


# --- .python-version grammar ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("3.12", (3, 12, None)),
        ("3.12.3\n", (3, 12, 3)),
        ("  3.13 \t\n", (3, 13, None)),
        ("3.13\r\n", (3, 13, None)),
        ("# pinned for numpy\n\n3.11\n# trailing comment\n", (3, 11, None)),
        ("3.13 # pinned for numpy\n", (3, 13, None)),
        ("3.13.2\t# with a tab\n", (3, 13, 2)),
        ("3.13#no space\n", (3, 13, None)),
        ("# was 3.11 until May\n3.12  # 3.13 breaks numpy\n", (3, 12, None)),
        ("# 3.11\n   # 3.12 indented comment\n3.13\n", (3, 13, None)),
        ("\n\n   \n3.14.0\n\n", (3, 14, 0)),
        ("4.0", (4, 0, None)),  # parses; resolution decides it is unknown
    ],
)
def test_valid_python_version_files(content: str, expected: tuple[int, int, int | None]) -> None:
    assert parse_python_version_file(content)[1] == expected


version_numbers = st.integers(min_value=0, max_value=999)
blank_or_comment = st.one_of(
    st.just(""),
    st.text(alphabet=" \t", max_size=3),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\n")).map(
        lambda s: "#" + s
    ),
)


@given(
    major=version_numbers,
    minor=version_numbers,
    patch=st.one_of(st.none(), version_numbers),
    before=st.lists(blank_or_comment, max_size=4),
    after=st.lists(blank_or_comment, max_size=4),
    padding=st.tuples(st.sampled_from(["", " ", "\t", "  "]), st.sampled_from(["", " ", "\r"])),
)
def test_any_valid_version_with_comments_parses(
    major: int,
    minor: int,
    patch: int | None,
    before: list[str],
    after: list[str],
    padding: tuple[str, str],
) -> None:
    version = f"{major}.{minor}" + ("" if patch is None else f".{patch}")
    content = "\n".join([*before, padding[0] + version + padding[1], *after])
    assert parse_python_version_file(content) == (version, (major, minor, patch))


@given(
    version=st.from_regex(r"\A3\.[0-9]{1,2}(\.[0-9]{1,2})?\Z"),
    gap=st.sampled_from(["", " ", "\t", "  "]),
    comment=st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\n")),
)
def test_any_trailing_comment_is_ignored(version: str, gap: str, comment: str) -> None:
    assert parse_python_version_file(f"{version}{gap}#{comment}\n")[0] == version


def test_multiple_versions_lists_only_real_version_lines() -> None:
    content = "# 3.10 was the old one\n3.13  # for numpy 2\n\n3.11 # the CI one\n# 3.12\n"
    with pytest.raises(PythonVersionMultiple) as info:
        parse_python_version_file(content)
    assert info.value.detail == (
        ".python-version names more than one Python version:\n  - 3.13\n  - 3.11"
    )


# Control characters other than the line breaks and tabs that are trimmed at the line's ends.
control_chars = st.characters(whitelist_categories=["Cc"]).filter(lambda c: c not in "\t\n\r")


version_like = st.text(alphabet=string.ascii_letters + string.digits + ".-_", max_size=8)


@given(prefix=version_like, char=control_chars, suffix=version_like)
def test_any_control_character_is_rejected_and_made_visible(
    prefix: str, char: str, suffix: str
) -> None:
    content = prefix + char + suffix
    with pytest.raises(PythonVersionInvisibleCharacters) as info:
        parse_python_version_file(content)
    message = info.value.render()
    assert f"{prefix}<U+{ord(char):04X}>{suffix}" in message
    assert ".python-version" in message
    assert char not in message


def test_byte_order_mark_is_shown() -> None:
    with pytest.raises(PythonVersionInvisibleCharacters) as info:
        parse_python_version_file("\ufeff3.12\n")
    message = rendered(info.value)
    assert "<U+FEFF>3.12" in message
    assert "without a byte order mark" in message


@pytest.mark.parametrize("char", ["\u00ad", "\u200b", "\u00a0", "\x1b", "\x00", "\x0b"])
def test_other_invisible_characters(char: str) -> None:
    with pytest.raises(PythonVersionInvisibleCharacters) as info:
        parse_python_version_file(f"3.{char}12")
    assert f"3.<U+{ord(char):04X}>12" in info.value.render()


def test_make_visible_keeps_printable_ascii() -> None:
    assert make_visible("3.12 # ok") == "3.12 # ok"
    assert make_visible("é\t") == "<U+00E9><U+0009>"
    assert unicodedata.name("\ufeff") == "ZERO WIDTH NO-BREAK SPACE"


@pytest.mark.parametrize(
    ("content", "error", "words"),
    [
        ("", PythonVersionEmpty, ["No Python version in .python-version"]),
        ("# 3.12\n\n", PythonVersionEmpty, ["comment"]),
        ("3.12\n3.13\n", PythonVersionMultiple, ["3.12", "3.13", "exactly one"]),
        ("3.12 3.11", PythonVersionMultiple, ["3.12", "3.11"]),
        ("3.12rc1", PythonVersionPrerelease, ["'3.12rc1'", "pre-release"]),
        ("3.14.0b2", PythonVersionPrerelease, ["'3.14.0b2'"]),
        ("3.13-dev", PythonVersionPrerelease, ["'3.13-dev'"]),
        ("pypy3.10-7.3.17", PythonVersionImplementation, ["'pypy3.10-7.3.17'", "CPython"]),
        ("PyPy", PythonVersionImplementation, ["CPython"]),
        ("graalpy-24.1", PythonVersionImplementation, ["CPython"]),
        ("system", PythonVersionSystem, ["'system'"]),
        ("3.13t", PythonVersionFreethreaded, ["'3.13t'", "free-threaded", "e.g. 3.13."]),
        ("3.14.1t", PythonVersionFreethreaded, ["'3.14.1t'", "e.g. 3.14.1."]),
        ("python-3.12.3", PythonVersionInvalid, ["'python-3.12.3'", "Did you mean 3.12.3?"]),
        ("3.12.x", PythonVersionInvalid, ["Did you mean 3.12?"]),
        ('"3.12"', PythonVersionInvalid, ["quotes"]),
        ("3", PythonVersionInvalid, ["X.Y or X.Y.Z"]),
        ("3.12.", PythonVersionInvalid, ["'3.12.'"]),
        ("1.2.3.4", PythonVersionInvalid, ["'1.2.3.4'"]),
        ("３.１２", PythonVersionInvalid, ["<U+FF13>.<U+FF11><U+FF12>"]),
    ],
)
def test_specific_errors(content: str, error: type[UserError], words: list[str]) -> None:
    with pytest.raises(error) as info:
        parse_python_version_file(content)
    message = rendered(info.value)
    assert ".python-version" in message
    for word in words:
        assert word in message
    assert info.value.fix  # every error says how to fix it


# --- reading the sources ----------------------------------------------------------------------


def write(app: Path, name: str, content: str | bytes) -> None:
    path = app / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def pyproject(requires_python: str) -> str:
    return f'[project]\nname = "app"\nrequires-python = "{requires_python}"\n'


def pipfile_lock(**requires: str) -> str:
    return json.dumps({"_meta": {"requires": requires}, "default": {}})


def test_nothing_requested(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "flask\n")
    write(tmp_path, "pyproject.toml", '[project]\nname = "app"\n')
    write(tmp_path, "Pipfile.lock", json.dumps({"_meta": {}}))
    assert read_requested_version(AppSnapshot(tmp_path), {}) is None


def test_platform_env_wins_over_everything(tmp_path: Path) -> None:
    write(tmp_path, ".python-version", "3.11")
    write(tmp_path, "pyproject.toml", pyproject(">=3.12"))
    req = read_requested_version(AppSnapshot(tmp_path), {"BP_PYTHON_VERSION": " 3.13.2 "})
    assert req is not None
    assert (req.origin, req.major, req.minor, req.patch) == (VersionOrigin.PLATFORM_ENV, 3, 13, 2)
    assert req.origin.display == "BP_PYTHON_VERSION"
    assert req.display == "3.13.2"


def test_empty_platform_env_is_ignored(tmp_path: Path) -> None:
    write(tmp_path, ".python-version", "3.11")
    req = read_requested_version(AppSnapshot(tmp_path), {"BP_PYTHON_VERSION": ""})
    assert req is not None
    assert req.origin is VersionOrigin.PYTHON_VERSION_FILE


def test_platform_env_errors_name_the_variable(tmp_path: Path) -> None:
    with pytest.raises(PythonVersionPrerelease) as info:
        read_requested_version(AppSnapshot(tmp_path), {"BP_PYTHON_VERSION": "3.13rc1"})
    assert "BP_PYTHON_VERSION" in rendered(info.value)
    with pytest.raises(PythonVersionMultiple):
        read_requested_version(AppSnapshot(tmp_path), {"BP_PYTHON_VERSION": "3.12 3.13"})


def test_python_version_file_wins_over_runtime_txt(tmp_path: Path) -> None:
    write(tmp_path, ".python-version", "3.12\n")
    write(tmp_path, "runtime.txt", "python-3.11.2")
    req = read_requested_version(AppSnapshot(tmp_path), {})
    assert req is not None
    assert req.origin is VersionOrigin.PYTHON_VERSION_FILE
    assert (req.major, req.minor, req.patch, req.raw) == (3, 12, None, "3.12")
    assert [w.title for w in req.warnings] == ["runtime.txt is ignored"]


@pytest.mark.parametrize(
    ("content", "parsed"), [("python-3.12.3\n", (3, 12, 3)), ("python-3.12", (3, 12, None))]
)
def test_runtime_txt_is_accepted_with_a_deprecation_warning(
    tmp_path: Path, content: str, parsed: tuple[int, int, int | None]
) -> None:
    write(tmp_path, "runtime.txt", content)
    write(tmp_path, "pyproject.toml", pyproject(">=3.10"))
    req = read_requested_version(AppSnapshot(tmp_path), {})
    assert req is not None
    assert req.origin is VersionOrigin.RUNTIME_TXT
    assert (req.major, req.minor, req.patch) == parsed
    (warning,) = req.warnings
    assert "deprecated" in warning.title
    assert ".python-version containing 3.12" in warning.body


@pytest.mark.parametrize("content", ["3.12", "python3.12", "python-3", "python-3.12\npython-3.13"])
def test_invalid_runtime_txt(tmp_path: Path, content: str) -> None:
    write(tmp_path, "runtime.txt", content)
    with pytest.raises(RuntimeTxtInvalid) as info:
        read_requested_version(AppSnapshot(tmp_path), {})
    assert "python-3.13" in info.value.render()


def test_requires_python_wins_over_pipfile_lock(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", pyproject(">=3.11, <3.13"))
    write(tmp_path, "Pipfile.lock", pipfile_lock(python_version="3.10"))
    req = read_requested_version(AppSnapshot(tmp_path), {})
    assert req is not None
    assert req.origin is VersionOrigin.REQUIRES_PYTHON
    assert req.specifier == ">=3.11, <3.13"
    assert req.display == ">=3.11, <3.13"
    assert req.origin.display == "requires-python in pyproject.toml"


@pytest.mark.parametrize(
    ("requires", "parsed"),
    [
        ({"python_version": "3.12"}, (3, 12, None)),
        ({"python_full_version": "3.12.3", "python_version": "3.12"}, (3, 12, 3)),
    ],
)
def test_pipfile_lock(
    tmp_path: Path, requires: dict[str, str], parsed: tuple[int, int, int | None]
) -> None:
    write(tmp_path, "Pipfile.lock", pipfile_lock(**requires))
    req = read_requested_version(AppSnapshot(tmp_path), {})
    assert req is not None
    assert req.origin is VersionOrigin.PIPFILE_LOCK
    assert (req.major, req.minor, req.patch) == parsed


def test_invalid_pipfile_lock_json(tmp_path: Path) -> None:
    write(tmp_path, "Pipfile.lock", "{not json")
    with pytest.raises(AppFileNotJson) as info:
        read_requested_version(AppSnapshot(tmp_path), {})
    assert "Pipfile.lock" in info.value.title
    assert "pipenv lock" in info.value.fix


def test_invalid_pyproject_names_the_line(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[project]\nname = "app"\nrequires-python = >=3.12\n')
    with pytest.raises(AppFileNotToml) as info:
        read_requested_version(AppSnapshot(tmp_path), {})
    message = rendered(info.value)
    assert "pyproject.toml" in message
    assert "line 3" in message


@pytest.mark.parametrize(
    ("toml", "error", "words"),
    [
        (pyproject("3.12"), RequiresPythonInvalid, ["'3.12'", "version specifier"]),
        (pyproject(">=3.x"), RequiresPythonInvalid, ["'>=3.x'"]),
        (
            "[project]\nrequires-python = 3.12\n",
            RequiresPythonNotString,
            ["3.12", "must be a string"],
        ),
    ],
)
def test_invalid_requires_python(
    tmp_path: Path, toml: str, error: type[RequiresPythonInvalid], words: list[str]
) -> None:
    write(tmp_path, "pyproject.toml", toml)
    with pytest.raises(error) as info:
        read_requested_version(AppSnapshot(tmp_path), {})
    for word in words:
        assert word in rendered(info.value)


def test_directory_is_treated_as_absent(tmp_path: Path) -> None:
    (tmp_path / ".python-version").mkdir()
    (tmp_path / "runtime.txt").mkdir()
    write(tmp_path, "Pipfile.lock", pipfile_lock(python_version="3.11"))
    req = read_requested_version(AppSnapshot(tmp_path), {})
    assert req is not None
    assert req.origin is VersionOrigin.PIPFILE_LOCK


def test_undecodable_file_is_a_specific_error(tmp_path: Path) -> None:
    write(tmp_path, ".python-version", b"3.12\xff\n")
    with pytest.raises(ConfigFileUnreadable) as info:
        read_requested_version(AppSnapshot(tmp_path), {})
    message = rendered(info.value)
    assert ".python-version" in message
    assert "not valid UTF-8" in message
    assert "0xff" in message


def test_unreadable_file_is_a_specific_error(tmp_path: Path) -> None:
    # A symlink loop fails to open with ELOOP even for root, unlike permission bits.
    (tmp_path / ".python-version").symlink_to(tmp_path / ".python-version")
    with pytest.raises(ConfigFileUnreadable) as info:
        read_requested_version(AppSnapshot(tmp_path), {})
    assert ".python-version" in info.value.title


def test_bom_in_file_on_disk(tmp_path: Path) -> None:
    write(tmp_path, ".python-version", "\ufeff3.13\n".encode())
    with pytest.raises(PythonVersionInvisibleCharacters) as info:
        read_requested_version(AppSnapshot(tmp_path), {})
    assert "<U+FEFF>3.13" in info.value.render()


# --- resolution -------------------------------------------------------------------------------


def resolve(
    manifest: Manifest, req: RequestedVersion | None, today: date = TODAY, arch: str = "amd64"
) -> ResolvedPython:
    return resolve_version(req, manifest, "linux", arch, today)


def test_default_is_newest_stable_minor(manifest: Manifest) -> None:
    resolved = resolve(manifest, None)
    assert resolved.version == "3.14.2"  # 3.15 has only a beta
    assert resolved.origin is VersionOrigin.DEFAULT
    assert resolved.requested_display == "3.14"
    assert resolved.notices == []
    assert resolved.release.url.endswith("cpython-3.14.2-amd64.tar.gz")


def test_default_depends_on_target(manifest: Manifest) -> None:
    assert resolve(manifest, None, arch="arm64").version == "3.13.9"


def test_minor_resolves_to_newest_patch(manifest: Manifest) -> None:
    resolved = resolve(manifest, requested("3.12"))
    assert resolved.version == "3.12.11"
    assert resolved.requested_display == "3.12"
    assert resolved.summary == "Python 3.12.11 (3.12 requested in .python-version)"


def test_explicit_patch_in_manifest(manifest: Manifest) -> None:
    assert resolve(manifest, requested("3.12.3")).version == "3.12.3"


def test_explicit_patch_missing(manifest: Manifest) -> None:
    with pytest.raises(PythonVersionNotAvailable) as info:
        resolve(manifest, requested("3.12.5"))
    message = rendered(info.value)
    assert "Python 3.12.5 is not available" in message
    assert "3.12.11" in message and "3.12.3" in message
    assert "linux/amd64" in message


def test_minor_missing_for_target(manifest: Manifest) -> None:
    with pytest.raises(PythonVersionNotAvailable) as info:
        resolve(manifest, requested("3.12"), arch="arm64")
    assert "3.13 (3.13.9)" in info.value.render()


@pytest.mark.parametrize("version", ["2.7", "3.0", "3.9", "3.9.18", "3.6.15"])
def test_old_versions_are_eol(manifest: Manifest, version: str) -> None:
    with pytest.raises(PythonVersionEol) as info:
        resolve(manifest, requested(version))
    message = rendered(info.value)
    assert f"Python {version} has reached its end of life" in message
    for supported in ["3.10 (3.10.19)", "3.11 (3.11.14)", "3.14 (3.14.2)"]:
        assert supported in message
    assert "3.15" not in message
    assert message.endswith("ideally 3.14.")


def test_minor_after_builds_stop_is_an_error(manifest: Manifest) -> None:
    with pytest.raises(PythonVersionEol) as info:
        resolve(manifest, requested("3.10"), today=BUILDS_STOP_3_10)
    message = rendered(info.value)
    assert "Python 3.10 has reached its end of life" in message
    assert "end of life on 2026-10-31" in message
    assert "they fail from 2027-02-01 on" in message
    assert "3.10 (" not in message  # no longer listed as supported
    assert "3.11 (3.11.14)" in message
    # The day before still builds, in the grace period.
    last_day = BUILDS_STOP_3_10 - timedelta(days=1)
    assert resolve(manifest, requested("3.10"), today=last_day).version == "3.10.19"


@pytest.mark.parametrize("today", [EOL_3_10 + timedelta(days=1), date(2026, 11, 30)])
def test_grace_period_builds_with_a_warning(manifest: Manifest, today: date) -> None:
    resolved = resolve(manifest, requested("3.10"), today=today)
    assert resolved.version == "3.10.19"
    (notice,) = resolved.notices
    assert notice.title == (
        "Python 3.10 reached its end of life on 2026-10-31: builds asking for it fail from "
        "2027-02-01"
    )
    assert "no longer gets security fixes" in notice.body
    assert "grace period, which ends on 2027-01-31" in notice.body
    assert notice.body.endswith("Upgrade the app to Python 3.14 and write 3.14 in .python-version.")
    # The build repeats it at the end of the log.
    assert resolved.grace == notice
    # The warning names the upgrade already: no separate note about newer versions.
    assert resolved.hints == []


def test_grace_period_minors_are_listed_with_their_stop_date(manifest: Manifest) -> None:
    with pytest.raises(PythonVersionEol) as info:
        resolve(manifest, requested("3.9"), today=date(2026, 11, 30))
    assert "3.10 (3.10.19; end of life, builds stop on 2027-02-01)" in info.value.render()
    assert "3.11 (3.11.14)" in info.value.render()


@pytest.mark.parametrize("version", ["3.15", "3.16", "3.99.1", "4.0"])
def test_unknown_future_versions(manifest: Manifest, version: str) -> None:
    with pytest.raises(PythonVersionUnknown) as info:
        resolve(manifest, requested(version))
    message = rendered(info.value)
    assert f"Python {version} is not known" in message
    assert "3.14 (3.14.2)" in message


def test_warning_months_before_eol(manifest: Manifest) -> None:
    resolved = resolve(manifest, requested("3.10"), today=date(2026, 6, 1))
    (notice,) = resolved.notices
    assert notice.title == "Python 3.10 reaches its end of life on 2026-10-31"
    assert "grace period until 2027-01-31, and fail from 2027-02-01" in notice.body
    assert "Upgrade the app to Python 3.14" in notice.body
    assert ".python-version" in notice.body
    assert resolved.grace is None  # not past its end of life: said once, at the top
    assert resolved.hints == []


def test_warning_dates_come_from_the_manifest(manifest: Manifest) -> None:
    assert resolve(manifest, requested("3.10"), today=WARN_FROM_3_10).notices
    (on_the_day,) = resolve(manifest, requested("3.10"), today=EOL_3_10).notices
    assert on_the_day.title == "Python 3.10 reaches its end of life on 2026-10-31"
    before = resolve(manifest, requested("3.10"), today=WARN_FROM_3_10 - timedelta(days=1))
    assert before.notices == []
    assert before.grace is None


@pytest.mark.parametrize(
    ("origin", "fix"),
    [
        (VersionOrigin.PLATFORM_ENV, "set BP_PYTHON_VERSION=3.14."),
        (VersionOrigin.PYTHON_VERSION_FILE, "write 3.14 in .python-version."),
        (VersionOrigin.RUNTIME_TXT, "replace runtime.txt with a .python-version file containing"),
        (VersionOrigin.PIPFILE_LOCK, 'set python_version = "3.14" in the Pipfile'),
    ],
)
def test_end_of_life_fix_names_where_the_version_was_asked_for(
    manifest: Manifest, origin: VersionOrigin, fix: str
) -> None:
    resolved = resolve(manifest, requested("3.10", origin), today=date(2026, 11, 30))
    (notice,) = resolved.notices
    assert f"Upgrade the app to Python 3.14 and {fix}" in notice.body


def test_request_warnings_are_carried_over(manifest: Manifest) -> None:
    req = RequestedVersion(
        VersionOrigin.RUNTIME_TXT, "python-3.12", 3, 12, None, warnings=[Notice("t", "b")]
    )
    assert [n.title for n in resolve(manifest, req).notices] == ["t"]


# --- notes about newer versions ---------------------------------------------------------------


def test_an_older_patch_gets_one_line_naming_the_newer(manifest: Manifest) -> None:
    resolved = resolve(manifest, requested("3.12.3"))
    assert resolved.version == "3.12.3"
    patch_note, minor_note = resolved.hints
    assert patch_note.startswith("Note: Python 3.12.11 is the newest 3.12 release")
    assert "ask for 3.12" in patch_note
    assert minor_note == (
        "Note: Python 3.14 is the newest version this buildpack supports; this app asks for 3.12."
    )
    assert all("\n" not in hint for hint in resolved.hints)


def test_newest_patch_of_a_minor_gets_only_the_newer_minor_note(manifest: Manifest) -> None:
    for text in ("3.12", "3.12.11"):
        (hint,) = resolve(manifest, requested(text)).hints
        assert hint.startswith("Note: Python 3.14 is the newest version")


@pytest.mark.parametrize("text", ["3.14", "3.14.2"])
def test_newest_version_gets_no_note(manifest: Manifest, text: str) -> None:
    resolved = resolve(manifest, requested(text))
    assert resolved.hints == []
    assert resolved.notices == []


def test_default_suggests_a_python_version_file(manifest: Manifest) -> None:
    (hint,) = resolve(manifest, None).hints
    assert "Add a .python-version file containing 3.14" in hint
    assert "default" in hint


def spec(text: str) -> RequestedVersion:
    return RequestedVersion(VersionOrigin.REQUIRES_PYTHON, text, specifier=text)


@pytest.mark.parametrize(
    ("specifier", "expected"),
    [
        (">=3.11", "3.14.2"),
        (">=3.11,<3.13", "3.12.11"),
        ("~=3.12.0", "3.12.11"),
        ("==3.12.*", "3.12.11"),
        ("==3.12.3", "3.12.3"),
        ("<3.12", "3.11.14"),
        (">=3.8", "3.14.2"),
        ("!=3.14.*", "3.13.9"),
    ],
)
def test_requires_python_picks_newest_supported(
    manifest: Manifest, specifier: str, expected: str
) -> None:
    resolved = resolve(manifest, spec(specifier))
    assert resolved.version == expected
    assert resolved.origin is VersionOrigin.REQUIRES_PYTHON
    assert resolved.requested_display == specifier


def test_requires_python_skips_minors_whose_builds_stopped(manifest: Manifest) -> None:
    with pytest.raises(RequiresPythonUnsatisfiable):
        resolve(manifest, spec("<3.11"), today=BUILDS_STOP_3_10)
    in_grace = resolve(manifest, spec("<3.11"), today=date(2026, 11, 30))
    assert in_grace.version == "3.10.19"
    assert in_grace.grace is not None
    assert resolve(manifest, spec("<3.11"), today=TODAY).version == "3.10.19"


def test_requires_python_notes_a_newer_minor_once(manifest: Manifest) -> None:
    (hint,) = resolve(manifest, spec("==3.12.3")).hints
    assert hint.startswith("Note: Python 3.14 is the newest version")


@pytest.mark.parametrize("specifier", [">=3.15", "<3.10", "==3.12.5", ">=4"])
def test_requires_python_unsatisfiable(manifest: Manifest, specifier: str) -> None:
    with pytest.raises(RequiresPythonUnsatisfiable) as info:
        resolve(manifest, spec(specifier))
    message = rendered(info.value)
    assert specifier in message
    assert "3.12 (3.12.11)" in message


def test_requires_python_eol_warning(manifest: Manifest) -> None:
    resolved = resolve(manifest, spec("<3.11"), today=date(2026, 9, 1))
    (notice,) = resolved.notices
    assert "let requires-python in pyproject.toml allow 3.14" in notice.body


def test_no_release_for_target(manifest: Manifest) -> None:
    with pytest.raises(NoPythonForTarget) as info:
        resolve_version(None, manifest, "linux", "s390x", TODAY)
    assert "linux/s390x" in info.value.title


def test_read_then_resolve(tmp_path: Path, manifest: Manifest) -> None:
    write(tmp_path, ".python-version", "# the app's Python\n3.13\n")
    resolved = resolve(manifest, read_requested_version(AppSnapshot(tmp_path), {}))
    assert resolved.version == "3.13.9"
    assert resolved.origin is VersionOrigin.PYTHON_VERSION_FILE


def test_shipped_manifest_resolves_every_minor() -> None:
    shipped = Manifest.load(Path(__file__).resolve().parents[2] / "python-versions.toml")
    today = date(2026, 6, 1)
    for minor in ("3.10", "3.11", "3.12", "3.13", "3.14"):
        for arch in ("amd64", "arm64"):
            resolved = resolve_version(requested(minor), shipped, "linux", arch, today)
            assert resolved.version.startswith(minor + ".")
    assert resolve_version(None, shipped, "linux", "arm64", today).version.startswith("3.14.")


def test_shipped_policy_keeps_3_10_building_in_its_grace_period() -> None:
    shipped = Manifest.load(Path(__file__).resolve().parents[2] / "python-versions.toml")
    resolved = resolve_version(requested("3.10"), shipped, "linux", "amd64", date(2026, 11, 30))
    assert resolved.version.startswith("3.10.")
    assert resolved.grace is not None
    assert "2026-10-31" in resolved.grace.title and "2027-02-01" in resolved.grace.title
    with pytest.raises(PythonVersionEol):
        resolve_version(requested("3.10"), shipped, "linux", "amd64", date(2027, 2, 1))
