import os

from orkestra.config import Settings
from orkestra.server.gunicorn_logging import JsonGunicornLogger
from orkestra.server.serve import gunicorn_settings, post_worker_init


def test_gunicorn_settings_follow_runtime_md_section_1():
    cfg = gunicorn_settings(Settings(port=9000, bind_address="127.0.0.1", http_threads=4, drain_timeout=20))
    assert cfg["bind"] == ["127.0.0.1:9000"]
    assert cfg["workers"] == 1 and cfg["worker_class"] == "gthread" and cfg["threads"] == 4
    assert (cfg["timeout"], cfg["graceful_timeout"], cfg["keepalive"]) == (60, 35, 5)
    assert cfg["preload_app"] is False
    assert cfg["worker_tmp_dir"] == ("/dev/shm" if os.path.isdir("/dev/shm") else None)
    assert cfg["accesslog"] is None
    assert gunicorn_settings(Settings(log_level="debug"))["accesslog"] == "-"


def test_gunicorn_logger_prints_orkestra_json(capsys):
    from gunicorn.config import Config
    cfg = Config()
    cfg.set("errorlog", "-")
    logger = JsonGunicornLogger(cfg)
    logger.error_log.info("Booting worker with pid: %s", 42)
    out = capsys.readouterr().out
    assert '"logger":"gunicorn.error"' in out and '"message":"Booting worker with pid: 42"' in out


def test_fatal_engine_start_ends_the_worker_with_code_3():
    from orkestra.engine.engine import EngineStartError

    class Engine:
        def start(self):
            raise EngineStartError("cannot load kubeconfig /nope")

    class Worker:
        app = type("App", (), {"engine": Engine()})()
    try:
        post_worker_init(Worker())
    except SystemExit as exit_:
        assert exit_.code == 3
    else:
        raise AssertionError("the worker must exit")


def test_listening_log_names_https_only_when_a_listener_starts():
    """The `listening` line (docs/cli.md#ork-run) says where HTTPS listens, by the engine's own rule
    (docs/webhooks.md §1): conversion switch, a protection feature or gateway mode."""
    import dataclasses

    from orkestra.server.serve import https_address
    from tests.unit.engine.factories import make_entry, make_katalog
    katalog = make_katalog(make_entry("website"))
    plain = Settings.from_env({"POD_NAME": "p"})
    assert https_address(katalog, plain, "runtime") is None
    assert https_address(katalog, plain, "gateway") == "0.0.0.0:8443"
    conversion = dataclasses.replace(plain, enable_conversion=True)
    assert https_address(katalog, conversion, "runtime") == "0.0.0.0:8443"
    handed_over = dataclasses.replace(conversion, gateway_endpoint="http://gw:8080")
    assert https_address(katalog, handed_over, "runtime") is None, "the gateway serves the webhooks"
    protected = dataclasses.replace(katalog, security={"deletionProtection": {"enabled": True}})
    assert https_address(protected, plain, "runtime") == "0.0.0.0:8443"


def test_open_data_routes_on_a_non_loopback_bind_warn_at_start(caplog):
    """Issue 16 item 2: ORK_API_AUTH=none (the default) on 0.0.0.0 logs a warning; loopback or
    kubernetes mode does not."""
    import logging

    import pytest

    from orkestra.config import ConfigError
    from orkestra.server.serve import warn_if_open
    with caplog.at_level(logging.WARNING, logger="orkestra.server"):
        assert warn_if_open(Settings.from_env({})) is True
        assert warn_if_open(Settings.from_env({"ORK_BIND_ADDRESS": "127.0.0.1"})) is False
        assert warn_if_open(Settings.from_env({"ORK_BIND_ADDRESS": "::1"})) is False
        assert warn_if_open(Settings.from_env({"ORK_API_AUTH": "kubernetes"})) is False
    assert [r.getMessage() for r in caplog.records if "without authentication" in r.getMessage()] != []
    assert len(caplog.records) == 1
    assert Settings.from_env({"ORK_API_AUTH": "Kubernetes", "ORK_API_AUTH_SUMMARIES": "open"}).api_auth_summaries == "open"
    with pytest.raises(ConfigError, match='invalid ORK_API_AUTH "token": expected one of none, kubernetes'):
        Settings.from_env({"ORK_API_AUTH": "token"})


def test_build_app_guards_data_routes_only_in_kubernetes_mode():
    from orkestra.server.serve import build_app
    from tests.unit.server.test_routes import FakeEngine
    open_client = build_app(FakeEngine(), Settings(), lambda: None).test_client()
    assert open_client.get("/katalog/website/cr").status_code == 200
    guarded = build_app(FakeEngine(), Settings(api_auth="kubernetes"), lambda: None).test_client()
    assert guarded.get("/katalog/website/cr").status_code == 401
    assert guarded.get("/health").status_code == 200


def test_assemble_shows_webhook_counters_only_when_the_process_has_webhooks():
    """Issue 10 item 2: the serve wiring decides with `webhook_role`; the view gets a describer
    (live counters) only then, else the Katalog's declared defaults."""
    import dataclasses

    from orkestra.server.serve import assemble
    from tests.unit.engine.factories import make_entry, make_katalog
    katalog = make_katalog(make_entry("website"))
    plain = Settings.from_env({"POD_NAME": "p"})
    process = assemble(katalog, plain, "runtime")
    assert process.webhooks is None
    admission = process.app.test_client().get("/katalog/website").get_json()["admission"]
    assert "validationTotal" not in admission
    gateway = assemble(katalog, plain, "gateway")
    assert gateway.webhooks is not None and gateway.webhooks.gateway is True
    assert gateway.app.test_client().get("/katalog/website").get_json()["admission"]["validationTotal"] == 0
    handed_over = dataclasses.replace(plain, enable_conversion=True, gateway_endpoint="http://gw:8080")
    assert assemble(katalog, handed_over, "runtime").webhooks is None


def test_a_webhook_port_in_use_is_a_fatal_engine_start(caplog):
    """The runtime is built (and its port bound) between connect() and start(): a taken port ends
    start-up with the message the worker logs before exiting 3, and the engine never starts."""
    import dataclasses
    import socket

    from orkestra.server.serve import assemble, start
    from tests.unit.engine.factories import make_entry, make_katalog

    class Engine:
        kube, started = object(), False

        def connect(self):
            pass

        def add_runnable(self, runnable):
            raise AssertionError("nothing to register")

        def start(self):
            self.started = True
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = dataclasses.replace(Settings.from_env({"POD_NAME": "p"}), bind_address="127.0.0.1",
                                       webhook_port=taken.getsockname()[1])
        webhooks = assemble(make_katalog(make_entry("website")), settings, "gateway").webhooks
        engine = Engine()
        assert start(engine, webhooks) is False and not engine.started
    assert any(r.getMessage().startswith("engine cannot start: webhooks: cannot listen on 127.0.0.1:")
               for r in caplog.records)
