"""Keeping credentials out of build logs and image layers, and quoting what the user gave us.

Everything the buildpack prints that comes from the app's files or the platform env goes
through `quote` (one value) or `quote_list` (several): control characters are escaped, long
values and long lists are cut short, and credentials are masked: the userinfo of URLs, the
values of secret-looking variables (`*_TOKEN`, `*PASSWORD*`, ...) and anything `register_secrets`
was told about. `Log` applies `mask` and `sanitize` once more to whole error messages, as a net.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")
SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE|AUTH(?!OR)|_PAT$|_KEY$",
    re.IGNORECASE,
)
# Shorter values are not worth masking: replacing "abc" everywhere would garble the log.
MIN_SECRET_LENGTH = 4
QUOTE_LIMIT = 200
LIST_LIMIT = 5
_known: set[str] = set()


def redact_urls(text: str) -> str:
    """`https://user:secret@host` → `https://user:***@host`; a lone token becomes `***`."""

    def hide(match: re.Match[str]) -> str:
        user, sep, _ = match["userinfo"].partition(":")
        return f"{match['scheme']}{user}:***@" if sep else f"{match['scheme']}***@"

    return URL_USERINFO.sub(hide, text)


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def secrets_in_env(environ: Mapping[str, str]) -> list[str]:
    """Passwords and tokens in URL-valued variables, and the values of secret-looking
    variables, to be masked wherever they show up."""
    from urllib.parse import unquote, urlsplit

    found: set[str] = set()
    for name, value in environ.items():
        if is_secret_name(name) and len(value.strip()) >= MIN_SECRET_LENGTH:
            found.add(value.strip())
        for word in value.split():
            if "://" not in word or "@" not in word:
                continue
            try:
                parts = urlsplit(word)
                password, username = parts.password, parts.username
            except ValueError:
                continue
            for secret in (password, username if not password else None):
                if secret and len(secret) >= MIN_SECRET_LENGTH:
                    found.update({secret, unquote(secret)})
    found.update(secrets_in_tool_files(environ))
    return sorted(found, key=len, reverse=True)


def register_secrets(environ: Mapping[str, str]) -> None:
    """Remember the secrets of the build's environment, so `mask` hides them everywhere."""
    _known.update(secrets_in_env(environ))


def mask(text: str) -> str:
    text = redact_urls(text)
    for secret in sorted(_known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return text


def _escape_char(char: str) -> str:
    code = ord(char)
    if char == "\n":
        return "\\n"
    if char == "\t":
        return "\\t"
    if char == "\r":
        return "\\r"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """Control and invisible formatting characters as `\\xNN`/`\\uNNNN`: a quoted value never
    moves the cursor, rings a bell or changes the terminal's colours."""
    return "".join(c if c.isprintable() else _escape_char(c) for c in text)


def quote(text: str, limit: int = QUOTE_LIMIT, *, secret_name: str | None = None) -> str:
    """`text` safe to print inside a message, in quotes."""
    if secret_name is not None and is_secret_name(secret_name):
        return "'***' (hidden: the variable's name says it is a secret)"
    shown = escape(mask(text))
    if len(shown) > limit:
        return f"'{shown[:limit]}' … ({len(shown) - limit} more characters)"
    return f"'{shown}'"


def quote_list(
    items: Iterable[str], first: int = LIST_LIMIT, limit: int = QUOTE_LIMIT
) -> list[str]:
    """The first few items (each made safe, unquoted) and `and N more`."""
    values = list(items)
    shown = [escape(mask(item))[:limit] for item in values[:first]]
    if len(values) > first:
        shown.append(f"and {len(values) - first} more")
    return shown


def sanitize(text: str, max_lines: int = 120, max_line: int = 2000) -> str:
    """A whole message made safe: masked, control characters (other than newlines and tabs)
    escaped, and at most `max_lines` lines of at most `max_line` characters."""
    lines = []
    for line in mask(text).split("\n"):
        line = "".join(c if c == "\t" or c.isprintable() else _escape_char(c) for c in line)
        if len(line) > max_line:
            line = f"{line[:max_line]} … ({len(line) - max_line} more characters)"
        lines.append(line)
    if len(lines) > max_lines:
        lines = [*lines[:max_lines], f"… ({len(lines) - max_lines} more lines)"]
    return "\n".join(lines)


# --- credentials in the files a `pip` binding gives the tools (see bindings.py) -------------


def secrets_in_tool_files(environ: Mapping[str, str]) -> set[str]:
    """Logins and passwords in the `.netrc` at `NETRC`, credentials in the URLs of the
    `pip.conf` at `PIP_CONFIG_FILE`: what the tools may echo, so what the log must mask."""
    # Imported here: this module is on detect's path, which only needs `quote` and `mask`.
    import configparser
    import netrc

    found: set[str] = set()
    if environ.get("NETRC"):
        try:
            hosts = list(netrc.netrc(environ["NETRC"]).hosts.values())
        except (OSError, netrc.NetrcParseError):
            hosts = []
        for entry in hosts:
            found.update(value for value in entry if value and len(value) >= 4)
    if environ.get("PIP_CONFIG_FILE"):
        parser = configparser.RawConfigParser()
        try:
            parser.read_string(Path(environ["PIP_CONFIG_FILE"]).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, configparser.Error):
            return found
        values = {
            f"{section}.{key}": value
            for section in parser.sections()
            for key, value in parser.items(section)
        }
        found.update(secrets_in_env(values))
    return found
