"""gunicorn's logger prints in the format `orkestra.logs.configure` was given (LOG_FORMAT from
the settings), instead of reading LOG_FORMAT from the environment itself (issue 10 item 4)."""
from __future__ import annotations

import io

from gunicorn.config import Config

from orkestra.logs import configure
from orkestra.server.gunicorn_logging import JsonGunicornLogger
from tests.unit.engine.test_logs import teardown_function  # noqa: F401 - pytest runs it after each test


def booting_line(capsys) -> str:
    cfg = Config()
    cfg.set("errorlog", "-")
    JsonGunicornLogger(cfg).error_log.info("Booting worker with pid: %s", 42)
    return capsys.readouterr().out.strip()


def test_text_when_configured_for_text(capsys, monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "json")          # the environment no longer decides
    configure("info", "text", stream=io.StringIO())
    line = booting_line(capsys)
    assert line.endswith("info  gunicorn.error Booting worker with pid: 42"), line


def test_json_when_configured_for_json_or_not_configured(capsys, monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "text")
    assert '"logger":"gunicorn.error"' in booting_line(capsys)
    configure("info", "json", stream=io.StringIO())
    assert '"message":"Booting worker with pid: 42"' in booting_line(capsys)
