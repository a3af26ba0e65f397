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


TOO_LONG = 'ConfigMap "huge-config" is invalid: []: Too long: may not be more than 1048576 bytes'


def test_a_child_refused_for_its_size_names_the_crs_largest_field():
    """Issue 14 "Bad input": the API server names the child it refused; the CR field a template
    copied into it is the CR's largest string (nested, in a list, wherever it is)."""
    cr = {"apiVersion": "demo/v1", "kind": "Website", "metadata": {"name": "huge", "annotations": {"a": "b" * 300_000}},
          "spec": {"small": "x", "items": [{"blob": "y" * 400_000}, {"value": "z" * (1 << 20)}]}}
    failures = [("ConfigMap default/huge-config", TOO_LONG), ("Service default/huge-svc", "forbidden")]
    assert messages.name_big_fields(failures, cr) == [
        ("ConfigMap default/huge-config", TOO_LONG + " (CR field spec.items[1].value holds 1048576 characters)"),
        ("Service default/huge-svc", "forbidden")]
    assert messages.name_big_fields([("Secret default/s", "Request entity too large: limit is 3145728")], cr)[0][1] \
        .endswith("(CR field spec.items[1].value holds 1048576 characters)")


def test_no_field_is_named_when_the_refusal_is_not_about_size_or_no_field_is_big():
    big = {"spec": {"value": "z" * (1 << 20)}}
    assert messages.name_big_fields([("ConfigMap default/c", "forbidden")], big) == [("ConfigMap default/c", "forbidden")]
    small = {"spec": {"values": ["z" * 1000] * 2000}}      # too long as a whole, no one field to blame
    assert messages.name_big_fields([("ConfigMap default/c", TOO_LONG)], small) == [("ConfigMap default/c", TOO_LONG)]


def test_validation_and_mutation_messages():
    assert messages.validation_denied(['field "a": x', 'field "b": y']) == 'validation denied: field "a": x; field "b": y'
    assert messages.mutation_applied([("spec.replicas", None, 2, "default"),
                                      ("metadata.labels.tier", None, "web", "override")]) == (
        "defaults applied: spec.replicas=2, metadata.labels.tier=web")


def test_finalizer_messages():
    assert messages.finalizers("added", ["orkestra.io/finalizer"]) == "added finalizer orkestra.io/finalizer"
    assert messages.finalizers("removed", ["a", "b"]) == "removed finalizers a, b"
