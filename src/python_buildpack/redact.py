"""Keeping credentials out of build logs and image layers."""

from __future__ import annotations

import re
from collections.abc import Mapping
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
    return sorted(found, key=len, reverse=True)
