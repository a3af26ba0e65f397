"""The process environment (docs/runtime.md §15), read and checked here and nowhere else.

`ork run` and `ork gateway` call `Settings.from_env()` once, before anything starts, with their
command-line flags as overrides, and pass the result down: a bad value stops startup with
`invalid <VAR> "<value>": <expected>` instead of failing later inside the gunicorn worker, and
every problem is collected, not just the first. The commands that only read a Katalog or talk to a
runtime (`ork validate`, `ork generate`, `ork status`, ...) take the few values they need from
`CliSettings.from_env()`, which never refuses a value they do not use. No other module of
`orkestra` reads `os.environ` (tests/unit/test_no_env_reads.py): the Katalog loader, the hooks,
the API client, the webhooks and the log set-up receive these values as arguments.

Each default is written once, on the dataclass field; the parsers read it from there. The per-CRD
defaults (DEFAULT_WORKERS, ...) are parsed by `orkestra.katalog.defaults.KatalogDefaults` from the
mapping handed to it here, and travel to the loader in `LoadInputs`. The webhook switch rules
(admission needs conversion, TLS pairs) live in `orkestra.webhooks.check_switches`, which `ork
run` calls on these settings.
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
from orkestra.katalog.defaults import DefaultsError, KatalogDefaults
from orkestra.katalog.inputs import CREDENTIAL_PREFIX, LoadInputs
from orkestra.katalog.rbac import BUNDLE_NAMESPACE, DEFAULT_TLS_SECRET
from orkestra.kube.client import SERVICE_ACCOUNT_DIR

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
    tls_secret_name: str = DEFAULT_TLS_SECRET
    webhook_url: str = ""
    drain_timeout: float = 30.0
    conversion_window: int = 1000
    log_level: str = "info"
    log_format: str = "json"
    namespace: str = "default"           # when neither NAMESPACE nor the pod's namespace file says
    watch_namespace: str = ""
    service_name: str = ""               # ORK_SERVICE_NAME; "" = unset: security.serviceName, else orkestra
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
    service_account_dir: str = SERVICE_ACCOUNT_DIR
    service_host: str = ""          # KUBERNETES_SERVICE_HOST/PORT: where a pod reaches the API server
    service_port: str = ""
    # ORK_HOOKS_PATH, ORK_REGISTRY, the per-CRD defaults and the registry credentials, for the loader
    katalog: LoadInputs = field(default_factory=LoadInputs, compare=False, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *,
                 overrides: Mapping[str, str | None] | None = None) -> "Settings":
        """Parse every variable of docs/runtime.md §15; raise `ConfigError` listing each bad value.

        `overrides` are command-line flags, keyed by the variable they stand for and spelled as
        its value (`{"ORK_PORT": "9090"}`; None = flag not given): they win over the environment
        and are checked with the same words."""
        env = _layered(os.environ if env is None else env, overrides)
        p = _Parser(env)
        inputs, account_dir = katalog_inputs(env), _account_dir(env)
        values: dict[str, Any] = {
            "port": p.port("ORK_PORT", cls.port),
            "webhook_port": p.port("ORK_WEBHOOK_PORT", cls.webhook_port),
            "bind_address": p.text("ORK_BIND_ADDRESS", cls.bind_address),
            "http_threads": p.integer("HTTP_THREADS", cls.http_threads, minimum=1),
            "api_auth": _api_auth(p),
            "api_auth_summaries": p.choice("ORK_API_AUTH_SUMMARIES", cls.api_auth_summaries, SUMMARY_ACCESS),
            "enable_conversion": p.boolean("ENABLE_CONVERSION", cls.enable_conversion),
            "enable_admission_webhook": p.boolean("ENABLE_ADMISSION_WEBHOOK", cls.enable_admission_webhook),
            "tls_cert": p.text("TLS_CERT", cls.tls_cert),
            "tls_key": p.text("TLS_KEY", cls.tls_key),
            "tls_ca": p.text("TLS_CA", cls.tls_ca),
            "tls_secret_name": p.text("TLS_SECRET_NAME", cls.tls_secret_name),
            "webhook_url": p.text("ORK_WEBHOOK_URL", cls.webhook_url),
            "drain_timeout": p.duration("DRAIN_TIMEOUT", cls.drain_timeout),
            "conversion_window": p.integer("CONVERSION_WINDOW", cls.conversion_window, minimum=1),
            "log_level": p.choice("LOG_LEVEL", cls.log_level, LOG_LEVELS),
            "log_format": p.choice("LOG_FORMAT", cls.log_format, LOG_FORMATS),
            "namespace": _named_namespace(env) or _own_namespace(account_dir, cls.namespace),
            "watch_namespace": p.text("WATCH_NAMESPACE", cls.watch_namespace),
            "service_name": p.text("ORK_SERVICE_NAME", cls.service_name),
            "gateway_endpoint": p.text("ORK_GATEWAY_ENDPOINT", cls.gateway_endpoint),
            "leader_election": p.boolean("LEADER_ELECTION", cls.leader_election),
            "lease_duration": p.seconds("LEASE_DURATION", cls.lease_duration),
            "renew_deadline": p.seconds("RENEW_DEADLINE", cls.renew_deadline),
            "retry_period": p.seconds("RETRY_PERIOD", cls.retry_period),
            "pod_name": env.get("POD_NAME") or default_identity(),
            "crd_check_interval": p.duration("CRD_CHECK_INTERVAL", cls.crd_check_interval, positive=True),
            "watch_stall_timeout": p.duration("WATCH_STALL_TIMEOUT", cls.watch_stall_timeout, positive=True),
            "webhook_resync": p.duration("WEBHOOK_RESYNC", cls.webhook_resync, positive=True),
            "kubeconfig": p.text("KUBECONFIG", cls.kubeconfig),
            "service_account_dir": account_dir,
            "service_host": p.text("KUBERNETES_SERVICE_HOST", cls.service_host),
            "service_port": p.text("KUBERNETES_SERVICE_PORT", cls.service_port),
            "katalog": inputs,
        }
        problems = p.problems + list(inputs.problems)
        if values["leader_election"] and not _timings_ok(
                values["lease_duration"], values["renew_deadline"], values["retry_period"]):
            problems.append(LEASE_TIMINGS)
        if problems:
            raise ConfigError(problems)
        return cls(**values)


@dataclass(frozen=True)
class CliSettings:
    """What the commands that run no engine (`ork validate`, `ork generate`, `ork status`, `ork
    events`, `ork gate`, `ork control`) take from the environment. Unlike `Settings.from_env` it
    never refuses a value: each command uses a few of these, and one it does not use must not
    stop it. Defaults shared with `Settings` are read from there."""
    katalog: LoadInputs = field(default_factory=LoadInputs, repr=False)
    namespace: str = BUNDLE_NAMESPACE            # a bundle's namespace: NAMESPACE, ORK_NAMESPACE, else this
    tls_secret_name: str = Settings.tls_secret_name
    api_auth: str = Settings.api_auth            # ORK_API_AUTH; `api_auth_problems` when invalid
    api_auth_problems: tuple[str, ...] = ()
    kubeconfig: str = Settings.kubeconfig
    service_account_dir: str = Settings.service_account_dir
    service_host: str = Settings.service_host
    service_port: str = Settings.service_port
    url: str = "http://localhost:8080"           # ORK_URL: the runtime `ork status` asks
    color: bool = True                           # NO_COLOR (no-color.org) unset
    log_level: str = Settings.log_level          # LOG_LEVEL / LOG_FORMAT, for `ork control`,
    log_format: str = Settings.log_format        # lower-cased, not checked (as before)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "CliSettings":
        env = os.environ if env is None else env
        p = _Parser(env)
        return cls(
            katalog=katalog_inputs(env),
            namespace=_named_namespace(env) or cls.namespace,
            tls_secret_name=p.text("TLS_SECRET_NAME", cls.tls_secret_name),
            api_auth=_api_auth(p),
            api_auth_problems=tuple(p.problems),
            kubeconfig=p.text("KUBECONFIG", cls.kubeconfig),
            service_account_dir=_account_dir(env),
            service_host=p.text("KUBERNETES_SERVICE_HOST", cls.service_host),
            service_port=p.text("KUBERNETES_SERVICE_PORT", cls.service_port),
            url=p.text("ORK_URL", cls.url),
            color="NO_COLOR" not in env,
            log_level=p.text("LOG_LEVEL", cls.log_level).lower(),
            log_format=p.text("LOG_FORMAT", cls.log_format).lower(),
        )


def katalog_inputs(env: Mapping[str, str]) -> LoadInputs:
    """What the Katalog loader takes from `env`; a bad per-CRD default becomes one of `problems`
    (an error of the load report, or of `Settings.from_env`) and the built-in value applies."""
    problems: tuple[str, ...] = ()
    try:
        defaults = KatalogDefaults.from_env(env)
    except DefaultsError as err:
        defaults, problems = KatalogDefaults(), tuple(str(err).splitlines())
    hooks_path = tuple(x for x in (env.get("ORK_HOOKS_PATH") or "").split(os.pathsep) if x)
    credentials = {k: v for k, v in env.items() if k.startswith(CREDENTIAL_PREFIX)}
    return LoadInputs(hooks_path=hooks_path, registry=env.get("ORK_REGISTRY") or "", defaults=defaults,
                      problems=problems, credentials=credentials)


def _layered(env: Mapping[str, str], overrides: Mapping[str, str | None] | None) -> Mapping[str, str]:
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    return {**env, **given} if given else env


def _api_auth(p: "_Parser") -> str:
    return p.choice("ORK_API_AUTH", Settings.api_auth, API_AUTH_MODES)


def default_identity() -> str:
    """`<hostname>_<8 hex>`: unique per process, so two replicas on one host never collide."""
    return f"{socket.gethostname()}_{secrets.token_hex(4)}"


def _named_namespace(env: Mapping[str, str]) -> str:
    """Orkestra's own namespace as configured: NAMESPACE, then ORK_NAMESPACE; "" when neither."""
    return env.get("NAMESPACE") or env.get("ORK_NAMESPACE") or ""


def _account_dir(env: Mapping[str, str]) -> str:
    """Where the pod's ServiceAccount files are: ORK_SERVICE_ACCOUNT_DIR, else the standard mount."""
    return env.get("ORK_SERVICE_ACCOUNT_DIR") or SERVICE_ACCOUNT_DIR


def _own_namespace(account_dir: str, default: str) -> str:
    """The pod's namespace from the mounted ServiceAccount, else `default` (outside a pod)."""
    try:
        with open(os.path.join(account_dir, "namespace"), encoding="utf-8") as f:
            return f.read().strip() or default
    except OSError:
        return default


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
