"""Finding and fetching the pinned wheel of a packaging tool (pip, uv) without running pip.

`requirements/<tool>.txt` pins the tool's version and the sha256 of every file it may be
installed from. The wheel is looked up where pip would look (`PIP_FIND_LINKS` directories or
pages, then `PIP_INDEX_URL`, default PyPI, then `PIP_EXTRA_INDEX_URL`), through the PEP 503
"simple" pages, whose links carry each file's sha256. Only a file whose hash is pinned is
considered, the best one for this platform is chosen (`packaging.tags` order) and its bytes are
hashed again after the download: an index can hide the tool, never change it.

`PIP_CERT` and `PIP_TRUSTED_HOST` apply as they would for pip; credentials in an index URL
(`https://user:token@host/simple`), or else the `.netrc` entry of its host (the file `NETRC`
names, e.g. a `pip` binding's), are sent as Basic auth to that host only.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import html
import netrc
import re
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, unquote, urljoin, urlsplit, urlunsplit

from packaging.tags import Tag, sys_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from .errors import ToolDownloadFailed, ToolWheelChecksumMismatch, ToolWheelNotFound
from .redact import redact_urls

DEFAULT_INDEX = "https://pypi.org/simple"
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([A-Za-z0-9_.+!-]+)$")
_HASH = re.compile(r"^--hash=sha256:([0-9a-f]{64})$")
_ANCHOR = re.compile(r"<a\s[^>]*?href\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
_ATTEMPTS = 3
_TIMEOUT = 30.0


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: frozenset[str]


@dataclass(frozen=True)
class IndexSettings:
    find_links: tuple[str, ...]
    indexes: tuple[str, ...]
    trusted_hosts: frozenset[str]
    cert: str | None
    netrc: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> IndexSettings:
        index = environ.get("PIP_INDEX_URL", "").strip() or DEFAULT_INDEX
        return cls(
            find_links=tuple(environ.get("PIP_FIND_LINKS", "").split()),
            indexes=(index, *environ.get("PIP_EXTRA_INDEX_URL", "").split()),
            trusted_hosts=frozenset(environ.get("PIP_TRUSTED_HOST", "").split()),
            cert=environ.get("PIP_CERT", "").strip() or None,
            netrc=environ.get("NETRC", "").strip() or None,
        )


@dataclass(frozen=True)
class WheelLink:
    url: str
    filename: str
    sha256: str | None  # None: the source gave no hash; the download is checked against all pins


def read_pin(requirements: Path, name: str) -> Pin:
    """The `name==version --hash=sha256:...` entry of a hash-pinned requirements file."""
    text = requirements.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        match = _PIN.match(words[0].split(";", 1)[0])
        if match and canonicalize_name(match[1]) == canonicalize_name(name):
            hashes = frozenset(m[1] for word in words[1:] if (m := _HASH.match(word)))
            if hashes:
                return Pin(name, match[2], hashes)
    raise RuntimeError(f"{requirements} does not pin {name} with a version and sha256 hashes")


def find_wheel(pin: Pin, settings: IndexSettings, tags: Iterable[Tag] | None = None) -> WheelLink:
    """The pinned wheel of `pin` that suits this platform best, from the first place that has
    one (find-links, then the indexes in order)."""
    priority = {tag: rank for rank, tag in enumerate(tags if tags is not None else sys_tags())}
    searched = []
    for source in [*settings.find_links, *settings.indexes]:
        is_index = source not in settings.find_links
        page = source.rstrip("/") + f"/{canonicalize_name(pin.name)}/" if is_index else source
        problems: list[str] = []
        best: tuple[int, WheelLink] | None = None
        for link in _links(page, settings, pin, is_index, problems):
            rank = _rank(link.filename, pin, priority)
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, link)
        if best is not None:
            return best[1]
        searched.append(redact_urls(page) + "".join(f" ({p})" for p in problems))
    raise ToolWheelNotFound(pin.name, pin.version, searched)


def fetch_wheel(link: WheelLink, pin: Pin, dest_dir: Path, settings: IndexSettings) -> Path:
    """Download `link` into `dest_dir`; the file is written only once its sha256 is pinned."""
    data = _read(link.url, settings, pin.name)
    actual = hashlib.sha256(data).hexdigest()
    if actual not in pin.hashes or (link.sha256 is not None and actual != link.sha256):
        raise ToolWheelChecksumMismatch(redact_urls(link.url), sorted(pin.hashes), actual)
    dest = dest_dir / link.filename
    dest.write_bytes(data)
    return dest


@contextlib.contextmanager
def pinned_wheel(requirements: Path, name: str, environ: Mapping[str, str]) -> Iterator[Path]:
    """`name`'s wheel as `requirements` pins it, found where `environ`'s index settings say
    (the steps above in one), in a temporary directory that goes with the block."""
    pin = read_pin(requirements, name)
    settings = IndexSettings.from_environ(environ)
    link = find_wheel(pin, settings)
    with tempfile.TemporaryDirectory(prefix=f"{name}-wheel-") as tmp:
        yield fetch_wheel(link, pin, Path(tmp), settings)


def _rank(filename: str, pin: Pin, priority: Mapping[Tag, int]) -> int | None:
    try:
        name, version, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    if name != canonicalize_name(pin.name) or str(version) != pin.version:
        return None
    ranks = [priority[tag] for tag in tags if tag in priority]
    return min(ranks) if ranks else None


def _links(
    page: str, settings: IndexSettings, pin: Pin, is_index: bool, problems: list[str]
) -> Iterator[WheelLink]:
    """The wheels a find-links directory or an index page offers whose hash is pinned."""
    parts = urlsplit(page)
    local = Path(unquote(parts.path)) if parts.scheme in ("", "file") else None
    if local is not None and is_index:
        page = (local / "index.html").as_uri()  # a local index is a tree of directories
    elif local is not None and local.is_dir():
        # A local find-links directory: no hashes to read, so hash the candidates.
        for path in sorted(Path(unquote(parts.path)).glob("*.whl")):
            if canonicalize_name(path.name.split("-")[0]) == canonicalize_name(pin.name):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                if digest in pin.hashes:
                    yield WheelLink(path.as_uri(), path.name, digest)
        return
    try:
        text = _read(page, settings, pin.name).decode("utf-8", "replace")
    except ToolDownloadFailed as error:
        # A source that lacks the project (404) or is down: pip would go on to the next one.
        problems.append(error.reason)
        return
    for href in _ANCHOR.findall(text):
        url = urljoin(page, html.unescape(href))
        file_url, _, fragment = url.partition("#")
        filename = unquote(urlsplit(file_url).path.rsplit("/", 1)[-1])
        sha256 = fragment[len("sha256=") :] if fragment.startswith("sha256=") else None
        if sha256 is None or sha256 in pin.hashes:
            yield WheelLink(file_url, filename, sha256)


def _read(url: str, settings: IndexSettings, name: str) -> bytes:
    parts = urlsplit(url)
    if parts.scheme in ("", "file"):
        try:
            return Path(unquote(parts.path)).read_bytes()
        except OSError as error:
            raise ToolDownloadFailed(name, url, error.strerror or str(error)) from error
    shown = redact_urls(url)
    headers = {"User-Agent": "python-buildpack"}
    request = urllib.request.Request(url, headers=headers)
    secret = None
    if parts.username is not None:
        host = parts.netloc.rpartition("@")[2]
        request = urllib.request.Request(urlunsplit(parts._replace(netloc=host)), headers=headers)
        secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    else:
        secret = _netrc_secret(settings.netrc, parts.hostname)
    if secret is not None:
        # Unredirected: a redirect to another host never gets the credentials.
        request.add_unredirected_header(
            "Authorization", "Basic " + base64.b64encode(secret.encode()).decode("ascii")
        )
    context = _ssl_context(parts, settings)
    reason = ""
    for attempt in range(_ATTEMPTS):
        if attempt:
            time.sleep(2 ** (attempt - 1))
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT, context=context) as response:
                data: bytes = response.read()
                return data
        except urllib.error.HTTPError as error:
            reason = f"HTTP {error.code} {error.reason}".rstrip()
            error.close()
            if error.code < 500 and error.code not in (408, 429):
                break
        except (urllib.error.URLError, OSError) as error:
            reason = str(getattr(error, "reason", error))
    raise ToolDownloadFailed(name, shown, reason)


def _netrc_secret(path: str | None, hostname: str | None) -> str | None:
    """`login:password` of the `.netrc` entry for `hostname`, as pip (requests) would send it."""
    if path is None or hostname is None:
        return None
    try:
        entry = netrc.netrc(path).authenticators(hostname)
    except (OSError, netrc.NetrcParseError):
        return None  # the binding was checked up front; a file gone since is no credentials
    if entry is None:
        return None
    login, _, password = entry
    return f"{login}:{password or ''}"


def _ssl_context(parts: SplitResult, settings: IndexSettings) -> ssl.SSLContext | None:
    """The TLS settings for an https URL, None for plain http (which has none to load)."""
    if parts.scheme != "https":
        return None
    host = parts.netloc.rpartition("@")[2]
    trusted = host in settings.trusted_hosts or parts.hostname in settings.trusted_hosts
    return _context(trusted, settings.cert)


@functools.cache
def _context(trusted: bool, cafile: str | None) -> ssl.SSLContext:
    # Made once per build: loading the CA store takes about 20 ms, and the index page and the
    # wheel (of pip and uv alike) are read with the same settings.
    if trusted:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=cafile)
