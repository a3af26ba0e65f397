"""`ork local` without a running control plane: clear lines and exit codes."""
import pytest
from click.testing import CliRunner

from orkestra.cli.main import cli


@pytest.fixture
def runner(tmp_path, monkeypatch) -> CliRunner:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return CliRunner()


def test_status_when_not_running_exits_1(runner):
    result = runner.invoke(cli, ["local", "status"])
    assert result.exit_code == 1
    assert result.output == "local control plane: not running (start it with `ork local up`)\n"


def test_kubeconfig_when_not_running_exits_1(runner):
    result = runner.invoke(cli, ["local", "kubeconfig"])
    assert result.exit_code == 1
    assert "the local control plane is not running; start it with `ork local up`" in result.output


def test_down_when_not_running_is_a_no_op(runner):
    result = runner.invoke(cli, ["local", "down"])
    assert result.exit_code == 0
    assert result.output == "local control plane: not running\n"


def test_a_corrupt_state_file_is_one_clear_line(runner, tmp_path):
    state_file = tmp_path / "orkestra" / "local" / "state.json"
    state_file.parent.mkdir(parents=True)
    state_file.write_text("{broken")
    result = runner.invoke(cli, ["local", "status"])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {state_file}: unreadable local control-plane state")
    assert "Traceback" not in result.output


def test_up_with_a_missing_go_and_no_binaries_fails_with_one_line(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    result = runner.invoke(cli, ["local", "up"])
    assert result.exit_code == 1
    assert result.output.startswith("error: `go` is not on PATH")
    assert "Traceback" not in result.output
