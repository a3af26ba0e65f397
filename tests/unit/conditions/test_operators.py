"""Every operator and shorthand of the docs/katalog.md#conditions table, valueType and negate."""
import pytest

from orkestra.conditions import ConditionError, compile_condition, compile_conditions

OBJ = {
    "metadata": {"name": "web", "namespace": "shop", "labels": {"team": "core"}},
    "spec": {
        "image": "registry.internal/web:1.2",
        "replicas": 5,
        "ratio": 2.5,
        "whole": 10.0,
        "public": True,
        "text": "abc",
        "empty": "",
        "nothing": None,
        "phase": "Pending",
        "list": [],
        "map": {},
        "items": [1, 2],
        "conf": {"k": "v"},
        "padded": " 7 ",
    },
}


def holds(cond: dict, obj: dict = OBJ) -> bool:
    return compile_condition(cond).evaluate(obj)


# (condition, expected) for the string operators, in both operator and shorthand form
STRING_CASES = [
    ("equals", "spec.phase", "Pending", True),
    ("equals", "spec.phase", "pending", False),
    ("equals", "spec.replicas", 5, True),          # expected value stringified too
    ("equals", "spec.whole", "10", True),
    ("equals", "spec.public", True, True),
    ("equals", "spec.absent", "", True),
    ("notEquals", "spec.phase", "Running", True),
    ("notEquals", "spec.phase", "Pending", False),
    ("contains", "spec.image", "internal", True),
    ("contains", "spec.image", "docker", False),
    ("notContains", "spec.image", "docker", True),
    ("notContains", "spec.image", "web", False),
    ("prefix", "spec.image", "registry.internal/", True),
    ("prefix", "spec.image", "web", False),
    ("notPrefix", "spec.image", "docker.io/", True),
    ("notPrefix", "spec.image", "registry", False),
    ("suffix", "spec.image", ":1.2", True),
    ("suffix", "spec.image", ":latest", False),
    ("notSuffix", "spec.image", ":latest", True),
    ("notSuffix", "spec.image", "1.2", False),
    ("regex", "spec.image", r"web:\d+\.\d+$", True),
    ("regex", "spec.image", r"^web", False),       # re.search, anchors respected
    ("regex", "spec.image", r"internal", True),    # search, not fullmatch
]


@pytest.mark.parametrize("name, field, value, expected", STRING_CASES)
def test_string_operators_shorthand(name, field, value, expected):
    assert holds({"field": field, name: value}) is expected


@pytest.mark.parametrize("name, field, value, expected", STRING_CASES)
def test_string_operators_operator_form(name, field, value, expected):
    assert holds({"field": field, "operator": name, "value": value}) is expected


@pytest.mark.parametrize("field, expected", [
    ("spec.phase", True), ("spec.replicas", True), ("spec.public", True),
    ("spec.absent", False), ("spec.nothing", False), ("spec.empty", False),
    ("spec.list", False), ("spec.map", False), ("spec.items", True), ("spec.conf", True),
])
def test_exists_and_not_exists(field, expected):
    assert holds({"field": field, "exists": True}) is expected
    assert holds({"field": field, "operator": "exists"}) is expected
    assert holds({"field": field, "exists": False}) is (not expected)
    assert holds({"field": field, "notExists": True}) is (not expected)
    assert holds({"field": field, "notExists": False}) is expected
    assert holds({"field": field, "operator": "notExists"}) is (not expected)


NUMERIC_CASES = [
    # shorthand, operator, field, value, expected
    ("greaterThan", "gt", "spec.replicas", 4, True),
    ("greaterThan", "gt", "spec.replicas", 5, False),
    ("lessThan", "lt", "spec.replicas", 6, True),
    ("lessThan", "lt", "spec.replicas", 5, False),
    ("min", "gte", "spec.replicas", 5, True),
    ("greaterThanOrEqual", "gte", "spec.replicas", 6, False),
    ("max", "lte", "spec.replicas", 5, True),
    ("lessThanOrEqual", "lte", "spec.replicas", 4, False),
    ("greaterThan", "gt", "spec.ratio", "2.4", True),
    ("lessThan", "lt", "spec.whole", "10.5", True),
    ("max", "lte", "spec.absent", 0, True),           # empty counts as 0
    ("lessThan", "lt", "spec.empty", 1, True),
    ("greaterThan", "gt", "spec.text", -100, False),   # unparseable -> false
    ("lessThan", "lt", "spec.text", 100, False),
    ("min", "gte", "spec.padded", 7, True),            # surrounding spaces are trimmed
]


@pytest.mark.parametrize("short, name, field, value, expected", NUMERIC_CASES)
def test_numeric_operators(short, name, field, value, expected):
    assert holds({"field": field, short: value}) is expected
    assert holds({"field": field, "operator": name, "value": value}) is expected


@pytest.mark.parametrize("value, field, expected", [
    ("1,5", "spec.replicas", True),
    ("5,9", "spec.replicas", True),          # inclusive
    ("6,9", "spec.replicas", False),
    ([1, 20], "spec.replicas", True),        # YAML list form
    (" 2 , 3 ", "spec.ratio", True),
    ("0,0", "spec.absent", True),            # empty is 0
    ("0,10", "spec.text", False),            # unparseable -> false
])
def test_between(value, field, expected):
    assert holds({"field": field, "between": value}) is expected
    assert holds({"field": field, "operator": "between", "value": value}) is expected


@pytest.mark.parametrize("value, field, expected", [
    ("1,4", "spec.replicas", True),
    ("1,5", "spec.replicas", False),
    ("0,10", "spec.text", False),            # unparseable makes notBetween false as well
])
def test_not_between(value, field, expected):
    assert holds({"field": field, "notBetween": value}) is expected


@pytest.mark.parametrize("value, field, expected", [
    ("Pending,Running", "spec.phase", True),
    ("Running, Pending", "spec.phase", True),      # items trimmed
    (["Running", " Pending "], "spec.phase", True),
    ("Running,Failed", "spec.phase", False),
    (",Pending", "spec.absent", True),             # leading comma: empty matches
    ("Running,Pending", "spec.absent", False),
    ([5, 6], "spec.replicas", True),
    ("10", "spec.whole", True),
])
def test_in_and_not_in(value, field, expected):
    assert holds({"field": field, "in": value}) is expected
    assert holds({"field": field, "operator": "in", "value": value}) is expected
    assert holds({"field": field, "notIn": value}) is (not expected)


@pytest.mark.parametrize("field, type_name", [
    ("spec.text", "string"), ("spec.replicas", "number"), ("spec.ratio", "number"),
    ("spec.public", "bool"), ("spec.items", "list"), ("spec.conf", "map"),
    ("spec.nothing", "null"), ("spec.absent", "null"),
])
def test_type_of(field, type_name):
    assert holds({"field": field, "operator": "typeOf", "value": type_name})
    others = {"string", "number", "bool", "list", "map", "null"} - {type_name}
    assert not any(holds({"field": field, "operator": "typeOf", "value": t}) for t in others)


def test_type_of_template_field_sees_native_value():
    assert holds({"field": "{{ .spec.replicas }}", "operator": "typeOf", "value": "number"})
    assert holds({"field": "{{ .spec.conf }}", "operator": "typeOf", "value": "map"})


class TestValueType:
    def test_int_equality_parses_both_sides(self):
        obj = {"spec": {"n": "007"}}
        assert holds({"field": "spec.n", "equals": 7, "valueType": "int"}, obj)
        assert not holds({"field": "spec.n", "equals": "7"}, obj)        # strings differ

    def test_float_equality(self):
        obj = {"spec": {"n": "2.50"}}
        assert holds({"field": "spec.n", "equals": "2.5", "valueType": "float"}, obj)

    def test_bool_equality_uses_go_parse_bool(self):
        obj = {"spec": {"a": "True", "b": "0", "c": "maybe"}}
        assert holds({"field": "spec.a", "equals": True, "valueType": "bool"}, obj)
        assert holds({"field": "spec.b", "equals": "false", "valueType": "bool"}, obj)
        assert not holds({"field": "spec.c", "equals": "false", "valueType": "bool"}, obj)
        assert holds({"field": "spec.c", "notEquals": "false", "valueType": "bool"}, obj)

    def test_int_ordering_is_exact_for_large_numbers(self):
        obj = {"spec": {"n": 2**60 + 1}}
        assert holds({"field": "spec.n", "greaterThan": 2**60, "valueType": "int"}, obj)

    def test_string_ordering_is_lexicographic(self):
        obj = {"spec": {"v": "b"}}
        assert holds({"field": "spec.v", "greaterThan": "a", "valueType": "string"}, obj)
        assert holds({"field": "spec.v", "greaterThan": "a10", "valueType": "string"}, {"spec": {"v": "a9"}})
        assert not holds({"field": "spec.v", "greaterThan": 1}, {"spec": {"v": "a9"}})  # no valueType: numeric

    def test_typed_in_list(self):
        obj = {"spec": {"n": "3.0"}}
        assert holds({"field": "spec.n", "in": "1,2,3", "valueType": "int"}, obj)

    def test_unparseable_int_is_false_for_ordering(self):
        obj = {"spec": {"n": "2.5"}}
        assert not holds({"field": "spec.n", "greaterThan": 1, "valueType": "int"}, obj)
        assert holds({"field": "spec.n", "greaterThan": 1, "valueType": "int", "negate": True}, obj)


@pytest.mark.parametrize("cond", [
    {"field": "spec.phase", "equals": "Pending"},
    {"field": "spec.replicas", "max": 3},
    {"field": "spec.absent", "exists": True},
    {"field": "spec.text", "between": "1,2"},
])
def test_negate_inverts(cond):
    assert holds(cond) is not holds({**cond, "negate": True})


class TestUnique:
    def test_without_lookup_passes(self):
        assert holds({"field": "spec.text", "unique": True})

    def test_lookup_receives_field_value_scope_and_object(self):
        calls = []

        def taken(field, value, scope, obj):
            calls.append((field, value, scope, obj["metadata"]["name"]))
            return value == "abc"

        cond = compile_condition({"field": "spec.text", "unique": True, "uniqueScope": "namespace"})
        assert cond.evaluate(OBJ, unique=taken) is False
        assert calls == [("spec.text", "abc", "namespace", "web")]
        assert compile_condition({"field": "spec.phase", "operator": "unique"}).evaluate(OBJ, unique=taken)

    def test_empty_value_never_collides(self):
        def taken(*args):
            raise AssertionError("lookup must not be called for an empty value")
        assert compile_condition({"field": "spec.absent", "unique": True}).evaluate(OBJ, unique=taken)


class TestConditionSet:
    def test_when_requires_all(self):
        cs = compile_conditions([{"field": "spec.phase", "equals": "Pending"},
                                 {"field": "spec.replicas", "min": 9}], None)
        assert not cs.evaluate(OBJ)

    def test_any_of_requires_one(self):
        cs = compile_conditions(None, [{"field": "spec.phase", "equals": "Running"},
                                       {"field": "spec.replicas", "min": 5}])
        assert cs.evaluate(OBJ)
        cs = compile_conditions(None, [{"field": "spec.phase", "equals": "Running"}])
        assert not cs.evaluate(OBJ)

    def test_both_groups_must_pass(self):
        cs = compile_conditions([{"field": "spec.public", "equals": "true"}],
                                [{"field": "spec.phase", "equals": "Running"}])
        assert not cs.evaluate(OBJ)

    def test_empty_set_is_true_and_falsy(self):
        cs = compile_conditions(None, [])
        assert cs.evaluate(OBJ) and not cs

    def test_template_field_uses_extra_context(self):
        cs = compile_conditions([{"field": "{{ .item.name }}", "equals": "a"}], None)
        assert cs.evaluate(OBJ, extra={"item": {"name": "a"}})
        assert not cs.evaluate(OBJ, extra={"item": {"name": "b"}})

    def test_compile_errors_name_the_list_and_index(self):
        with pytest.raises(ConditionError) as err:
            compile_conditions([{"field": "a", "equals": 1}], [{"field": "a", "regex": "("}])
        assert err.value.lines("spec.x") == [
            'spec.x.anyOf[0].regex: invalid regex "(": missing ) at "("']
