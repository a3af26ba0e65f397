"""Process settings from the environment (docs/runtime.md §15), parsed and checked once.

`ork run` and `ork gateway` call `Settings.from_env()` before anything starts, so a bad value
stops startup with `invalid <VAR> "<value>": <expected>` instead of failing later inside the
gunicorn worker. Every problem is collected, not just the first. The per-CRD defaults
(DEFAULT_WORKERS, DEFAULT_RESYNC, QUEUE_DEPTH, FAILURE_THRESHOLD, RECONCILE_TIMEOUT) belong to the
Katalog loader, which fills them into the model; they are parsed there
(`orkestra.katalog.defaults.KatalogDefaults`) and only carried here, never parsed twice. The
webhook switch rules (admission needs conversion, TLS pairs) live in
`orkestra.webhooks.check_switches`, which `ork run` calls on these settings.
"""
from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Callable, Mapping

from orkestra.durations import DurationError, parse_duration
from orkestra.errors import OrkestraError
from orkestra.kube.client import service_account_dir

LOG_LEVELS = ("debug", "info", "warn", "error")
LOG_FORMATS = ("json", "text")
API_AUTH_MODES = ("none", "kubernetes")
SUMMARY_ACCESS = ("protected", "open")
LEASE_TIMINGS = ("leader election: LEASE_DURATION must be greater than RENEW_DEADLINE, and "
                 "RENEW_DEADLINE greater than 1.2 × RETRY_PERIOD")
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


class Mode(StrEnum):
    """What the process runs: `ork run` (operators and webhooks) or `ork gateway` (webhooks only,
    no reconcilers and no leader election; docs/runtime.md §1)."""
    RUNTIME = "runtime"
    GATEWAY = "gateway"


class ConfigError(OrkestraError):
    """One or more invalid environment values; `problems` holds one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    port: int = 8080
    webhook_port: int = 8443
    bind_address: str = "0.0.0.0"
    http_threads: int = 8
    api_auth: str = "none"
    api_auth_summaries: str = "protected"
    enable_conversion: bool = False
    enable_admission_webhook: bool = False
    tls_cert: str = ""
    tls_key: str = ""
    tls_ca: str = ""
    tls_secret_name: str = "orkestra-webhook-tls"
    webhook_url: str = ""
    registry: str = ""
    hooks_path: tuple[str, ...] = ()
    drain_timeout: float = 30.0
    conversion_window: int = 1000
    log_level: str = "info"
    log_format: str = "json"
    namespace: str = "default"
    watch_namespace: str = ""
    service_name: str = "orkestra"
    gateway_endpoint: str = ""
    leader_election: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 5.0
    pod_name: str = ""
    crd_check_interval: float = 10.0
    watch_stall_timeout: float = 90.0
    webhook_resync: float = 30.0
    kubeconfig: str = ""
    context: str = ""
    katalog_defaults: Any = field(default=None, compare=False)  # KatalogDefaults, parsed by the loader's code

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Parse every variable of docs/runtime.md §15; raise `ConfigError` listing each bad value."""
        env = os.environ if env is None else env
        p = _Parser(env)
        values: dict[str, Any] = {
            "port": p.port("ORK_PORT", 8080),
            "webhook_port": p.port("ORK_WEBHOOK_PORT", 8443),
            "bind_address": p.text("ORK_BIND_ADDRESS", "0.0.0.0"),
            "http_threads": p.integer("HTTP_THREADS", 8, minimum=1),
            "api_auth": _api_auth(p),
            "api_auth_summaries": p.choice("ORK_API_AUTH_SUMMARIES", "protected", SUMMARY_ACCESS),
            "enable_conversion": p.boolean("ENABLE_CONVERSION", False),
            "enable_admission_webhook": p.boolean("ENABLE_ADMISSION_WEBHOOK", False),
            "tls_cert": p.text("TLS_CERT", ""),
            "tls_key": p.text("TLS_KEY", ""),
            "tls_ca": p.text("TLS_CA", ""),
            "tls_secret_name": p.text("TLS_SECRET_NAME", "orkestra-webhook-tls"),
            "webhook_url": p.text("ORK_WEBHOOK_URL", ""),
            "registry": p.text("ORK_REGISTRY", ""),
            "hooks_path": tuple(x for x in p.text("ORK_HOOKS_PATH", "").split(os.pathsep) if x),
            "drain_timeout": p.duration("DRAIN_TIMEOUT", 30.0),
            "conversion_window": p.integer("CONVERSION_WINDOW", 1000, minimum=1),
            "log_level": p.choice("LOG_LEVEL", "info", LOG_LEVELS),
            "log_format": p.choice("LOG_FORMAT", "json", LOG_FORMATS),
            "namespace": env.get("NAMESPACE") or env.get("ORK_NAMESPACE") or _own_namespace(env),
            "watch_namespace": p.text("WATCH_NAMESPACE", ""),
            "service_name": p.text("ORK_SERVICE_NAME", "orkestra"),
            "gateway_endpoint": p.text("ORK_GATEWAY_ENDPOINT", ""),
            "leader_election": p.boolean("LEADER_ELECTION", True),
            "lease_duration": p.seconds("LEASE_DURATION", 15.0),
            "renew_deadline": p.seconds("RENEW_DEADLINE", 10.0),
            "retry_period": p.seconds("RETRY_PERIOD", 5.0),
            "pod_name": env.get("POD_NAME") or default_identity(),
            "crd_check_interval": p.duration("CRD_CHECK_INTERVAL", 10.0, positive=True),
            "watch_stall_timeout": p.duration("WATCH_STALL_TIMEOUT", 90.0, positive=True),
            "webhook_resync": p.duration("WEBHOOK_RESYNC", 30.0, positive=True),
            "kubeconfig": env.get("KUBECONFIG", ""),
            "katalog_defaults": p.katalog_defaults(),
        }
        problems = p.problems
        if values["leader_election"] and not _timings_ok(
                values["lease_duration"], values["renew_deadline"], values["retry_period"]):
            problems.append(LEASE_TIMINGS)
        if problems:
            raise ConfigError(problems)
        return cls(**values)


def api_auth_mode(env: Mapping[str, str]) -> str:
    """`ORK_API_AUTH` read exactly as `Settings.from_env` reads it, for `ork generate`, which
    needs that one value to know whether the bundle grants the reviews."""
    p = _Parser(env)
    mode = _api_auth(p)
    if p.problems:
        raise ConfigError(p.problems)
    return mode


def _api_auth(p: "_Parser") -> str:
    return p.choice("ORK_API_AUTH", "none", API_AUTH_MODES)


def default_identity() -> str:
    """`<hostname>_<8 hex>`: unique per process, so two replicas on one host never collide."""
    return f"{socket.gethostname()}_{secrets.token_hex(4)}"


def _own_namespace(env: Mapping[str, str]) -> str:
    """The pod's namespace from the mounted ServiceAccount, else "default" (outside a pod)."""
    try:
        with open(os.path.join(service_account_dir(env), "namespace"), encoding="utf-8") as f:
            return f.read().strip() or "default"
    except OSError:
        return "default"


def _timings_ok(lease: float, renew: float, retry: float) -> bool:
    return lease > renew > 1.2 * retry


class _Parser:
    """Reads one variable at a time, recording `invalid <VAR> "<value>": <expected>` problems."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.problems: list[str] = []

    def _get(self, var: str, default: Any, convert: Callable[[str], Any], expected: str) -> Any:
        raw = self.env.get(var)
        if raw is None or raw == "":
            return default
        try:
            return convert(raw.strip())
        except (ValueError, DurationError):
            self.problems.append(f'invalid {var} "{raw}": {expected}')
            return default

    def text(self, var: str, default: str) -> str:
        return self.env.get(var) or default

    def integer(self, var: str, default: int, *, minimum: int = 0) -> int:
        def convert(s: str) -> int:
            n = int(s)
            if n < minimum:
                raise ValueError(s)
            return n
        return self._get(var, default, convert, f"expected an integer >= {minimum}")

    def port(self, var: str, default: int) -> int:
        def convert(s: str) -> int:
            n = int(s)
            if not 0 < n < 65536:
                raise ValueError(s)
            return n
        return self._get(var, default, convert, "expected a port number between 1 and 65535")

    def boolean(self, var: str, default: bool) -> bool:
        def convert(s: str) -> bool:
            low = s.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError(s)
        return self._get(var, default, convert, "expected true, false, 1, 0, yes or no")

    def choice(self, var: str, default: str, allowed: tuple[str, ...]) -> str:
        def convert(s: str) -> str:
            if s.lower() not in allowed:
                raise ValueError(s)
            return s.lower()
        return self._get(var, default, convert, "expected one of " + ", ".join(allowed))

    def duration(self, var: str, default: float, *, positive: bool = False) -> float:
        def convert(s: str) -> float:
            v = parse_duration(s, bare_seconds=True)     # README: variables holding seconds take a bare integer
            if v < 0 or (positive and v == 0):
                raise ValueError(s)
            return v
        word = "a positive" if positive else "a non-negative"
        return self._get(var, default, convert, f'expected {word} duration such as "30s" or "1m"')

    def seconds(self, var: str, default: float) -> float:
        def convert(s: str) -> float:
            v = parse_duration(s, bare_seconds=True)
            if v <= 0:
                raise ValueError(s)
            return v
        return self._get(var, default, convert, 'expected a positive number of seconds such as "15"')

    def katalog_defaults(self) -> Any:
        from orkestra.katalog.defaults import KatalogDefaults
        try:
            return KatalogDefaults.from_env(self.env)
        except (OrkestraError, ValueError) as err:
            self.problems.extend(str(err).splitlines())
            return None
