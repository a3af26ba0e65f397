"""Pure status computation (docs/katalog.md#status, docs/runtime.md §10.2)."""
from orkestra.reconcile.status import (StatusField, compute_status, evaluate_fields, merge_diff,
                                       ready_condition, status_patch)

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"


def test_ready_condition_transition_time_only_changes_with_status():
    first = ready_condition([], ready=True, reason="Reconciled", message="ok", generation=1, now=T0)
    assert first == [{"type": "Ready", "status": "True", "reason": "Reconciled", "message": "ok",
                      "observedGeneration": 1, "lastTransitionTime": T0}]
    same = ready_condition(first, ready=True, reason="Reconciled", message="ok 2", generation=2, now=T1)
    assert same[0]["lastTransitionTime"] == T0 and same[0]["observedGeneration"] == 2
    flipped = ready_condition(same, ready=False, reason="ReconcileError", message="boom", generation=2, now=T1)
    assert flipped[0]["lastTransitionTime"] == T1 and flipped[0]["status"] == "False"


def test_other_condition_types_are_kept():
    other = {"type": "Available", "status": "True"}
    conds = ready_condition([other], ready=True, reason="Reconciled", message="", generation=1, now=T0)
    assert conds[0] == other and conds[1]["type"] == "Ready"


def test_success_sets_observed_generation_failure_keeps_it():
    ok = compute_status({}, generation=3, ok=True, reason="Reconciled", message="m", field_ops=[],
                        hook_status={}, conditions=True, now=T0)
    assert ok["observedGeneration"] == 3
    failed = compute_status({"observedGeneration": 2}, generation=3, ok=False, reason="ValidationDenied",
                            message="validation denied: x", field_ops=[], hook_status={}, conditions=True, now=T0)
    assert failed["observedGeneration"] == 2
    assert failed["conditions"][0]["reason"] == "ValidationDenied"


def test_conditions_off_writes_only_fields_and_hook_values_win():
    status = compute_status({}, generation=1, ok=True, reason="Reconciled", message="",
                            field_ops=[("set", "phase", "Running"), ("set", "a.b", 1)],
                            hook_status={"phase": "Hooked"}, conditions=False, now=T0)
    assert status == {"phase": "Hooked", "a": {"b": 1}}


def test_clear_removes_a_path():
    status = compute_status({"url": "https://x", "phase": "A"}, generation=1, ok=True, reason="Reconciled",
                            message="", field_ops=[("clear", "url", None)], hook_status={}, conditions=False, now=T0)
    assert status == {"phase": "A"}


def test_evaluate_fields_types_conditions_and_failure_rule():
    fields = [StatusField.compile(f) for f in [
        {"path": "phase", "value": "Pending", "when": [{"field": "status.phase", "notExists": True}]},
        {"path": "replicas", "type": "int", "value": "{{ .spec.replicas }}"},
        {"path": "url", "value": "https://{{ .spec.host }}", "when": [{"field": "spec.host", "exists": True}],
         "clearOnFalse": True},
        {"path": "ratio", "type": "float", "value": "1.5"},
        {"path": "enabled", "type": "boolean", "value": "true"},
        {"path": "bad", "type": "int", "value": "abc"},
    ]]
    cr = {"metadata": {"name": "x"}, "spec": {"replicas": "3"}}
    ops = evaluate_fields(fields, cr, extra={}, ok=True)
    assert ops == [("set", "phase", "Pending"), ("set", "replicas", 3), ("clear", "url", None),
                   ("set", "ratio", 1.5), ("set", "enabled", True)]
    failed = evaluate_fields(fields, cr, extra={}, ok=False)
    assert failed == [("set", "phase", "Pending"), ("clear", "url", None)]


def test_merge_diff_and_patch_only_when_changed():
    old = {"a": 1, "b": {"c": 2, "d": 3}, "e": [1]}
    new = {"a": 1, "b": {"c": 2}, "e": [1, 2], "f": "x"}
    assert merge_diff(old, new) == {"b": {"d": None}, "e": [1, 2], "f": "x"}
    assert status_patch(old, old) is None
    assert status_patch({}, {"phase": "A"}) == {"status": {"phase": "A"}}


def test_fields_that_render_nil_or_empty_are_omitted_and_converge_to_no_patch():
    fields = [StatusField.compile(f) for f in [
        {"path": "endpoint", "type": "auto", "value": "{{ .spec.endpoint }}"},
        {"path": "url", "value": "{{ .spec.host }}"},
        {"path": "info.port", "type": "int", "value": "{{ .spec.port }}"},
    ]]
    cr = {"metadata": {"name": "x"}, "spec": {}}
    ops = evaluate_fields(fields, cr, extra={}, ok=True)
    assert ops == [("clear", "endpoint", None), ("clear", "url", None), ("clear", "info.port", None)]
    stored = {"phase": "A"}          # what the server holds after the first write
    new = compute_status(stored, generation=1, ok=True, reason="Reconciled", message="", field_ops=ops,
                         hook_status={"hooked": None}, conditions=False, now=T0)
    assert status_patch(stored, new) is None
    before = {"url": "http://old", "info": {"port": 80, "other": 1}}
    new = compute_status(before, generation=1, ok=True, reason="Reconciled", message="", field_ops=ops,
                         hook_status={}, conditions=False, now=T0)
    assert status_patch(before, new) == {"status": {"url": None, "info": {"port": None}}}


def test_compute_status_never_modifies_the_cached_status():
    import copy
    cached = {"observedGeneration": 1, "a": {"b": 1, "c": {"d": 2}},
              "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": T0}]}
    snapshot = copy.deepcopy(cached)
    new = compute_status(cached, generation=2, ok=False, reason="ReconcileError", message="m",
                         field_ops=[("set", "a.c.d", 3), ("clear", "a.b", None), ("set", "x.y", 1)],
                         hook_status={"a.c.e": 4}, conditions=True, now=T1)
    assert cached == snapshot
    assert new["a"] == {"c": {"d": 3, "e": 4}} and new["x"] == {"y": 1}


def test_a_string_field_prints_a_literal_map_as_json():
    fields = [StatusField.compile({"path": "cfg", "value": {"a": True, "b": 2.0}}),
              StatusField.compile({"path": "on", "value": True})]
    assert evaluate_fields(fields, {"metadata": {}}, extra={}, ok=True) == [
        ("set", "cfg", '{"a":true,"b":2}'), ("set", "on", "true")]
