"""Validation (docs/katalog.md#validation) and mutation (§12) rule evaluation."""
import copy

import pytest
from hypothesis import given, settings, strategies as st

from orkestra.conditions import MISSING
from orkestra.conditions.rules import (
    MutationError, RuleError, check_mutation_rules, check_validation_rules, compile_mutation,
    compile_validation, compute_mutation, evaluate_validation, validate,
)

# docs/packs.md
VALIDATION = [
    {"field": "spec.image", "prefix": "registry.internal/", "message": "images must come from registry.internal/"},
    {"field": "spec.replicas", "between": "1,20", "message": "replicas must be between 1 and 20"},
    {"field": "metadata.labels.team", "exists": True, "action": "warn", "message": "declare a team owner label"},
    {"field": "spec.approvalTicket", "regex": "^CHG-[0-9]{6}$",
     "message": "production changes need a CHG-nnnnnn ticket",
     "when": [{"field": "spec.environment", "equals": "production"}]},
    {"field": "spec.hostname", "unique": True, "message": "hostname already used by another ServiceApp"},
]


def app(**spec):
    return {"apiVersion": "apps.example.io/v1", "kind": "ServiceApp",
            "metadata": {"name": "payments", "namespace": "default", "uid": "u1"}, "spec": spec}


class TestValidation:
    def test_spec_example(self):
        out = evaluate_validation(VALIDATION, app(image="nginx:1.27", replicas=40, hostname="pay.example"))
        assert [v.text for v in out.denials] == [
            'field "spec.image": images must come from registry.internal/ (got: "nginx:1.27")',
            'field "spec.replicas": replicas must be between 1 and 20 (got: "40")',
        ]
        assert [v.text for v in out.warnings] == ['field "metadata.labels.team": declare a team owner label']
        assert [v.summary for v in out.warnings] == ['field "metadata.labels.team": declare a team owner label']
        assert out.errors == [] and not out.allowed
        # the gated approvalTicket rule is not listed; unique without a lookup is skipped
        assert [(r.field, r.status) for r in out.evaluated] == [
            ("spec.image", "denied"), ("spec.replicas", "denied"), ("metadata.labels.team", "warned"),
            ("spec.hostname", "skipped")]

    def test_all_rules_pass(self):
        obj = app(image="registry.internal/pay:1", replicas=3)
        obj["metadata"]["labels"] = {"team": "core"}
        out = evaluate_validation(VALIDATION, obj, unique=lambda *a: False)
        assert out.allowed and not out.warnings
        assert [r.status for r in out.evaluated] == ["passed"] * 4
        assert out.evaluated[1].value == "3"

    def test_gate_opens_the_rule(self):
        obj = app(image="registry.internal/x", replicas=1, environment="production", approvalTicket="CHG-12")
        out = evaluate_validation(VALIDATION, obj)
        assert [v.text for v in out.denials] == [
            'field "spec.approvalTicket": production changes need a CHG-nnnnnn ticket (got: "CHG-12")']

    def test_any_of_gate(self):
        rules = [{"field": "spec.size", "max": 3, "message": "too big",
                  "anyOf": [{"field": "spec.tier", "equals": "free"}, {"field": "spec.trial", "equals": "true"}]}]
        assert not evaluate_validation(rules, app(size=5, tier="free")).allowed
        assert not evaluate_validation(rules, app(size=5, trial=True)).allowed
        out = evaluate_validation(rules, app(size=5, tier="pro"))
        assert out.allowed and out.evaluated == []

    def test_got_is_left_out_for_empty_values(self):
        out = evaluate_validation([{"field": "spec.owner", "exists": True, "message": "owner required"}], app())
        assert out.denials[0].text == 'field "spec.owner": owner required'

    def test_a_secrets_values_are_described_never_quoted(self):
        """Issue 16 item 1: violation text reaches Events and /katalog; a Secret's value must not."""
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                  "data": {"password": "SHVudGVyMg=="}}
        rules = [{"field": "data.password", "regex": "^x", "message": "bad password"},
                 {"field": "{{ .data.password | b64dec }}", "equals": "x", "message": "not x", "action": "warn"}]
        out = evaluate_validation(rules, secret)
        assert out.denials[0].text == 'field "data.password": bad password (got: "string of 12 characters")'
        assert out.warnings[0].text.endswith('(got: "string of 7 characters")')
        assert "SHVudGVyMg" not in repr(out) and "Hunter2" not in repr(out)

    def test_message_is_a_template(self):
        rules = [{"field": "spec.replicas", "max": 5, "message": "{{ .metadata.name }} asks for {{ .spec.replicas }} replicas"}]
        out = evaluate_validation(rules, app(replicas=9))
        assert out.denials[0].text == 'field "spec.replicas": payments asks for 9 replicas (got: "9")'

    def test_template_field(self):
        rules = [{"field": "{{ .spec.a }}-{{ .spec.b }}", "equals": "x-y", "message": "must be x-y"}]
        assert evaluate_validation(rules, app(a="x", b="y")).allowed
        assert evaluate_validation(rules, app(a="x", b="z")).denials[0].value == "x-z"

    def test_default_message(self):
        out = evaluate_validation([{"field": "spec.replicas", "max": 5}], app(replicas=9))
        assert out.denials[0].text == 'field "spec.replicas": must satisfy max: 5 (got: "9")'

    def test_evaluation_errors_are_collected_not_raised(self):
        rules = [
            {"field": "{{ required \"need x\" .spec.x }}", "equals": "1", "message": "m"},
            {"field": "spec.replicas", "max": 5, "message": "{{ fail \"broken message\" }}"},
            {"field": "spec.replicas", "max": 5, "message": "too many"},
        ]
        out = evaluate_validation(rules, app(replicas=9))
        assert [f for f, _ in out.errors] == ["{{ required \"need x\" .spec.x }}", "spec.replicas"]
        assert "need x" in out.errors[0][1] and "broken message" in out.errors[1][1]
        assert [v.message for v in out.denials] == ["too many"]   # no fail-fast
        assert [r.status for r in out.evaluated] == ["error", "error", "denied"]

    def test_unique_lookup(self):
        seen = []

        def taken(field, value, scope, obj):
            seen.append((field, value, scope))
            return value == "used.example"

        rules = [{"field": "spec.hostname", "unique": True, "uniqueScope": "namespace", "message": "taken"}]
        out = evaluate_validation(rules, app(hostname="used.example"), unique=taken)
        assert out.denials[0].text == 'field "spec.hostname": taken (got: "used.example")'
        assert seen == [("spec.hostname", "used.example", "namespace")]
        assert evaluate_validation(rules, app(hostname="free.example"), unique=taken).allowed

    def test_unique_lookup_errors_become_rule_errors(self):
        def not_ready(*args):
            raise RuntimeError("cache not synced")
        out = evaluate_validation([{"field": "spec.h", "unique": True, "message": "m"}], app(h="x"), unique=not_ready)
        assert out.allowed and out.errors == [("spec.h", "cache not synced")]

    def test_unique_is_skipped_on_delete(self):
        rules = [{"field": "spec.h", "unique": True, "message": "m"}]
        out = evaluate_validation(rules, app(h="x"), unique=lambda *a: True, operation="DELETE")
        assert out.allowed and [r.status for r in out.evaluated] == ["skipped"]

    def test_time_gate_uses_the_injected_clock(self):
        from datetime import datetime, timezone
        rules = [{"field": "spec.freeze", "notExists": True, "message": "no changes at night",
                  "when": [{"time": {"after": "22:00", "before": "06:00"}}]}]
        night = lambda: datetime(2026, 3, 2, 23, 0, tzinfo=timezone.utc)  # noqa: E731
        noon = lambda: datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)  # noqa: E731
        assert not evaluate_validation(rules, app(freeze="yes"), clock=night).allowed
        assert evaluate_validation(rules, app(freeze="yes"), clock=noon).allowed

    def test_compiled_rules_are_reusable(self):
        compiled = compile_validation(VALIDATION)
        assert validate(compiled, app(image="registry.internal/a", replicas=2)).allowed
        assert not validate(compiled, app(image="docker.io/a", replicas=2)).allowed

    def test_bad_rules_raise_rule_error(self):
        with pytest.raises(RuleError) as err:
            compile_validation([{"field": "a", "regex": "("}])
        assert err.value.problems[0].startswith("rules[0].regex: invalid regex")

    def test_evaluate_validation_reports_uncompilable_rules_as_errors(self):
        out = evaluate_validation([{"field": "a", "max": "lots", "message": "m"}], app(a=9))
        assert out.allowed and out.evaluated == []
        assert out.errors == [("validation.rules", 'rules[0].max: value "lots" is not a number')]


class TestValidationChecks:
    def test_problems_name_the_rule_key(self):
        lines = check_validation_rules([
            {"message": "no field", "exists": True},
            {"field": "spec.a", "max": "abc", "action": "block"},
            {"field": "spec.b", "equals": "x", "message": "{{ .spec.b ", "when": [{"field": "x", "equal": 1}]},
            "not a map",
        ], "spec.crds.app.validation.rules")
        base = "spec.crds.app.validation.rules"
        assert lines[0] == f"{base}[0].field: is required (the path or template the rule checks)"
        assert f'{base}[1].max: value "abc" is not a number' in lines
        assert f'{base}[1].action: must be deny or warn, got "block"' in lines
        assert any(line.startswith(f"{base}[2].message: ") for line in lines)
        assert f'{base}[2].when[0].equal: unknown operator "equal" (did you mean "equals"?)' in lines
        assert lines[-1] == f"{base}[3]: a rule must be a map with field and an operator"

    def test_valid_rules(self):
        assert check_validation_rules(VALIDATION, "v") == []
        assert check_validation_rules({"field": "x"}, "v") == ["v: must be a list of rules"]


MUTATION = [
    {"field": "spec.replicas", "default": 2},
    {"field": "spec.environment", "default": "development"},
    {"field": "metadata.labels.tier", "override": "backend"},
]


class TestMutation:
    def test_spec_example_patch_and_message(self):
        obj = app(image="x")
        out = compute_mutation(MUTATION, obj)
        assert out.patch == [
            {"op": "add", "path": "/spec/replicas", "value": 2},
            {"op": "add", "path": "/spec/environment", "value": "development"},
            {"op": "add", "path": "/metadata/labels", "value": {"tier": "backend"}},
        ]
        assert out.obj["metadata"]["labels"] == {"tier": "backend"} and out.obj["spec"]["replicas"] == 2
        assert out.message == "defaults applied: spec.replicas=2, spec.environment=development, metadata.labels.tier=backend"
        assert [(c.path, c.old, c.new, c.kind) for c in out.applied] == [
            ("spec.replicas", MISSING, 2, "default"), ("spec.environment", MISSING, "development", "default"),
            ("metadata.labels.tier", MISSING, "backend", "override")]
        assert "labels" not in obj["metadata"] and "replicas" not in obj["spec"]   # input untouched

    def test_copies_the_object_only_when_a_rule_writes(self):
        """A mutation that changes nothing (the object a validating webhook receives after the
        mutating one) costs no copy: `.obj` is the input itself; the first write copies it."""
        done = app(image="x", replicas=2, environment="e")
        done["metadata"]["labels"] = {"tier": "backend"}
        unchanged = compute_mutation(MUTATION, done)
        assert unchanged.patch == [] and unchanged.obj is done
        partly = app(image="x", replicas=2)
        changed = compute_mutation(MUTATION, partly)
        assert changed.obj is not partly and changed.obj["spec"] is not partly["spec"]
        assert partly == app(image="x", replicas=2)                          # input untouched

    @pytest.mark.parametrize("current, applies", [(MISSING, True), (None, True), ("", True), (0, False), ("x", False)])
    def test_default_applies_to_absent_null_and_empty(self, current, applies):
        obj = app() if current is MISSING else app(v=current)
        out = compute_mutation([{"field": "spec.v", "default": "d"}], obj)
        assert (out.obj["spec"]["v"] == "d") is applies
        if applies:
            assert out.patch[0]["op"] == ("add" if current is MISSING else "replace")

    def test_override_replaces_and_equal_value_is_a_no_op(self):
        out = compute_mutation([{"field": "spec.image", "override": "b"}], app(image="a"))
        assert out.patch == [{"op": "replace", "path": "/spec/image", "value": "b"}]
        assert out.applied[0].old == "a"
        same = compute_mutation([{"field": "spec.image", "override": "a"}], app(image="a"))
        assert same.patch == [] and same.applied == []

    def test_equality_respects_types(self):
        out = compute_mutation([{"field": "spec.n", "override": 1}], app(n=True))
        assert out.patch == [{"op": "replace", "path": "/spec/n", "value": 1}]
        assert compute_mutation([{"field": "spec.n", "override": 2}], app(n=2.0)).patch == []

    def test_add_at_highest_missing_ancestor(self):
        obj = {"metadata": {"name": "x"}}
        out = compute_mutation([{"field": "spec.template.metadata.labels.app", "override": "web"}], obj)
        assert out.patch == [{"op": "add", "path": "/spec",
                              "value": {"template": {"metadata": {"labels": {"app": "web"}}}}}]

    def test_null_ancestor_is_replaced_with_nested_object(self):
        out = compute_mutation([{"field": "metadata.labels.tier", "override": "web"}], {"metadata": {"labels": None}})
        assert out.patch == [{"op": "replace", "path": "/metadata/labels", "value": {"tier": "web"}}]

    def test_json_pointer_escaping(self):
        obj = {"metadata": {"annotations": {}}}
        out = compute_mutation([{"field": 'metadata.annotations["example.com/a~b"]', "override": "1"}], obj)
        assert out.patch == [{"op": "add", "path": "/metadata/annotations/example.com~1a~0b", "value": "1"}]

    def test_rules_see_earlier_mutations(self):
        rules = [
            {"field": "metadata.labels.tier", "override": "web"},
            {"field": "metadata.labels.team", "default": "core"},            # labels now exist
            {"field": "spec.name", "override": "{{ .metadata.labels.tier }}-{{ .metadata.labels.team }}"},
            {"field": "spec.flag", "override": "on", "when": [{"field": "spec.name", "equals": "web-core"}]},
        ]
        out = compute_mutation(rules, {"metadata": {"name": "n"}, "spec": {}})
        assert out.patch == [
            {"op": "add", "path": "/metadata/labels", "value": {"tier": "web"}},
            {"op": "add", "path": "/metadata/labels/team", "value": "core"},
            {"op": "add", "path": "/spec/name", "value": "web-core"},
            {"op": "add", "path": "/spec/flag", "value": "on"},
        ]

    def test_gates(self):
        rules = [{"field": "spec.image", "override": "registry.internal/{{ .metadata.name }}:latest",
                  "when": [{"field": "spec.image", "notPrefix": "registry.internal/"}]}]
        assert compute_mutation(rules, app(image="nginx")).obj["spec"]["image"] == "registry.internal/payments:latest"
        assert compute_mutation(rules, app(image="registry.internal/x")).patch == []
        any_of = [{"field": "spec.x", "override": 1, "anyOf": [{"field": "spec.a", "exists": True}]}]
        assert compute_mutation(any_of, app()).patch == []

    @pytest.mark.parametrize("rule, expected", [
        ({"default": 2}, 2),
        ({"default": "2"}, "2"),                                   # quoted YAML string stays a string
        ({"default": True}, True),
        ({"default": "{{ .spec.n }}"}, 7),                         # one action: native type
        ({"default": "n={{ .spec.n }}"}, "n=7"),                   # mixed text: string
        ({"default": "{{ .spec.n }}", "valueType": "string"}, "7"),
        ({"default": "{{ .spec.s }}", "valueType": "int"}, 3),
        ({"default": "{{ .spec.s }}", "valueType": "float"}, 3.0),
        ({"default": "yes", "valueType": "string"}, "yes"),
        ({"default": 5, "valueType": "string"}, "5"),
        ({"default": "1", "valueType": "bool"}, True),
        ({"default": "4", "valueType": "int"}, 4),
    ])
    def test_value_types(self, rule, expected):
        out = compute_mutation([{"field": "spec.out", **rule}], app(n=7, s="3"))
        value = out.obj["spec"]["out"]
        assert value == expected and type(value) is type(expected)

    def test_template_rendering_nothing_skips_the_rule(self):
        out = compute_mutation([{"field": "spec.out", "default": "{{ .spec.absent }}"}], app())
        assert out.patch == [] and "out" not in out.obj["spec"]

    def test_list_items(self):
        obj = app(items=[{"name": "a"}, {"name": "b"}])
        out = compute_mutation([{"field": "spec.items[1].name", "override": "c"},
                                {"field": "spec.items.0.port", "default": 80}], obj)
        assert out.patch == [{"op": "replace", "path": "/spec/items/1/name", "value": "c"},
                             {"op": "add", "path": "/spec/items/0/port", "value": 80}]

    @pytest.mark.parametrize("rules, obj, fragment", [
        ([{"field": "spec.items[5].name", "override": "x"}], app(items=[]), '/spec/items has no item at "5"'),
        ([{"field": "spec.image.tag", "override": "x"}], app(image="nginx"), '/spec/image is a string at "tag"'),
        ([{"field": "spec.n", "override": "{{ .spec.s }}", "valueType": "int"}], app(s="abc"), 'is not a valid int'),
        ([{"field": "spec.n", "override": "{{ fail \"nope\" }}"}], app(), "nope"),
    ])
    def test_errors_name_the_rule(self, rules, obj, fragment):
        with pytest.raises(MutationError) as err:
            compute_mutation(rules, obj)
        assert fragment in str(err.value) and "spec." in str(err.value)

    def test_compiled_rules_are_memoised_by_content(self):
        first = compute_mutation(copy.deepcopy(MUTATION), app())
        second = compute_mutation(copy.deepcopy(MUTATION), app())
        assert first.patch == second.patch

    def test_bad_rules_raise_rule_error(self):
        with pytest.raises(RuleError):
            compile_mutation([{"field": "spec.a"}])

    def test_compute_mutation_raises_only_mutation_error(self):
        with pytest.raises(MutationError) as err:
            compute_mutation([{"field": "spec.a", "default": "abc", "valueType": "int"}], app())
        assert str(err.value) == 'invalid mutation rules: rules[0].default: "abc" is not a valid int'


class TestMutationChecks:
    def test_problems(self):
        base = "spec.crds.app.mutation.rules"
        lines = check_mutation_rules([
            {"field": "status.phase", "default": "x"},
            {"field": "spec.a", "default": 1, "override": 2},
            {"field": "spec.a"},
            {"field": "{{ .spec.x }}", "default": 1},
            {"field": "spec.a", "default": "abc", "valueType": "int"},
            {"field": "spec.a", "default": 1, "valueType": "integer", "defualt": 2},
            {"field": "spec.a", "override": "{{ .spec.b ", "when": [{"field": "x", "max": "y"}]},
        ], base)
        assert lines[:7] == [
            f"{base}[0].field: cannot mutate status (the API server ignores status in writes to the main resource)",
            f"{base}[1]: needs exactly one of default or override, not both",
            f"{base}[2]: needs exactly one of default or override",
            f"{base}[3].field: must be a dot path, not a template",
            f'{base}[4].default: "abc" is not a valid int',
            f"{base}[5].defualt: unknown key (allowed: anyOf, default, field, override, valueType, when)",
            f'{base}[5].valueType: unknown valueType "integer" (expected auto, string, int, float or bool)',
        ]
        assert lines[7].startswith(f"{base}[6].override: ")
        assert lines[8:] == [f'{base}[6].when[0].max: value "y" is not a number']

    def test_valid_rules(self):
        assert check_mutation_rules(MUTATION, "m") == []


# ---------------------------------------------------------------- property: patch == mutation


def apply_patch(doc, patch):
    """A minimal RFC 6902 applier for the `add`/`replace` operations mutation emits."""
    doc = copy.deepcopy(doc)
    for op in patch:
        assert op["op"] in ("add", "replace")
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1]
        if isinstance(parent, list):
            assert op["op"] == "replace" and int(last) < len(parent)
            parent[int(last)] = copy.deepcopy(op["value"])
        else:
            assert (last in parent) == (op["op"] == "replace"), op
            parent[last] = copy.deepcopy(op["value"])
    return doc


KEYS = ["a", "b", "c/d", "e~f", "0"]
leaves = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from(["", "x", "y"]))
trees = st.recursive(leaves, lambda inner: st.one_of(
    st.dictionaries(st.sampled_from(KEYS), inner, max_size=3), st.lists(inner, max_size=2)), max_leaves=12)
paths = st.lists(st.sampled_from(['a', 'b', '["c/d"]', '["e~f"]', "0"]), min_size=1, max_size=3).map(
    lambda parts: "spec." + ".".join(parts).replace(".[", "["))
rules = st.lists(st.builds(lambda field, kind, value: {"field": field, kind: value},
                           paths, st.sampled_from(["default", "override"]), leaves), max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.just("spec"), trees, max_size=1), rules)
def test_patch_applied_to_original_gives_mutated_object(obj, rule_list):
    try:
        out = compute_mutation(rule_list, obj)
    except MutationError:
        return                                   # a path through a scalar: nothing to compare
    assert apply_patch(obj, out.patch) == out.obj
    assert len(out.patch) == len(out.applied)


RULE_KEYS = st.one_of(st.sampled_from([
    "field", "default", "override", "valueType", "when", "anyOf", "message", "action", "equals",
    "max", "regex", "exists", "unique"]), st.integers(0, 2))
rule_garbage = st.recursive(
    st.one_of(leaves, st.sampled_from(["spec.a", "status.x", "{{ .spec.a }}", "{{ bad", "(", "1,2", "int"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(RULE_KEYS, inner, max_size=5)),
    max_leaves=15)


@settings(max_examples=300, deadline=None)
@given(rule_garbage, st.dictionaries(st.just("spec"), trees, max_size=1))
def test_rule_checks_and_evaluation_never_raise_unexpectedly(rule_list, obj):
    assert all(isinstance(p, str) for p in check_validation_rules(rule_list, "v"))
    assert all(isinstance(p, str) for p in check_mutation_rules(rule_list, "m"))
    outcome = evaluate_validation(rule_list, obj)
    assert len(outcome.evaluated) <= (len(rule_list) if isinstance(rule_list, list) else 0)
    try:
        compute_mutation(rule_list, obj)
    except MutationError as exc:
        assert str(exc)
