"""Structured logging for every Orkestra process (docs/runtime.md §14).

One JSON object per line on stdout: `time` (RFC 3339, milliseconds, UTC), `level`, `logger`,
`message`, then the context fields a caller passed with `extra={...}` (`crd`, `key`, `gvk`, ...).
`LOG_FORMAT=text` prints the same record as `time level logger message k=v...` for humans.
Redaction happens here, in the formatter, so no call site can leak a secret by accident: context
fields whose names look sensitive are masked, message text and string fields have bearer tokens
and `password=…`-style values masked (`redact_text`), and `redact()` is offered for object dumps.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any, TextIO

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}
_NAMES = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn", logging.ERROR: "error",
          logging.CRITICAL: "error"}
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_SENSITIVE = ("password", "passwd", "token", "secret", "authorization", "private", "privatekey",
              "tls.key", "credential", "cookie")
MASK = "***"
_NOT_SECRET = ("name", "ref", "namespace", "kind")
# In free text: `Bearer <token>`, and `<sensitive name>=<value>` / `<sensitive name>: <value>`, where
# the value may start with an auth scheme (`Authorization: Basic <credentials>`).
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/-]+=*")
_ASSIGNED = re.compile(r"(?i)\b([\w.-]*(?:password|passwd|token|secret|authorization|credential|cookie|privatekey|private_key)"
                       r"[\w.-]*[\"']?)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|(?:(?:basic|bearer|digest)\s+)?[^\s,;]+)")


def _is_sensitive(name: str) -> bool:
    low = name.lower().replace("_", "").replace("-", "").replace(".", "")
    return any(word.replace(".", "") in low for word in _SENSITIVE)


def redact(value: Any) -> Any:
    """A copy of `value` with secrets masked: Secret `data`/`stringData`, and any key that names a
    password, token, private key, authorization header or session secret. Safe for debug dumps."""
    if isinstance(value, dict):
        is_secret = value.get("kind") == "Secret"
        out = {}
        for k, v in value.items():
            if (is_secret and k in ("data", "stringData")) or (isinstance(k, str) and _is_sensitive(k)):
                out[k] = {kk: MASK for kk in v} if isinstance(v, dict) else MASK
            else:
                out[k] = redact(v)
        return out
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def redact_text(text: str) -> str:
    """`text` with bearer tokens and `password=…`-style values masked: error messages quote
    what a library saw, and that may be a credential."""
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _ASSIGNED.sub(_mask_assigned, text)


def _mask_assigned(m: re.Match) -> str:
    if m.group(1).lower().rstrip("\"'").endswith(_NOT_SECRET):   # `secretName: web-tls` names, not holds
        return m.group(0)
    return f"{m.group(1)}{m.group(2)}{MASK}"


def _message(record: logging.LogRecord) -> str:
    return redact_text(record.getMessage())


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in vars(record).items():
        if k in _STANDARD or k.startswith("_"):
            continue
        out[k] = MASK if _is_sensitive(k) else redact_text(v) if isinstance(v, str) else redact(v)
    if record.exc_info and "stack" not in out:
        out["stack"] = redact_text(logging.Formatter().formatException(record.exc_info))
    return out


def _timestamp(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {"time": _timestamp(record.created), "level": _NAMES.get(record.levelno, "info"),
               "logger": record.name, "message": _message(record)}
        for k, v in _fields(record).items():
            doc.setdefault(k, v)
        return json.dumps(doc, default=str, ensure_ascii=False, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        head = f"{_timestamp(record.created)} {_NAMES.get(record.levelno, 'info'):5} {record.name} {_message(record)}"
        parts = [f"{k}={v if isinstance(v, str) and ' ' not in v else json.dumps(v, default=str)}"
                 for k, v in _fields(record).items() if k != "stack"]
        text = " ".join([head, *parts])
        stack = _fields(record).get("stack")
        return f"{text}\n{stack}" if stack else text


def make_formatter(fmt: str) -> logging.Formatter:
    return TextFormatter() if fmt == "text" else JsonFormatter()


def configured_formatter() -> logging.Formatter:
    """The formatter `configure` installed on the root logger (JSON before it ran), so a logger
    set up later (gunicorn's, in `orkestra.server.gunicorn_logging`) prints the same lines."""
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_orkestra", False) and handler.formatter is not None:
            return handler.formatter
    return JsonFormatter()


def configure(level: str = "info", fmt: str = "json", *, stream: TextIO | None = None) -> logging.Handler:
    """Route the root logger to one stdout handler with Orkestra's format. Idempotent."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_orkestra", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(make_formatter(fmt))
    handler._orkestra = True  # type: ignore[attr-defined]  # our mark, so a second set-up replaces it
    root.addHandler(handler)
    root.setLevel(_LEVELS.get(level, logging.INFO))
    # Libraries stay quiet unless we debug.
    for noisy in ("urllib3", "kubernetes", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
    return handler
