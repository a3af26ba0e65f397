import pytest

from orkestra.config import LEASE_TIMINGS, ConfigError, Settings


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
