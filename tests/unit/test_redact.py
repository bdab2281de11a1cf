from __future__ import annotations

from python_buildpack.redact import redact_urls, secrets_in_env


def test_redact_urls() -> None:
    assert redact_urls("see https://bob:s3cret@example.com/simple") == (
        "see https://bob:***@example.com/simple"
    )
    assert redact_urls("git+https://ghp_token123@github.com/x") == "git+https://***@github.com/x"
    assert redact_urls("https://example.com/a@b") == "https://example.com/a@b"


def test_secrets_in_env() -> None:
    env = {
        "PIP_INDEX_URL": "https://bob:p%40ss@example.com/simple",
        "PIP_EXTRA_INDEX_URL": "https://a.example/simple https://tok3n@b.example/simple",
        "PATH": "/usr/bin",
    }
    secrets = secrets_in_env(env)
    assert "p@ss" in secrets and "p%40ss" in secrets and "tok3n" in secrets
    assert "bob" not in secrets
