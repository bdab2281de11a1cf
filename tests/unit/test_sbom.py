"""The CycloneDX SBOMs of the python and venv layers, checked against the CycloneDX schema."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from python_buildpack.cnb.layers import Layers
from python_buildpack.cnb.models import LayerTypes
from python_buildpack.dist_info import read_installed
from python_buildpack.sbom import public_url, python_sbom, venv_sbom

SHA = "ab" * 32


@functools.cache
def validator() -> JsonStrictValidator:
    return JsonStrictValidator(SchemaVersion.V1_6)


def assert_valid_cyclonedx(content: bytes) -> dict[str, Any]:
    """Strict validation against the CycloneDX 1.6 JSON schema (cyclonedx-python-lib)."""
    errors = validator().validate_str(content.decode())
    assert errors is None, errors
    data: dict[str, Any] = json.loads(content)
    return data


def dist_info(site: Path, name: str, version: str, *headers: str) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.4", f"Name: {name}", f"Version: {version}", *headers]
    (info / "METADATA").write_text("\n".join(lines) + "\n\nLong description\nover lines.\n")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "venv" / "lib" / "python3.13" / "site-packages"
    site.mkdir(parents=True)
    dist_info(
        site,
        "Flask",
        "3.1.3",
        "Summary: A simple framework for building complex web applications.",
        "License-Expression: BSD-3-Clause",
        "Requires-Dist: Werkzeug>=3.1",
        "Requires-Dist: click>=8.1.3",
        "Requires-Dist: importlib-metadata>=3.6; python_version < '3.10'",
        "Provides-Extra: async",
        "Requires-Dist: asgiref>=3.2; extra == 'async'",
        "Requires-Dist: python-dotenv; extra == 'dotenv'",
    )
    dist_info(
        site, "Werkzeug", "3.1.9", "License: BSD-3-Clause", "Requires-Dist: MarkupSafe>=2.1.1"
    )
    dist_info(
        site,
        "MarkupSafe",
        "3.0.4",
        "License: Copyright 2010 Pallets\n        Redistribution and use in source ...",
        "Classifier: License :: OSI Approved :: BSD License",
        "Classifier: Programming Language :: Python",
    )
    dist_info(site, "click", "8.5.1")  # declares no license
    dist_info(site, "importlib_metadata", "8.0.0")  # installed, but flask's marker says no
    dist_info(site, "asgiref", "3.13.0")  # an extra flask provides
    dist_info(site, "my.local_pkg", "1.0+local.1", "Requires-Dist: flask[async]")
    (site / "not-a-dist.dist-info").mkdir()  # no METADATA: skipped
    (site / "flask").mkdir()
    return site


def test_venv_sbom_lists_every_installed_distribution(site: Path) -> None:
    data = assert_valid_cyclonedx(venv_sbom(read_installed([site]), "3.13.15"))
    assert data["bomFormat"] == "CycloneDX" and data["specVersion"] == "1.6"
    components = {c["name"]: c for c in data["components"]}
    assert set(components) == {
        "flask",
        "werkzeug",
        "markupsafe",
        "click",
        "importlib-metadata",
        "asgiref",
        "my-local-pkg",
    }
    flask = components["flask"]
    assert flask["version"] == "3.1.3"
    assert flask["purl"] == flask["bom-ref"] == "pkg:pypi/flask@3.1.3"
    assert flask["type"] == "library"
    assert flask["description"].startswith("A simple framework")
    assert components["my-local-pkg"]["purl"] == "pkg:pypi/my-local-pkg@1.0%2Blocal.1"


def test_licenses_as_declared(site: Path) -> None:
    data = assert_valid_cyclonedx(venv_sbom(read_installed([site]), "3.13.15"))
    licenses = {c["name"]: c.get("licenses") for c in data["components"]}
    assert licenses["flask"] == [{"expression": "BSD-3-Clause"}]
    assert licenses["werkzeug"] == [{"license": {"name": "BSD-3-Clause"}}]
    # a License field holding the whole text is not a name: the classifier says it
    assert licenses["markupsafe"] == [{"license": {"name": "BSD License"}}]
    assert licenses["click"] is None


def test_dependency_graph_from_requires_dist(site: Path) -> None:
    data = assert_valid_cyclonedx(venv_sbom(read_installed([site]), "3.13.15"))
    graph = {d["ref"]: d["dependsOn"] for d in data["dependencies"]}
    assert graph["pkg:pypi/flask@3.1.3"] == [
        "pkg:pypi/asgiref@3.13.0",  # installed, and an extra of flask's
        "pkg:pypi/click@8.5.1",
        "pkg:pypi/werkzeug@3.1.9",
    ]  # not importlib-metadata (Python < 3.10 only), not python-dotenv (not installed)
    assert graph["pkg:pypi/werkzeug@3.1.9"] == ["pkg:pypi/markupsafe@3.0.4"]
    assert graph["pkg:pypi/my-local-pkg@1.0%2Blocal.1"] == ["pkg:pypi/flask@3.1.3"]
    assert graph["pkg:pypi/click@8.5.1"] == []
    assert set(graph) == {c["bom-ref"] for c in data["components"]}


def test_markers_are_evaluated_for_the_venvs_python(site: Path) -> None:
    data = assert_valid_cyclonedx(venv_sbom(read_installed([site]), "3.9.20"))
    graph = {d["ref"]: d["dependsOn"] for d in data["dependencies"]}
    assert "pkg:pypi/importlib-metadata@8.0.0" in graph["pkg:pypi/flask@3.1.3"]


def test_sbom_is_deterministic(site: Path) -> None:
    assert venv_sbom(read_installed([site]), "3.13.15") == venv_sbom(
        read_installed([site]), "3.13.15"
    )
    assert b"timestamp" not in venv_sbom(read_installed([site]), "3.13.15")


def test_empty_venv(tmp_path: Path) -> None:
    data = assert_valid_cyclonedx(venv_sbom(read_installed([tmp_path]), "3.13.15"))
    assert data["components"] == [] and data["dependencies"] == []


def test_python_sbom() -> None:
    url = "https://user:secret@mirror.example/python/cpython-3.13.15.tar.zst?token=abc"
    content = python_sbom("3.13.15", SHA, url)
    data = assert_valid_cyclonedx(content)
    (component,) = data["components"]
    assert component["name"] == "CPython" and component["version"] == "3.13.15"
    assert component["hashes"] == [{"alg": "SHA-256", "content": SHA}]
    assert component["licenses"] == [{"license": {"id": "PSF-2.0"}}]
    assert component["externalReferences"] == [
        {"type": "distribution", "url": "https://mirror.example/python/cpython-3.13.15.tar.zst"}
    ]
    assert b"secret" not in content and b"token" not in content


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://a.example/x.tar", "https://a.example/x.tar"),
        ("http://u:p@127.0.0.1:8080/x?q=1#f", "http://127.0.0.1:8080/x"),
        ("file:///srv/python.tar", None),
    ],
)
def test_public_url(url: str, expected: str | None) -> None:
    assert public_url(url) == expected


def test_layer_sbom_file_lives_and_dies_with_the_layer(tmp_path: Path) -> None:
    layers = Layers(tmp_path)
    layer = layers.uncached_layer("venv", types=LayerTypes(launch=True))
    path = layer.write_sbom(b"{}", "cdx.json")
    assert path == tmp_path / "venv.sbom.cdx.json" and path.read_bytes() == b"{}"
    with pytest.raises(ValueError, match="unknown SBOM extension"):
        layer.write_sbom(b"{}", "xml")
    layer.discard(["changed"])
    assert not path.exists()


METADATA_SAMPLES = [
    "Metadata-Version: 2.4\nName: Demo\nVersion: 1.0\nRequires-Dist: a; extra == 'x'\n"
    "Requires-Dist: b>=2\n\nLong: description, not a header\n",
    "Name: demo\r\nVersion: 1.0\r\nLicense: line one\r\n        line two\r\nSummary: s\r\n\r\nbody",
    "Name: demo\nversion: 2\nCLASSIFIER: License :: OSI Approved :: MIT License\n",
    "Name: demo\nVersion: 1\nnot a header line\nSummary: in the body\n",
    "From someone\nName: demo\n :continuation first\n:no name\nVersion:\t 3 \n",
    "",
    "Name: caf\N{LATIN SMALL LETTER E WITH ACUTE}\nVersion: 1\n",
]


@pytest.mark.parametrize("text", METADATA_SAMPLES)
def test_metadata_headers_read_as_email_parser_does(text: str) -> None:
    from email.parser import HeaderParser

    from python_buildpack.dist_info import MetadataHeaders

    expected, ours = HeaderParser().parsestr(text), MetadataHeaders(text)
    for name in ("Name", "version", "License", "Summary", "Classifier", "Requires-Dist", "X"):
        assert ours.get(name) == expected.get(name)
        assert ours.get_all(name) == expected.get_all(name)
