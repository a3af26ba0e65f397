"""Start-up settings: loopback detection, the default-credentials refusal, URLs and the token file."""
from __future__ import annotations

import pytest

from orkestra.controlcenter.settings import (SERVICE_ACCOUNT_TOKEN, SettingsError, build_settings,
                                             startup_refusal)
from orkestra.netaddr import is_loopback_host


def _settings(host: str = "127.0.0.1", *, env: dict | None = None, insecure: bool = False, urls: str = "http://a:8080",
              token_file: str | None = None):
    return build_settings(host=host, port=8081, urls=urls, refresh=10, insecure=insecure, token_file=token_file,
                          log_level="info", env=env or {})


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.9.8.7", True), ("::1", True),
                                            ("localhost", True), ("0.0.0.0", False), ("10.0.0.5", False),
                                            ("::", False), ("example.com", False)])
def test_loopback_addresses(host, loopback):
    assert is_loopback_host(host) is loopback


def test_default_credentials_are_refused_on_a_non_loopback_bind_unless_insecure():
    assert startup_refusal(_settings("0.0.0.0")) == (
        "refusing to start: default credentials on non-loopback address 0.0.0.0:8081 — "
        "set ADMIN_USERNAME and ADMIN_PASSWORD, or pass --insecure")
    assert startup_refusal(_settings("0.0.0.0", env={"ADMIN_PASSWORD": "orkestra"})) is not None
    assert startup_refusal(_settings("0.0.0.0", insecure=True)) is None
    assert startup_refusal(_settings("127.0.0.1")) is None
    assert startup_refusal(_settings("0.0.0.0", env={"ADMIN_PASSWORD": "long-and-random"})) is None


def test_the_session_secret_is_random_unless_set_and_never_in_repr():
    a, b = _settings(), _settings()
    assert a.secret_generated and a.session_secret != b.session_secret and len(a.session_secret) == 32
    fixed = _settings(env={"SESSION_SECRET": "k" * 40, "ADMIN_PASSWORD": "pw"})
    assert not fixed.secret_generated and fixed.session_secret == b"k" * 40
    assert "k" * 40 not in repr(fixed) and "pw" not in repr(fixed).replace("password", "")


def test_urls_and_cookie_setting_are_checked():
    assert _settings(urls="http://a:8080/, https://b").urls == ("http://a:8080", "https://b")
    with pytest.raises(SettingsError, match='"ftp://x" is not an http'):
        _settings(urls="ftp://x")
    with pytest.raises(SettingsError, match="SESSION_COOKIE_SECURE"):
        _settings(env={"SESSION_COOKIE_SECURE": "maybe"})


def test_the_token_file_defaults_to_the_service_account_token_only_when_it_exists(tmp_path):
    explicit = tmp_path / "token"
    assert _settings(token_file=str(explicit)).token_file == explicit
    expected = SERVICE_ACCOUNT_TOKEN if SERVICE_ACCOUNT_TOKEN.is_file() else None
    assert _settings().token_file == expected


def test_gunicorn_runs_one_gthread_worker_with_32_threads_and_ipv6_binds_are_bracketed():
    from orkestra.controlcenter.serve import build, gunicorn_settings
    conf = gunicorn_settings(_settings("::1"))
    assert (conf["workers"], conf["worker_class"], conf["threads"]) == (1, "gthread", 32)
    assert conf["bind"] == ["[::1]:8081"] and conf["preload_app"] is False
    app, poller = build(_settings())
    assert poller.interval == 10 and not poller.alive, "the poller starts in the worker, not at build time"
    assert app.config["CC_POLLER"] is poller
