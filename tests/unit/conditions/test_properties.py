"""Property tests: conditions are total and `negate` is an exact inverse, on arbitrary objects."""
from datetime import datetime, timezone

import pytest
from hypothesis import assume, given, settings, strategies as st

from orkestra.conditions import ConditionError, check_condition_list, compile_condition, resolve_field

KEYS = ["a", "b", "spec", "x.y", "0", "1"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**6, max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32), st.text(max_size=8),
    st.sampled_from(["", "0", "5", "2.5", "true", "a,b", "Pending", " 7 "]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
    max_leaves=20,
)
objects = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5)
fields = st.sampled_from([
    "a", "b", "a.b", "spec.a", "a.0", "a[1]", 'a["x.y"]', "b.a.b", "spec", "a.0.b",
])
values = st.one_of(scalars, st.lists(scalars, max_size=3))
operator_names = st.sampled_from([
    "equals", "notEquals", "contains", "notContains", "prefix", "notPrefix", "suffix",
    "notSuffix", "regex", "exists", "notExists", "gt", "lt", "gte", "lte", "between",
    "notBetween", "in", "notIn", "typeOf", "unique",
])
shorthand_names = st.sampled_from([
    "equals", "contains", "prefix", "suffix", "notSuffix", "in", "notIn", "greaterThan",
    "lessThan", "min", "max", "greaterThanOrEqual", "lessThanOrEqual", "between",
])


@st.composite
def field_conditions(draw):
    cond = {"field": draw(fields)}
    if draw(st.booleans()):
        cond["operator"] = draw(operator_names)
        cond["value"] = draw(st.one_of(values, st.sampled_from(
            ["1,5", "-3,3.5", "string", "number", "map", "null", "^a", "[0-9]+"])))
    else:
        cond[draw(shorthand_names)] = draw(st.one_of(values, st.sampled_from(["1,5", "0,0"])))
    if draw(st.booleans()):
        cond["valueType"] = draw(st.sampled_from(["string", "int", "float", "bool"]))
    return cond


window_conditions = st.one_of(
    st.builds(lambda a, b: {"time": {"after": f"{a // 60:02d}:{a % 60:02d}", "before": f"{b // 60:02d}:{b % 60:02d}"}},
              st.integers(0, 1439), st.integers(0, 1439)).filter(lambda c: c["time"]["after"] != c["time"]["before"]),
    st.sampled_from([{"dayOfWeek": {"weekday": True}}, {"dayOfWeek": {"in": ["mon", "sun"]}},
                     {"cron": "*/7 1-20 * * mon-fri", "duration": "45m"}, {"cron": "@daily", "duration": "3h"}]),
)
instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                        timezones=st.just(timezone.utc))
zones = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"])


def compiled(cond):
    try:
        return compile_condition(cond)
    except ConditionError:
        assume(False)


def taken(field, value, scope, obj):
    return len(value) % 2 == 0


@settings(max_examples=250, deadline=None)
@given(field_conditions(), objects)
def test_field_condition_and_its_negation_always_disagree(cond, obj):
    plain = compiled(cond)
    negated = compiled({**cond, "negate": True})
    assert plain.evaluate(obj, unique=taken) is not negated.evaluate(obj, unique=taken)


@settings(max_examples=200, deadline=None)
@given(window_conditions, zones, instants)
def test_window_condition_and_its_negation_always_disagree(cond, zone, now):
    cond = {**cond, "timezone": zone}
    clock = lambda: now  # noqa: E731
    assert compiled(cond).evaluate({}, clock=clock) is not compiled({**cond, "negate": True}).evaluate({}, clock=clock)


@settings(max_examples=200, deadline=None)
@given(field_conditions(), json_values)
def test_evaluation_never_raises_on_any_object_shape(cond, obj):
    condition = compiled(cond)
    result = condition.evaluate({"a": obj, "b": {"a": obj}, "spec": obj})
    assert isinstance(result, bool)


@settings(max_examples=200, deadline=None)
@given(objects, fields)
def test_resolution_is_a_string_for_any_object(obj, field):
    assert isinstance(resolve_field(obj, field), str)


garbage = st.recursive(
    st.one_of(scalars, st.sampled_from(["field", "equals", "09:00", "@daily", "*/5 * * * *", "UTC", "("])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from([
            "field", "operator", "value", "valueType", "negate", "uniqueScope", "equals", "in",
            "between", "exists", "unique", "time", "after", "before", "dayOfWeek", "weekday", "in",
            "cron", "duration", "timezone", "regex", "typeOf", "max"]), st.integers(0, 3), st.booleans()),
            inner, max_size=5)),
    max_leaves=15,
)


@settings(max_examples=400, deadline=None)
@given(garbage)
def test_load_time_checks_never_raise_on_garbage(conds):
    problems = check_condition_list(conds, "when")
    assert isinstance(problems, list) and all(isinstance(p, str) for p in problems)
    if isinstance(conds, list):
        for cond in conds:
            try:
                compile_condition(cond)
            except ConditionError as exc:
                assert exc.problems


def test_a_time_window_with_keys_of_mixed_types_names_the_unknown_key():
    """Found by the property test above: sorting a YAML map's keys of str and int raised TypeError."""
    from orkestra.conditions.windows import TimeWindow
    with pytest.raises(ValueError, match='unknown key "0"'):
        TimeWindow.parse({"field": None, 0: None})
