"""`ork run` builds its Settings once from the flags and the environment, and writes neither
back into `os.environ` (issue 10 item 4: the flags used to be copied into the environment)."""
from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from orkestra.cli.main import cli
from tests.unit.engine.test_logs import teardown_function as remove_log_handler

WATCHED = ("LOG_LEVEL", "ORK_PORT", "NAMESPACE", "WATCH_NAMESPACE", "LEADER_ELECTION", "KUBECONFIG")


@pytest.fixture
def served(monkeypatch):
    """Stop `ork run` where it would start the server; record what it was handed."""
    import orkestra.server.serve as serve_mod
    seen: dict = {}

    def serve(katalog, settings, *, mode, server):
        seen.update(katalog=katalog, settings=settings, mode=mode, env={k: os.environ.get(k) for k in WATCHED})
        return 0
    monkeypatch.setattr(serve_mod, "serve", serve)
    yield seen
    remove_log_handler()       # `ork run` configured the root logger


def test_flags_reach_the_settings_and_leave_the_environment_alone(served):
    env = {"LOG_LEVEL": "info", "ORK_PORT": "8081", "KUBECONFIG": "/env/config", "NAMESPACE": None,
           "WATCH_NAMESPACE": None, "LEADER_ELECTION": None}
    result = CliRunner().invoke(cli, ["--debug", "run", "-f", "examples/hello-website.yaml", "--port", "9999",
                                      "-n", "ops", "--watch-namespace", "apps", "--no-leader-election",
                                      "--kubeconfig", "/flag/config", "--context", "c1"], env=env)
    assert result.exit_code == 0, result.output
    s = served["settings"]
    assert (s.log_level, s.port, s.namespace, s.watch_namespace, s.leader_election) == \
        ("debug", 9999, "ops", "apps", False)
    assert (s.kubeconfig, s.context, served["mode"]) == ("/flag/config", "c1", "runtime")
    assert served["env"] == {"LOG_LEVEL": "info", "ORK_PORT": "8081", "NAMESPACE": None, "WATCH_NAMESPACE": None,
                             "LEADER_ELECTION": None, "KUBECONFIG": "/env/config"}


def test_without_flags_the_environment_decides(served):
    env = {"LOG_LEVEL": "warn", "ORK_PORT": "8081", "KUBECONFIG": "/env/config", "NAMESPACE": "from-env"}
    result = CliRunner().invoke(cli, ["run", "-f", "examples/hello-website.yaml"], env=env)
    assert result.exit_code == 0, result.output
    s = served["settings"]
    assert (s.log_level, s.port, s.kubeconfig, s.namespace, s.leader_election) == \
        ("warn", 8081, "/env/config", "from-env", True)


def test_a_bad_flag_value_is_refused_in_the_variables_words(served):
    result = CliRunner().invoke(cli, ["run", "-f", "examples/hello-website.yaml", "--port", "70000"], env={})
    assert result.exit_code == 1 and "settings" not in served
    assert 'invalid ORK_PORT "70000": expected a port number between 1 and 65535' in result.stderr
