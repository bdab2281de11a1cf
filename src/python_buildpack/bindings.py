"""Private package indexes and corporate CAs, from service bindings, without leaking them.

Two binding types (servicebinding.io layout: `<bindings root>/<name>/type` plus one file per
entry; the root is found as for dependency mappings, see `distributions.bindings_root`):

- `ca-certificates`: every other entry is a PEM file of one or more CA certificates. They are
  trusted, on top of the build image's own CAs, by every tool run of the build (pip, uv,
  Poetry, Pipenv) through `PIP_CERT`, `SSL_CERT_FILE` and `REQUESTS_CA_BUNDLE`.
- `pip`: a `pip.conf` (given to pip and Pipenv as `PIP_CONFIG_FILE`) and/or a `.netrc` (`NETRC`,
  which pip, uv and Poetry read for index credentials).

Invariants:
- `read_bindings` (called by `decide()`) validates everything before any layer is touched: an
  unknown entry, an unreadable file, a certificate that is not PEM or a `pip.conf`/`.netrc` that
  does not parse is an `InvalidBinding` error (one subclass per failure), which never quotes a
  file's contents.
- Secret files are never copied: the tools read them where the platform mounted them. The only
  file the build writes is the combined CA bundle (public certificates), in a temporary
  directory outside the layers that is removed when the build process ends. Nothing of a
  binding reaches a layer, its metadata, a layer env file or the launch env: the variables are
  added to the env of the build's own tool runs only.
- The logins and passwords of `.netrc` and the userinfo of URLs in `pip.conf` are masked in
  the output of every tool run given these variables (`redact.secrets_in_tool_files`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .distributions import bindings_root
from .errors import (
    BindingCertificateNotPem,
    BindingEntryNotAFile,
    BindingEntryUnknown,
    BindingFileNotUtf8,
    BindingFileTooLarge,
    BindingFileUnreadable,
    BindingHasNoCertificate,
    BindingHasNoPipFile,
    BindingNetrcInvalid,
    BindingPipConfInvalid,
    BindingPipFileTwice,
    BindingsDirUnreadable,
)

# `ssl`, `configparser`, `netrc` and `tempfile` are imported where a binding needs them: every
# build calls this module, few have bindings, and `ssl` alone costs a warm rebuild ~10 ms.

CA_TYPE = "ca-certificates"
PIP_TYPE = "pip"
# Entries of any binding that are not files for us (servicebinding.io reserves both).
RESERVED = frozenset({"type", "provider"})
PIP_FILES = {
    "pip.conf": "PIP_CONFIG_FILE",
    ".netrc": "NETRC",
}
MAX_FILE_BYTES = 1024 * 1024
PEM_BLOCK = re.compile(
    r"-----BEGIN CERTIFICATE-----\s*(?P<body>[A-Za-z0-9+/=\s]+?)\s*-----END CERTIFICATE-----"
)
# The build image's own CA bundle, by distribution family, kept alongside the bound CAs so the
# public index (and anything else) still verifies.
SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",  # Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",  # openSUSE
    "/etc/ssl/cert.pem",
)
# The variables tools read for a CA bundle: pip (and Pipenv through it), Python's ssl and uv,
# requests (Poetry, Pipenv's own lookups).
CA_VARIABLES = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


@dataclass(frozen=True)
class CaCertificate:
    binding: str
    path: Path
    pem: str  # the certificate blocks only, normalised


@dataclass(frozen=True)
class BuildBindings:
    """What the build's tool runs are given: decided (and validated) up front."""

    certificates: tuple[CaCertificate, ...] = ()
    # PIP_CONFIG_FILE / NETRC → (binding name, file path)
    pip_files: Mapping[str, tuple[str, Path]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.certificates and not self.pip_files

    def describe(self) -> list[str]:
        """For the log: which binding gives what (never the contents)."""
        lines = []
        by_binding: dict[str, int] = {}
        for cert in self.certificates:
            by_binding[cert.binding] = by_binding.get(cert.binding, 0) + cert.pem.count("BEGIN")
        for name, count in by_binding.items():
            plural = "s" if count != 1 else ""
            lines.append(f"CA certificates: {count} certificate{plural} from binding '{name}'")
        for variable, (name, path) in self.pip_files.items():
            lines.append(f"{path.name} from binding '{name}' (as {variable})")
        return lines


def read_bindings(platform_dir: Path, environ: Mapping[str, str]) -> BuildBindings:
    root = bindings_root(platform_dir, environ)
    try:
        bindings = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return BuildBindings()
    except OSError as error:
        raise BindingsDirUnreadable(str(root), error.strerror or str(error)) from error
    certificates: list[CaCertificate] = []
    pip_files: dict[str, tuple[str, Path]] = {}
    for binding in bindings:
        kind = _binding_type(binding)
        if kind == CA_TYPE:
            certificates += _read_ca_binding(binding)
        elif kind == PIP_TYPE:
            for variable, path in _read_pip_binding(binding).items():
                if variable in pip_files:
                    raise BindingPipFileTwice(binding.name, pip_files[variable][0], path.name)
                pip_files[variable] = (binding.name, path)
    return BuildBindings(tuple(certificates), pip_files)


def _binding_type(binding: Path) -> str | None:
    try:
        return (binding / "type").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _entries(binding: Path) -> list[Path]:
    # Kubernetes mounts a secret's keys as links into a `..data` directory: skip those links'
    # targets (names starting with `..`), not dot files like `.netrc`.
    return sorted(
        p for p in binding.iterdir() if p.name not in RESERVED and not p.name.startswith("..")
    )


def _read_text(binding: Path, entry: Path) -> str:
    if not entry.is_file():
        raise BindingEntryNotAFile(binding.name, entry.name)
    try:
        with entry.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise BindingFileUnreadable(
            binding.name, entry.name, error.strerror or str(error)
        ) from error
    if len(data) > MAX_FILE_BYTES:
        raise BindingFileTooLarge(binding.name, entry.name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BindingFileNotUtf8(binding.name, entry.name) from None


def _read_ca_binding(binding: Path) -> list[CaCertificate]:
    import ssl

    found = []
    for entry in _entries(binding):
        text = _read_text(binding, entry)
        blocks = [match.group(0) for match in PEM_BLOCK.finditer(text)]
        valid = True
        for block in blocks:
            try:
                # A certificate is a DER SEQUENCE: this catches text that only looks like PEM.
                valid = valid and ssl.PEM_cert_to_DER_cert(block)[:1] == b"\x30"
            except ValueError:
                valid = False
        if not blocks or not valid:
            raise BindingCertificateNotPem(binding.name, entry.name)
        found.append(CaCertificate(binding.name, entry, "\n".join(blocks) + "\n"))
    if not found:
        raise BindingHasNoCertificate(binding.name)
    return found


def _read_pip_binding(binding: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for entry in _entries(binding):
        variable = PIP_FILES.get(entry.name)
        if variable is None:
            raise BindingEntryUnknown(binding.name, entry.name)
        text = _read_text(binding, entry)
        if entry.name == "pip.conf":
            _check_pip_conf(binding, text)
        else:
            _check_netrc(binding, entry)
        files[variable] = entry
    if not files:
        raise BindingHasNoPipFile(binding.name)
    return files


def _check_pip_conf(binding: Path, text: str) -> None:
    import configparser

    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text)
    except configparser.Error as error:
        # The parser's message quotes the offending line, which may hold a password.
        raise BindingPipConfInvalid(binding.name, getattr(error, "lineno", None)) from None


def _check_netrc(binding: Path, entry: Path) -> None:
    import netrc

    try:
        netrc.netrc(str(entry))
    except netrc.NetrcParseError as error:
        raise BindingNetrcInvalid(binding.name, error.lineno) from None


def prepare_tool_credentials(
    bindings: BuildBindings,
    cleanup: contextlib.ExitStack,
    *,
    system_bundles: Sequence[str] = SYSTEM_BUNDLES,
) -> dict[str, str]:
    """The variables the build's tool runs need for the bound CAs and pip files.

    The CA bundle (the image's CAs, then the bound ones) goes to a fresh temporary directory,
    removed when `cleanup` closes (the build's end, failed or not): never a layer, so never
    cached or exported.
    """
    env = {variable: str(path) for variable, (_, path) in bindings.pip_files.items()}
    if bindings.certificates:
        import tempfile

        temporary = tempfile.TemporaryDirectory(prefix="python-buildpack-ca-")
        directory = Path(cleanup.enter_context(temporary))
        bundle = directory / "ca-bundle.pem"
        parts = []
        for candidate in system_bundles:
            try:
                parts.append(Path(candidate).read_text(encoding="utf-8").rstrip("\n") + "\n")
                break
            except (OSError, UnicodeDecodeError):
                continue
        parts += [cert.pem for cert in bindings.certificates]
        bundle.write_text("".join(parts), encoding="utf-8")
        env.update(dict.fromkeys(CA_VARIABLES, str(bundle)))
    return env
