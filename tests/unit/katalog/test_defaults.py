from __future__ import annotations

import pytest

from orkestra.katalog.defaults import DefaultsError, KatalogDefaults


def test_built_in_defaults():
    d = KatalogDefaults.from_env({})
    assert (d.workers, d.resync, d.queue_depth, d.failure_threshold, d.reconcile_timeout) == (3, 15.0, 100, 5, 300.0)


def test_environment_values_durations_and_bare_seconds():
    d = KatalogDefaults.from_env({"DEFAULT_WORKERS": "8", "DEFAULT_RESYNC": "30", "QUEUE_DEPTH": "0",
                                  "FAILURE_THRESHOLD": "2", "RECONCILE_TIMEOUT": "1m30s"})
    assert (d.workers, d.resync, d.queue_depth, d.failure_threshold, d.reconcile_timeout) == (8, 30.0, 0, 2, 90.0)
    assert KatalogDefaults.from_env({"DEFAULT_RESYNC": "0s"}).resync == 0.0


@pytest.mark.parametrize("var, value, expected", [
    ("DEFAULT_WORKERS", "lots", "an integer between 1 and 50"),
    ("DEFAULT_WORKERS", "51", "an integer between 1 and 50"),
    ("QUEUE_DEPTH", "-1", "an integer >= 0"),
    ("FAILURE_THRESHOLD", "0", "an integer >= 1"),
    ("DEFAULT_RESYNC", "500ms", "a duration such as 15s"),
    ("RECONCILE_TIMEOUT", "0", "a duration of at least 1s"),
    ("RECONCILE_TIMEOUT", "forever", "a duration of at least 1s"),
])
def test_invalid_values_name_the_variable(var, value, expected):
    with pytest.raises(DefaultsError) as exc:
        KatalogDefaults.from_env({var: value})
    assert str(exc.value).startswith(f'invalid {var} "{value}": expected {expected}')


def test_environment_defaults_reach_the_model_and_bad_env_is_a_load_error(report):
    body = "spec:\n  crds:\n    w:\n      apiTypes: {group: d.io, version: v1, kind: W, plural: ws}\n"
    r = report(body, env={"DEFAULT_WORKERS": "9", "DEFAULT_RESYNC": "1m", "QUEUE_DEPTH": "7",
                          "FAILURE_THRESHOLD": "4", "RECONCILE_TIMEOUT": "10s"})
    box = r.katalog.crds["w"].box_spec
    assert (box.workers, box.workers_source, box.resync, box.queue.max_depth, box.queue.failure_threshold,
            box.timeout) == (9, "default", 60.0, 7, 4, 10.0)
    assert r.katalog.enriched["spec"]["crds"]["w"]["operatorBox"]["reconciler"]["resync"] == "1m0s"
    assert "resync" not in r.katalog.canonical["spec"]["crds"]["w"].get("operatorBox", {}).get("reconciler", {})
    r = report(body, env={"DEFAULT_WORKERS": "x"})
    assert [e.message for e in r.errors] == ['invalid DEFAULT_WORKERS "x": expected an integer between 1 and 50']
