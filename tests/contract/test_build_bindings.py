"""`bin/build` with `ca-certificates` and `pip` bindings it can't use: a clear error, before
any layer, quoting no secret."""

from __future__ import annotations

import pytest

from tests.harness.phases import Workspace

SECRET = "hunter2-but-longer"


@pytest.mark.parametrize(
    ("binding_type", "entries", "words"),
    [
        ("pip", {"credentials.json": "{}"}, ["'credentials.json'", "pip.conf and/or a .netrc"]),
        (
            "pip",
            {"pip.conf": f"index-url = https://robot:{SECRET}@pypi.example.com/simple\n"},
            ["pip.conf is not a valid pip configuration file (line 1)"],
        ),
        (
            "pip",
            {".netrc": f"machine pypi.example.com login robot password {SECRET} port\n"},
            [".netrc is not a valid netrc file"],
        ),
        ("ca-certificates", {"corp.crt": f"{SECRET}\n"}, ["corp.crt is not a PEM certificate"]),
    ],
)
def test_unusable_binding_fails_before_any_layer(
    ws: Workspace, binding_type: str, entries: dict[str, str], words: list[str]
) -> None:
    (ws.app / ".python-version").write_text("3.13\n")
    (ws.app / "requirements.txt").write_text("")
    binding = ws.platform / "bindings" / "corp"
    binding.mkdir(parents=True)
    (binding / "type").write_text(binding_type)
    for name, content in entries.items():
        (binding / name).write_text(content)
    result = ws.build()
    assert result.exit_code == 1, result.output
    assert "Invalid service binding 'corp'" in result.output
    for word in words:
        assert word in result.output
    assert SECRET not in result.output
    assert "Traceback" not in result.output
    assert not any(ws.layers.iterdir())
