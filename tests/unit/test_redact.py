from __future__ import annotations

import pytest

from python_buildpack.redact import (
    is_secret_name,
    mask,
    quote,
    quote_list,
    redact_urls,
    register_secrets,
    sanitize,
    secrets_in_env,
)


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


def test_quote_escapes_control_characters() -> None:
    assert quote("a\x1b[2Jb\x00c\rd\te\u202e") == "'a\\x1b[2Jb\\x00c\\rd\\te\\u202e'"


def test_quote_truncates_long_values() -> None:
    shown = quote("9" * 10_000, limit=50)
    assert shown.startswith("'" + "9" * 50 + "'")
    assert "9950 more characters" in shown
    assert len(shown) < 100


def test_quote_masks_url_credentials_and_secret_variables() -> None:
    assert quote("https://u:pw@host/x") == "'https://u:***@host/x'"
    assert "tok" not in quote("tok-value-1", secret_name="GITHUB_TOKEN")
    assert quote("plain", secret_name="BP_LAUNCH_COMMAND") == "'plain'"


def test_registered_secrets_are_masked_everywhere() -> None:
    register_secrets({"MY_API_KEY": "zz-registered-secret", "PATH": "/usr/bin"})
    assert mask("echo zz-registered-secret") == "echo ***"
    assert "zz-registered-secret" not in quote("x zz-registered-secret")
    assert "/usr/bin" in mask("/usr/bin")  # only secret-looking names count


def test_secrets_in_env_includes_secret_looking_names() -> None:
    found = secrets_in_env({"DB_PASSWORD": "p4ssw0rd", "SHORT_TOKEN": "abc", "HOME": "/root"})
    assert found == ["p4ssw0rd"]


def test_quote_list_cuts_long_lists() -> None:
    assert quote_list([str(n) for n in range(100)], first=3) == ["0", "1", "2", "and 97 more"]
    assert quote_list(["a\x00"]) == ["a\\x00"]


def test_sanitize_is_the_net_under_whole_messages() -> None:
    text = "line\x1b[31m\n" * 500
    out = sanitize(text, max_lines=10)
    assert "\x1b" not in out
    assert out.count("\n") == 10
    assert out.endswith("(491 more lines)")


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("GITHUB_TOKEN", True),
        ("DB_PASSWORD", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("NPM_AUTH", True),
        ("SSH_PRIVATE_KEY", True),
        ("GIT_AUTHOR_NAME", False),
        ("BP_LAUNCH_COMMAND", False),
        ("PIP_INDEX_URL", False),
    ],
)
def test_secret_looking_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret
