import dataclasses
import os
import re
from pathlib import Path

import pytest

from orkestra.config import LEASE_TIMINGS, CliSettings, ConfigError, Settings, katalog_inputs
from orkestra.katalog.defaults import KatalogDefaults
from orkestra.kube.client import SERVICE_ACCOUNT_DIR
from orkestra.webhooks.switches import WebhookSettings


def test_defaults():
    s = Settings.from_env({"POD_NAME": "pod-1"})
    assert (s.port, s.webhook_port, s.bind_address, s.http_threads) == (8080, 8443, "0.0.0.0", 8
                                                                        )
    assert (s.lease_duration, s.renew_deadline, s.retry_period) == (15, 10, 5)
    assert s.drain_timeout == 30 and s.crd_check_interval == 10 and s.watch_stall_timeout == 90
    assert s.leader_election and s.log_level == "info" and s.log_format == "json"
    assert s.pod_name == "pod-1"
    assert s.katalog.defaults.workers == 3 and s.katalog.defaults.reconcile_timeout == 300


def test_values_are_parsed():
    s = Settings.from_env({"ORK_PORT": "9090", "LEADER_ELECTION": "No", "DRAIN_TIMEOUT": "1m30s",
                           "LEASE_DURATION": "6", "RENEW_DEADLINE": "4", "RETRY_PERIOD": "2",
                           "ORK_NAMESPACE": "ops", "LOG_LEVEL": "DEBUG", "ORK_HOOKS_PATH": "/a:/b",
                           "DEFAULT_WORKERS": "7"})
    assert s.port == 9090 and not s.leader_election and s.drain_timeout == 90
    assert (s.lease_duration, s.renew_deadline, s.retry_period) == (6, 4, 2)
    assert s.namespace == "ops" and s.log_level == "debug" and s.katalog.hooks_path == ("/a", "/b")
    assert s.katalog.defaults.workers == 7


def test_namespace_wins_over_alias_and_default_identity_is_unique():
    assert Settings.from_env({"NAMESPACE": "a", "ORK_NAMESPACE": "b"}).namespace == "a"
    one, two = Settings.from_env({}).pod_name, Settings.from_env({}).pod_name
    assert one != two and "_" in one and len(one.rsplit("_", 1)[1]) == 8


@pytest.mark.parametrize("var,value,expected", [
    ("ORK_PORT", "http", 'invalid ORK_PORT "http": expected a port number between 1 and 65535'),
    ("ORK_PORT", "70000", 'invalid ORK_PORT "70000": expected a port number between 1 and 65535'),
    ("LEADER_ELECTION", "maybe", 'invalid LEADER_ELECTION "maybe": expected true, false, 1, 0, yes or no'),
    ("LOG_LEVEL", "verbose", 'invalid LOG_LEVEL "verbose": expected one of debug, info, warn, error'),
    ("DRAIN_TIMEOUT", "soon", 'invalid DRAIN_TIMEOUT "soon": expected a non-negative duration such as "30s" or "1m"'),
    ("HTTP_THREADS", "0", 'invalid HTTP_THREADS "0": expected an integer >= 1'),
    ("DEFAULT_WORKERS", "lots", 'invalid DEFAULT_WORKERS "lots": expected an integer between 1 and 50'),
])
def test_invalid_values_name_the_variable(var, value, expected):
    with pytest.raises(ConfigError) as err:
        Settings.from_env({var: value})
    assert err.value.problems == [expected]


def test_every_problem_is_reported():
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"ORK_PORT": "x", "LOG_FORMAT": "xml"})
    assert len(err.value.problems) == 2


def test_lease_timings_must_be_ordered():
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"LEASE_DURATION": "10", "RENEW_DEADLINE": "10", "RETRY_PERIOD": "2"})
    assert err.value.problems == [LEASE_TIMINGS]
    with pytest.raises(ConfigError):
        Settings.from_env({"LEASE_DURATION": "15", "RENEW_DEADLINE": "6", "RETRY_PERIOD": "5"})
    assert Settings.from_env({"LEADER_ELECTION": "false", "RENEW_DEADLINE": "20"}).renew_deadline == 20


def test_duration_variables_accept_bare_seconds():
    """README conventions: environment variables that hold seconds also accept a bare integer
    (as DEFAULT_RESYNC and RECONCILE_TIMEOUT already do)."""
    s = Settings.from_env({"DRAIN_TIMEOUT": "45", "CRD_CHECK_INTERVAL": "3", "WATCH_STALL_TIMEOUT": "120",
                           "WEBHOOK_RESYNC": "60"})
    assert (s.drain_timeout, s.crd_check_interval, s.watch_stall_timeout, s.webhook_resync) == (45, 3, 120, 60)
    with pytest.raises(ConfigError):
        Settings.from_env({"CRD_CHECK_INTERVAL": "0"})


def test_own_namespace_comes_from_the_service_account_dir(tmp_path):
    """Without NAMESPACE, the pod's namespace file under ORK_SERVICE_ACCOUNT_DIR (kube.client's seam)."""
    env = {"ORK_SERVICE_ACCOUNT_DIR": str(tmp_path)}
    assert Settings.from_env(env).namespace == "default"      # no file: outside a pod
    (tmp_path / "namespace").write_text("orkestra-system\n")
    assert Settings.from_env(env).namespace == "orkestra-system"
    assert Settings.from_env({**env, "NAMESPACE": "ops"}).namespace == "ops"


# --- issue 10 item 4: one Settings, parsed once, defaults written once -------------------------


RUNTIME_MD = Path(__file__).resolve().parents[3] / "docs" / "runtime.md"


@pytest.mark.parametrize("var,value,attr,expected", [
    ("ORK_PORT", "9000", "port", 9000),
    ("ORK_WEBHOOK_PORT", "9443", "webhook_port", 9443),
    ("ORK_BIND_ADDRESS", "127.0.0.1", "bind_address", "127.0.0.1"),
    ("HTTP_THREADS", "2", "http_threads", 2),
    ("ORK_API_AUTH", "Kubernetes", "api_auth", "kubernetes"),
    ("ORK_API_AUTH_SUMMARIES", "open", "api_auth_summaries", "open"),
    ("ENABLE_CONVERSION", "yes", "enable_conversion", True),
    ("ENABLE_ADMISSION_WEBHOOK", "1", "enable_admission_webhook", True),
    ("TLS_CERT", "/tls/crt", "tls_cert", "/tls/crt"),
    ("TLS_KEY", "/tls/key", "tls_key", "/tls/key"),
    ("TLS_CA", "/tls/ca", "tls_ca", "/tls/ca"),
    ("TLS_SECRET_NAME", "my-tls", "tls_secret_name", "my-tls"),
    ("ORK_WEBHOOK_URL", "https://hooks:8443", "webhook_url", "https://hooks:8443"),
    ("DRAIN_TIMEOUT", "2m", "drain_timeout", 120),
    ("CONVERSION_WINDOW", "10", "conversion_window", 10),
    ("LOG_LEVEL", "warn", "log_level", "warn"),
    ("LOG_FORMAT", "TEXT", "log_format", "text"),
    ("NAMESPACE", "ops", "namespace", "ops"),
    ("ORK_NAMESPACE", "ops2", "namespace", "ops2"),
    ("WATCH_NAMESPACE", "apps", "watch_namespace", "apps"),
    ("ORK_SERVICE_NAME", "orkestra", "service_name", "orkestra"),
    ("ORK_GATEWAY_ENDPOINT", "http://gw:8080", "gateway_endpoint", "http://gw:8080"),
    ("LEADER_ELECTION", "false", "leader_election", False),
    ("POD_NAME", "pod-7", "pod_name", "pod-7"),
    ("CRD_CHECK_INTERVAL", "1m", "crd_check_interval", 60),
    ("WATCH_STALL_TIMEOUT", "30", "watch_stall_timeout", 30),
    ("WEBHOOK_RESYNC", "5s", "webhook_resync", 5),
    ("KUBECONFIG", "/k/config", "kubeconfig", "/k/config"),
    ("ORK_SERVICE_ACCOUNT_DIR", "/mnt/sa", "service_account_dir", "/mnt/sa"),
])
def test_each_variable_sets_its_field(var, value, attr, expected):
    assert getattr(Settings.from_env({var: value}), attr) == expected


@pytest.mark.parametrize("var,value,attr,expected", [
    ("ORK_HOOKS_PATH", f"/a{os.pathsep}{os.pathsep}/b", "hooks_path", ("/a", "/b")),
    ("ORK_REGISTRY", "https://reg.example.com", "registry", "https://reg.example.com"),
    ("DEFAULT_WORKERS", "4", "defaults", KatalogDefaults(workers=4)),
    ("DEFAULT_RESYNC", "0", "defaults", KatalogDefaults(resync=0.0)),
    ("QUEUE_DEPTH", "7", "defaults", KatalogDefaults(queue_depth=7)),
    ("FAILURE_THRESHOLD", "2", "defaults", KatalogDefaults(failure_threshold=2)),
    ("RECONCILE_TIMEOUT", "1m", "defaults", KatalogDefaults(reconcile_timeout=60.0)),
])
def test_the_katalog_variables_travel_as_load_inputs(var, value, attr, expected):
    assert getattr(Settings.from_env({var: value}).katalog, attr) == expected
    assert getattr(katalog_inputs({var: value}), attr) == expected


def test_every_default_is_the_field_default(tmp_path):
    """Issue 10 item 4: from_env takes each default from the dataclass field, not a second copy."""
    parsed = Settings.from_env({"POD_NAME": "p", "ORK_SERVICE_ACCOUNT_DIR": str(tmp_path)})
    assert parsed == Settings(pod_name="p", service_account_dir=str(tmp_path))
    assert parsed.katalog.defaults == KatalogDefaults() and parsed.katalog.hooks_path == ()
    assert Settings().service_account_dir == SERVICE_ACCOUNT_DIR
    assert Settings().service_name == ""          # unset: security.serviceName, else orkestra


def test_webhook_settings_are_a_view_of_settings():
    """WebhookSettings declares no default of its own: each is Settings' (issue 10 item 4)."""
    assert WebhookSettings() == WebhookSettings.from_settings(Settings())
    custom = Settings.from_env({"ENABLE_CONVERSION": "true", "ORK_WEBHOOK_PORT": "9443", "NAMESPACE": "ops",
                                "WEBHOOK_RESYNC": "1m", "CONVERSION_WINDOW": "5", "TLS_SECRET_NAME": "t",
                                "ORK_SERVICE_NAME": "orkestra", "ORK_GATEWAY_ENDPOINT": "http://gw"})
    ws = WebhookSettings.from_settings(custom)
    assert (ws.enable_conversion, ws.port, ws.namespace, ws.resync, ws.window, ws.tls_secret_name) == \
        (True, 9443, "ops", 60, 5, "t")
    assert ws.service_name == "orkestra" and ws.gateway_endpoint == "http://gw"


def test_flags_override_the_environment_without_writing_it(monkeypatch):
    monkeypatch.delenv("ORK_PORT", raising=False)
    env = {"ORK_PORT": "8081", "NAMESPACE": "from-env"}
    s = Settings.from_env(env, overrides={"ORK_PORT": "9090", "NAMESPACE": None, "LOG_LEVEL": "debug"})
    assert (s.port, s.namespace, s.log_level) == (9090, "from-env", "debug")
    assert env == {"ORK_PORT": "8081", "NAMESPACE": "from-env"} and "ORK_PORT" not in os.environ
    with pytest.raises(ConfigError) as err:
        Settings.from_env({}, overrides={"ORK_PORT": "70000"})
    assert err.value.problems == ['invalid ORK_PORT "70000": expected a port number between 1 and 65535']


def test_a_bad_katalog_default_is_a_settings_problem_and_a_load_input_problem():
    expected = 'invalid QUEUE_DEPTH "-1": expected an integer >= 0'
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"QUEUE_DEPTH": "-1"})
    assert err.value.problems == [expected]
    inputs = katalog_inputs({"QUEUE_DEPTH": "-1"})
    assert inputs.problems == (expected,) and inputs.defaults == KatalogDefaults()


def test_registry_credentials_are_never_printed():
    inputs = katalog_inputs({"ORK_REGISTRY": "https://r", "ORK_REGISTRY_TOKEN": "s3cret"})
    assert inputs.credentials["ORK_REGISTRY_TOKEN"] == "s3cret"
    assert "s3cret" not in repr(inputs) and "s3cret" not in repr(Settings.from_env(
        {"ORK_REGISTRY_TOKEN": "s3cret"}))


def test_only_the_registry_credentials_travel_to_the_loader():
    """The loader may look up only ORK_REGISTRY_* names; no other secret of the environment
    (ADMIN_PASSWORD, a cloud key) rides along in Settings or CliSettings."""
    env = {"ORK_REGISTRY_TOKEN": "t", "ORK_REGISTRY": "https://r", "ADMIN_PASSWORD": "pw", "AWS_SECRET_ACCESS_KEY": "k"}
    assert katalog_inputs(env).credentials == {"ORK_REGISTRY_TOKEN": "t"}
    assert Settings.from_env(env).katalog.credentials == {"ORK_REGISTRY_TOKEN": "t"}
    assert CliSettings.from_env(env).katalog.credentials == {"ORK_REGISTRY_TOKEN": "t"}


def test_cli_settings_never_refuse_a_value():
    """The commands that run no engine read a few variables and must not stop on another."""
    c = CliSettings.from_env({"ORK_PORT": "http", "ORK_API_AUTH": "maybe", "DEFAULT_WORKERS": "lots"})
    assert c.api_auth == "none"
    assert c.api_auth_problems == ('invalid ORK_API_AUTH "maybe": expected one of none, kubernetes',)
    assert c.katalog.problems == ('invalid DEFAULT_WORKERS "lots": expected an integer between 1 and 50',)


def test_cli_settings_defaults_and_values():
    d = CliSettings.from_env({})
    assert (d.namespace, d.tls_secret_name, d.api_auth, d.url, d.color) == \
        ("orkestra-system", Settings.tls_secret_name, "none", "http://localhost:8080", True)
    assert (d.kubeconfig, d.service_account_dir, d.log_level, d.log_format) == ("", SERVICE_ACCOUNT_DIR, "info", "json")
    c = CliSettings.from_env({"ORK_NAMESPACE": "b", "TLS_SECRET_NAME": "t", "ORK_API_AUTH": "kubernetes",
                              "ORK_URL": "http://rt:8080", "NO_COLOR": "", "KUBECONFIG": "/k",
                              "ORK_SERVICE_ACCOUNT_DIR": "/sa", "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "Text"})
    assert (c.namespace, c.tls_secret_name, c.api_auth, c.url, c.color) == ("b", "t", "kubernetes", "http://rt:8080", False)
    assert (c.kubeconfig, c.service_account_dir, c.log_level, c.log_format) == ("/k", "/sa", "debug", "text")
    assert CliSettings.from_env({"NAMESPACE": "a", "ORK_NAMESPACE": "b"}).namespace == "a"


def test_every_documented_variable_is_parsed_in_config():
    """docs/runtime.md §15 lists the environment; each variable there is read by orkestra/config.py
    (the per-CRD defaults by the KatalogDefaults parser it calls), so the page stays true."""
    section = RUNTIME_MD.read_text().split("## 15. Environment variables", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", "\n".join(
        line.split("|")[1] for line in section.splitlines() if line.startswith("| `"))))
    assert {"ORK_PORT", "KUBECONFIG", "ORK_SERVICE_NAME", "DEFAULT_WORKERS"} <= documented
    config_dir = Path(__file__).resolve().parents[3] / "orkestra"
    source = (config_dir / "config.py").read_text() + (config_dir / "katalog" / "defaults.py").read_text()
    missing = sorted(v for v in documented if f'"{v}"' not in source)
    assert missing == []


def test_settings_are_frozen_and_replace_keeps_the_katalog_inputs():
    s = Settings.from_env({"ORK_HOOKS_PATH": "/h"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.port = 1  # type: ignore[misc]
    assert dataclasses.replace(s, context="kind").katalog.hooks_path == ("/h",)
