"""`ork gateway` start-up checks (docs/cli.md#ork-gateway, docs/webhooks.md §1/§2): exit 1 with the exact message."""
from __future__ import annotations

from click.testing import CliRunner

from orkestra.cli.main import cli
from orkestra.webhooks.switches import ADMISSION_WITHOUT_CONVERSION, WebhookSettings, check_switches

from .katalogs import GUARDED


def run(tmp_path, env):
    (tmp_path / "katalog.yaml").write_text(GUARDED)
    runner = CliRunner()
    return runner.invoke(cli, ["gateway", "-f", str(tmp_path / "katalog.yaml")], env=env)


def test_admission_without_conversion_stops_startup(tmp_path):
    result = run(tmp_path, {"ENABLE_ADMISSION_WEBHOOK": "yes", "ENABLE_CONVERSION": "0"})
    assert result.exit_code == 1
    assert ADMISSION_WITHOUT_CONVERSION in result.stderr.splitlines()


def test_tls_pair_must_be_complete(tmp_path):
    result = run(tmp_path, {"TLS_CERT": "/tmp/x.crt", "TLS_KEY": ""})
    assert result.exit_code == 1
    assert "TLS_CERT and TLS_KEY must be set together" in result.stderr.splitlines()


def test_check_switches():
    assert check_switches(WebhookSettings(enable_admission=True)) == ADMISSION_WITHOUT_CONVERSION
    assert check_switches(WebhookSettings(enable_admission=True, enable_conversion=True)) is None
    assert check_switches(WebhookSettings(tls_key="k")) == "TLS_CERT and TLS_KEY must be set together"
    assert check_switches(WebhookSettings()) is None
