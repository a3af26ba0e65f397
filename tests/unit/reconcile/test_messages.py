from orkestra.reconcile import messages


def test_reconciled_message():
    assert messages.reconciled(3, [("created", "Deployment default/web-deployment"),
                                   ("updated", "Service default/web-svc")]) == (
        "reconciled generation 3: created Deployment default/web-deployment, updated Service default/web-svc")
    assert messages.reconciled(4, []) == "reconciled generation 4"
    long = messages.reconciled(1, [("created", f"ConfigMap default/c{i:04d}") for i in range(200)])
    assert len(long) == 1024 and long.endswith("…")


def test_apply_failed_shows_three_then_count():
    failures = [(f"ConfigMap default/c{i}", "forbidden") for i in range(5)]
    assert messages.apply_failed(failures[:1]) == "apply failed: ConfigMap default/c0: forbidden"
    text = messages.apply_failed(failures)
    assert text.startswith("apply failed: ConfigMap default/c0: forbidden; ConfigMap default/c1: forbidden; ")
    assert text.endswith("… and 2 more") and "c3" not in text


def test_validation_and_mutation_messages():
    assert messages.validation_denied(['field "a": x', 'field "b": y']) == 'validation denied: field "a": x; field "b": y'
    assert messages.mutation_applied([("spec.replicas", None, 2, "default"),
                                      ("metadata.labels.tier", None, "web", "override")]) == (
        "defaults applied: spec.replicas=2, metadata.labels.tier=web")


def test_finalizer_messages():
    assert messages.finalizers("added", ["orkestra.io/finalizer"]) == "added finalizer orkestra.io/finalizer"
    assert messages.finalizers("removed", ["a", "b"]) == "removed finalizers a, b"
