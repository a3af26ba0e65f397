"""The lean gunicorn arbiter (orkestra.server.arbiter): what it hands over, what it imports."""
import json
import os
import subprocess
import sys

import pytest

from orkestra.config import Mode, Settings
from orkestra.server import arbiter, serve
from tests.unit.engine.factories import make_entry, make_katalog

HEAVY = ("orkestra.katalog", "orkestra.engine", "orkestra.kube", "orkestra.webhooks", "orkestra.server.serve",
         "orkestra.server.app", "flask", "urllib3", "jsonschema", "yaml", "click")


def test_the_arbiter_imports_none_of_the_application():
    code = "import sys, orkestra.server.arbiter; print('\\n'.join(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert [m for m in loaded if m.startswith(HEAVY)] == []


def test_handover_round_trips_the_checked_katalog_and_settings():
    state = (make_katalog(make_entry("website"), make_entry("database")), Settings.from_env({"POD_NAME": "p"}),
             Mode.GATEWAY)
    fd = arbiter.handover(state)
    try:
        assert fd is not None and os.get_inheritable(fd), "exec must keep the descriptor"
        assert arbiter.read_handover(fd) == state
        assert arbiter.read_handover(fd) == state, "a respawned worker reads it again"
    finally:
        os.close(fd)


def test_a_state_that_does_not_pickle_keeps_the_arbiter_in_process():
    assert arbiter.handover((lambda: None,)) is None


class Exec(Exception):
    pass


def test_serve_replaces_itself_by_the_lean_arbiter(monkeypatch):
    calls = []

    def execv(path, argv):
        calls.append((path, argv))
        raise Exec()
    monkeypatch.setattr(os, "execv", execv)
    katalog, settings = make_katalog(make_entry("website")), Settings.from_env({"POD_NAME": "p", "ORK_PORT": "9001"})
    with pytest.raises(Exec):
        serve._serve_gunicorn(katalog, settings, Mode.RUNTIME)
    [(path, argv)] = calls
    assert path == sys.executable and argv[:3] == [sys.executable, "-m", "orkestra.server.arbiter"]
    spec = json.loads(argv[3])
    assert spec["gunicorn"] == serve.plain_gunicorn_settings(settings)
    assert spec["gunicorn"]["bind"] == ["0.0.0.0:9001"]
    assert (spec["log_level"], spec["log_format"]) == (settings.log_level, settings.log_format)
    try:
        assert arbiter.read_handover(spec["fd"]) == (katalog, settings, Mode.RUNTIME)
    finally:
        os.close(spec["fd"])


def test_the_arbiter_runs_gunicorn_with_the_worker_hooks_and_builds_the_app_in_the_worker(monkeypatch):
    katalog, settings = make_katalog(make_entry("website")), Settings.from_env({"POD_NAME": "p"})
    fd = arbiter.handover((katalog, settings, Mode.RUNTIME))
    ran = {}

    def run(cfg, load):
        ran["cfg"], ran["load"] = cfg, load
        return 0
    monkeypatch.setattr(arbiter, "run", run)
    spec = {"fd": fd, "gunicorn": serve.plain_gunicorn_settings(settings), "log_level": "info", "log_format": "json"}
    try:
        assert arbiter.main(["arbiter", json.dumps(spec)]) == 0
        assert not os.get_inheritable(fd), "hook subprocesses of the worker must not inherit it"
        cfg = ran["cfg"]
        assert cfg["post_worker_init"] is arbiter._post_worker_init and cfg["worker_exit"] is arbiter._worker_exit
        assert {k: v for k, v in cfg.items() if not callable(v)} == spec["gunicorn"]
        application = type("Application", (), {})()
        app = ran["load"](application)
        assert app.test_client().get("/katalog/website").status_code == 200
        assert application.engine.katalog == katalog and application.webhooks is None
    finally:
        os.close(fd)
