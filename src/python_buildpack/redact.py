"""Keeping credentials out of build logs and image layers."""

from __future__ import annotations

import configparser
import netrc
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


def redact_urls(text: str) -> str:
    """`https://user:secret@host` → `https://user:***@host`; a lone token becomes `***`."""

    def hide(match: re.Match[str]) -> str:
        user, sep, _ = match["userinfo"].partition(":")
        return f"{match['scheme']}{user}:***@" if sep else f"{match['scheme']}***@"

    return URL_USERINFO.sub(hide, text)


def secrets_in_env(environ: Mapping[str, str]) -> list[str]:
    """Passwords and tokens in URL-valued variables, to be masked wherever they show up."""
    found: set[str] = set()
    for value in environ.values():
        for word in value.split():
            if "://" not in word or "@" not in word:
                continue
            parts = urlsplit(word)
            for secret in (parts.password, parts.username if not parts.password else None):
                if secret and len(secret) >= 4:
                    found.update({secret, unquote(secret)})
    found.update(secrets_in_tool_files(environ))
    return sorted(found, key=len, reverse=True)


# --- credentials in the files a `pip` binding gives the tools (see bindings.py) -------------


def secrets_in_tool_files(environ: Mapping[str, str]) -> set[str]:
    """Logins and passwords in the `.netrc` at `NETRC`, credentials in the URLs of the
    `pip.conf` at `PIP_CONFIG_FILE`: what the tools may echo, so what the log must mask."""
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
