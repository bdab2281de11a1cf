"""A throwaway certificate authority and a server certificate for 127.0.0.1, made with openssl.

    certs = make_certificates(tmp_path)
    certs.ca_pem              # the CA certificate (PEM): what a `ca-certificates` binding holds
    certs.server_context()    # an ssl.SSLContext for FileServer(tls=...)

Made fresh for each test session (a 2048-bit RSA key takes well under a second), with the
extensions strict verifiers want (rustls in uv, Python 3.13's VERIFY_X509_STRICT): a CA with
keyCertSign, a leaf with subjectAltName IP:127.0.0.1, serverAuth and key identifiers.
"""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

LEAF_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


@dataclass(frozen=True)
class Certificates:
    directory: Path

    @property
    def ca_pem(self) -> str:
        return (self.directory / "ca.pem").read_text()

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.directory / "server.pem", self.directory / "server.key")
        return context


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def make_certificates(directory: Path) -> Certificates:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, leaf = (
        directory / name for name in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem")
    )
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=Test Corp Root CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", ca_key, "-out", ca,
    )  # fmt: skip
    _openssl(
        "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", key, "-out", csr,
    )  # fmt: skip
    extensions = directory / "leaf.ext"
    extensions.write_text(LEAF_EXTENSIONS)
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "2",
        "-extfile", extensions, "-out", leaf,
    )  # fmt: skip
    return Certificates(directory)
