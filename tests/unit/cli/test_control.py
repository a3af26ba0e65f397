"""`ork control` refusals happen before gunicorn starts (docs/cli.md#ork-control)."""
from __future__ import annotations

from click.testing import CliRunner

from orkestra.cli.main import cli


UNSET = ("ADMIN_USERNAME", "ADMIN_PASSWORD", "ORK_CC_HOST", "ORK_CC_PORT", "ORK_CC_URLS", "ORK_CC_REFRESH")


def _run(*args: str):
    return CliRunner().invoke(cli, ["control", *args], env=dict.fromkeys(UNSET))


def test_default_credentials_on_a_public_address_exit_1_with_the_documented_message():
    result = _run("--host", "0.0.0.0", "--port", "9999")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "refusing to start: default credentials on non-loopback address 0.0.0.0:9999 — "
        "set ADMIN_USERNAME and ADMIN_PASSWORD, or pass --insecure")


def test_refresh_shorter_than_a_second_and_bad_urls_are_usage_errors():
    result = _run("--refresh", "500ms")
    assert result.exit_code == 2 and '"500ms" is shorter than 1s' in result.output
    result = _run("--refresh", "soon")
    assert result.exit_code == 2 and "invalid duration" in result.output
    result = _run("--urls", "cluster1:8080")
    assert result.exit_code == 2 and '"cluster1:8080" is not an http(s) URL' in result.output


def test_control_is_listed_in_the_command_group():
    assert "control" in CliRunner().invoke(cli, ["--help"]).output
