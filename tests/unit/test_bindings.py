"""`ca-certificates` and `pip` service bindings: what is read, what is refused, what tools get."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import pytest

from python_buildpack.bindings import (
    CA_VARIABLES,
    BuildBindings,
    prepare_tool_credentials,
    read_bindings,
)
from python_buildpack.errors import (
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
    InvalidBinding,
)
from python_buildpack.redact import secrets_in_env

SECRET = "s3cret-Pa55word"


@pytest.fixture(scope="module")
def ca_pem(tmp_path_factory: pytest.TempPathFactory) -> str:
    work = tmp_path_factory.mktemp("ca")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=Test Corp CA", "-keyout", work / "key.pem", "-out", work / "ca.pem"],
        check=True, capture_output=True,
    )  # fmt: skip
    return (work / "ca.pem").read_text()


def bind(platform: Path, name: str, entries: dict[str, str]) -> Path:
    directory = platform / "bindings" / name
    directory.mkdir(parents=True)
    for key, value in entries.items():
        (directory / key).write_text(value)
    return directory


def test_no_bindings_dir_is_nothing(tmp_path: Path) -> None:
    bindings = read_bindings(tmp_path, {})
    assert bindings.empty
    with contextlib.ExitStack() as cleanup:
        assert prepare_tool_credentials(bindings, cleanup) == {}


def test_ca_binding_certificates_are_bundled_after_the_system_cas(
    tmp_path: Path, ca_pem: str
) -> None:
    bind(tmp_path, "corp-ca", {"type": "ca-certificates", "a.pem": ca_pem, "b.crt": ca_pem * 2})
    bind(tmp_path, "other", {"type": "something-else", "x": "not ours"})
    bindings = read_bindings(tmp_path, {})
    assert [c.path.name for c in bindings.certificates] == ["a.pem", "b.crt"]
    assert bindings.describe() == ["CA certificates: 3 certificates from binding 'corp-ca'"]

    system = tmp_path / "system.pem"
    system.write_text("# the image's CAs\n")
    with contextlib.ExitStack() as cleanup:
        env = prepare_tool_credentials(
            bindings, cleanup, system_bundles=[str(tmp_path / "none"), str(system)]
        )
        assert set(env) == set(CA_VARIABLES)
        bundle = Path(env["SSL_CERT_FILE"])
        # Outside the platform and layers dirs: a temp dir of its own.
        assert not bundle.is_relative_to(tmp_path)
        text = bundle.read_text()
        assert text.startswith("# the image's CAs\n")
        assert text.count("BEGIN CERTIFICATE") == 3
    # Gone with the build, failed or not: the process may end without its atexit handlers.
    assert not bundle.parent.exists()


def test_pip_binding_files_are_given_where_they_are(tmp_path: Path) -> None:
    netrc = f"machine index.example.com login builder password {SECRET}\n"
    conf = "[global]\nindex-url = https://builder:" + SECRET + "@index.example.com/simple\n"
    binding = bind(tmp_path, "index", {"type": "pip", ".netrc": netrc, "pip.conf": conf})
    bindings = read_bindings(tmp_path, {})
    with contextlib.ExitStack() as cleanup:
        env = prepare_tool_credentials(bindings, cleanup)
    assert env == {"NETRC": str(binding / ".netrc"), "PIP_CONFIG_FILE": str(binding / "pip.conf")}
    assert bindings.describe() == [
        ".netrc from binding 'index' (as NETRC)",
        "pip.conf from binding 'index' (as PIP_CONFIG_FILE)",
    ]
    # Tool output run with this env gets the .netrc and pip.conf credentials masked.
    assert {SECRET, "builder"} <= set(secrets_in_env(env))


def test_bindings_root_from_service_binding_root(tmp_path: Path) -> None:
    bind(
        tmp_path / "elsewhere", "index", {"type": "pip", ".netrc": "machine a login b password c\n"}
    )
    bindings = read_bindings(
        tmp_path, {"SERVICE_BINDING_ROOT": str(tmp_path / "elsewhere/bindings")}
    )
    assert "NETRC" in bindings.pip_files


def test_kubernetes_secret_links_are_skipped(tmp_path: Path) -> None:
    binding = bind(tmp_path, "index", {"type": "pip"})
    data = binding / "..2026_11_30"
    data.mkdir()
    (data / ".netrc").write_text("machine a login b password c\n")
    (binding / "..data").symlink_to(data.name)
    (binding / ".netrc").symlink_to("..data/.netrc")
    assert read_bindings(tmp_path, {}).pip_files["NETRC"][1] == binding / ".netrc"


@pytest.mark.parametrize(
    ("entries", "error", "words"),
    [
        (
            {"type": "ca-certificates", "ca.pem": "hello"},
            BindingCertificateNotPem,
            ["ca.pem is not a PEM certificate"],
        ),
        (
            {
                "type": "ca-certificates",
                "ca.pem": "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n",
            },
            BindingCertificateNotPem,
            ["ca.pem is not a PEM certificate"],
        ),
        ({"type": "ca-certificates"}, BindingHasNoCertificate, ["holds no certificate file"]),
        (
            {"type": "pip", "settings.ini": "x"},
            BindingEntryUnknown,
            ["'settings.ini'", "pip.conf and/or a .netrc"],
        ),
        ({"type": "pip"}, BindingHasNoPipFile, ["holds no pip.conf or .netrc"]),
        (
            {"type": "pip", "pip.conf": f"index-url = https://u:{SECRET}@x/simple\n"},
            BindingPipConfInvalid,
            ["line 1"],
        ),
        (
            {"type": "pip", ".netrc": f"machine x login u password {SECRET} bogus\n"},
            BindingNetrcInvalid,
            [".netrc"],
        ),
        (
            {"type": "pip", "pip.conf": "[global]\n" + "#" * (1024 * 1024)},
            BindingFileTooLarge,
            ["broken/pip.conf is larger than 1 MiB"],
        ),
    ],
)
def test_invalid_bindings_are_clear_errors_without_contents(
    tmp_path: Path, entries: dict[str, str], error: type[InvalidBinding], words: list[str]
) -> None:
    bind(tmp_path, "broken", entries)
    with pytest.raises(error) as caught:
        read_bindings(tmp_path, {})
    assert caught.value.title == "Invalid service binding 'broken'"
    message = str(caught.value)
    assert "'broken'" in message
    for word in words:
        assert word in message
    assert SECRET not in message


def test_unreadable_and_binary_files(tmp_path: Path) -> None:
    binding = bind(tmp_path, "ca", {"type": "ca-certificates"})
    (binding / "ca.der").write_bytes(b"\x30\x82\xff\xfe")
    with pytest.raises(BindingFileNotUtf8, match=r"ca/ca\.der is not UTF-8 text"):
        read_bindings(tmp_path, {})
    (binding / "ca.der").unlink()
    (binding / "dir.pem").mkdir()
    with pytest.raises(BindingEntryNotAFile, match=r"ca/dir\.pem is not a regular file"):
        read_bindings(tmp_path, {})


def test_two_netrc_files_are_refused(tmp_path: Path) -> None:
    bind(tmp_path, "a", {"type": "pip", ".netrc": "machine a login b password c\n"})
    bind(tmp_path, "b", {"type": "pip", ".netrc": "machine a login b password c\n"})
    with pytest.raises(BindingPipFileTwice, match=r"binding 'a' already gives a \.netrc") as caught:
        read_bindings(tmp_path, {})
    assert caught.value.title == "Invalid service binding 'b'"
    assert "Merge the two .netrc files" in caught.value.fix


def test_unreadable_bindings_name_the_reason_and_how_to_fix_it() -> None:
    # Running as root, a test can't make a file unreadable: the wording is checked here.
    error = BindingFileUnreadable("corp", "pip.conf", "Permission denied")
    assert "corp/pip.conf can't be read (Permission denied)." in error.detail
    assert "readable by the build user" in error.fix
    root = BindingsDirUnreadable("/platform/bindings", "Permission denied")
    assert "the bindings directory can't be read (Permission denied)" in root.detail
    assert root.fix.strip()


def test_build_bindings_default_is_empty() -> None:
    assert BuildBindings().empty
