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
    assert path == sys.executable and argv[:4] == [sys.executable, "-P", "-m", "orkestra.server.arbiter"]
    spec = json.loads(argv[4])
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
    assert arbiter.main(["arbiter", json.dumps(spec)]) == 0
    assert not os.get_inheritable(fd), "hook subprocesses of the worker must not inherit it"
    cfg = ran["cfg"]
    assert cfg["post_worker_init"] is arbiter._post_worker_init and cfg["worker_exit"] is arbiter._worker_exit
    assert {k: v for k, v in cfg.items() if not callable(v)} == spec["gunicorn"]
    application = type("Application", (), {})()
    app = ran["load"](application)      # closes the descriptor (test_the_worker_closes_the_handover_once_read)
    assert app.test_client().get("/katalog/website").status_code == 200
    assert application.engine.katalog == katalog and application.webhooks is None


def test_the_arbiter_does_not_import_from_the_working_directory(monkeypatch, tmp_path):
    """`python -m` would put the working directory first on `sys.path`: a stray `json.py` there
    would run in the arbiter, and every later import of the worker (hooks' dependencies
    included) would look there first (docs/hooks.md: the working directory is searched last)."""
    calls: list[list[str]] = []
    monkeypatch.setattr(os, "execv", lambda path, argv: calls.append(argv))
    arbiter.exec_arbiter(-1, {}, log_level="info", log_format="json")
    (tmp_path / "json.py").write_text("raise SystemExit('shadowed by the working directory')\n")
    done = subprocess.run(calls[0], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert "shadowed" not in done.stderr
    assert "Bad file descriptor" in done.stderr        # it got as far as the (bogus) hand-over


def test_the_worker_closes_the_handover_once_read(monkeypatch):
    katalog, settings = make_katalog(make_entry("website")), Settings.from_env({"POD_NAME": "p"})
    fd = arbiter.handover((katalog, settings, Mode.RUNTIME))
    loads = []
    monkeypatch.setattr(arbiter, "run", lambda cfg, load: loads.append(load) or 0)
    arbiter.main(["arbiter", json.dumps({"fd": fd, "gunicorn": {}, "log_level": "info", "log_format": "json"})])
    monkeypatch.setattr(serve, "load_worker", lambda application, *state: state)
    assert loads[0](object()) == (katalog, settings, Mode.RUNTIME)
    with pytest.raises(OSError):
        os.fstat(fd)


def test_registry_credentials_are_not_handed_over(monkeypatch):
    """The worker never loads a Katalog: the registry credentials stay behind."""
    calls = []
    monkeypatch.setattr(os, "execv", lambda path, argv: calls.append(argv) or (_ for _ in ()).throw(Exec()))
    settings = Settings.from_env({"POD_NAME": "p", "ORK_REGISTRY_TOKEN": "s3cr3t-t0ken"})
    assert "s3cr3t-t0ken" in settings.katalog.credentials.values()
    with pytest.raises(Exec):
        serve._serve_gunicorn(make_katalog(make_entry("website")), settings, Mode.RUNTIME)
    fd = json.loads(calls[0][-1])["fd"]
    try:
        _, handed, _ = arbiter.read_handover(fd)
        assert b"s3cr3t-t0ken" not in os.pread(fd, os.fstat(fd).st_size, 0)
        assert handed.katalog.credentials == {} and handed.katalog.hooks_path == settings.katalog.hooks_path
    finally:
        os.close(fd)


def test_without_a_handover_the_process_stays_the_arbiter(monkeypatch):
    monkeypatch.delattr(os, "memfd_create")
    monkeypatch.setattr(os, "execv", lambda path, argv: pytest.fail("exec without a hand-over"))
    ran = {}
    monkeypatch.setattr(serve, "run", lambda cfg, load: ran.update(cfg=cfg, load=load) or 0)
    monkeypatch.setattr(serve.gc, "freeze", lambda: ran.setdefault("frozen", True))
    katalog, settings = make_katalog(make_entry("website")), Settings.from_env({"POD_NAME": "p"})
    assert serve._serve_gunicorn(katalog, settings, Mode.RUNTIME) == 0
    assert ran["cfg"] == serve.gunicorn_settings(settings) and ran["frozen"]
    application = type("Application", (), {})()
    assert ran["load"](application).test_client().get("/katalog/website").status_code == 200
    assert application.engine.katalog == katalog
