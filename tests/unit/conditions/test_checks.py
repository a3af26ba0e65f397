"""Load-time checks of condition lists: every problem, with its key path (docs/cli.md#ork-validate step 10)."""
import pytest

from orkestra.conditions import ConditionError, check_condition_list, compile_condition

P = "spec.crds.web.operatorBox.onReconcile.deployments[0].when"


def problems(cond) -> list[str]:
    return check_condition_list([cond], P)


@pytest.mark.parametrize("cond, expected", [
    ({"field": "a", "equal": "x"}, f'{P}[0].equal: unknown operator "equal" (did you mean "equals"?)'),
    ({"field": "a", "Prefix": "x"}, f'{P}[0].Prefix: unknown operator "Prefix" (did you mean "prefix"?)'),
    ({"field": "a", "operator": "equal", "value": 1},
     f'{P}[0].operator: unknown operator "equal" (did you mean "equals"?)'),
    ({"field": "a", "operator": "greaterThan", "value": 1},
     f'{P}[0].operator: unknown operator "greaterThan" (did you mean "gt"?)'),
    ({"field": "a", "gt": 1}, f'{P}[0].gt: "gt" is not a shorthand: write operator: gt with value:, or the shorthand "greaterThan:"'),
    ({"field": "a", "operator": "frobnicate", "value": 1}, f'{P}[0].operator: unknown operator "frobnicate"'),
    ({"field": "a", "equals": 1, "operator": "equals", "value": 1},
     f'{P}[0].equals: both operator and shorthand "equals" are set: use one of them'),
    ({"field": "a", "equals": 1, "prefix": "x"}, f'{P}[0].prefix: one operator per condition: both "equals" and "prefix" are set'),
    ({"field": "a", "regex": "(unclosed"},
     f'{P}[0].regex: invalid regex "(unclosed": missing ) at "(unclosed"'),
    ({"field": "a", "between": "5"}, f'{P}[0].between: "5" must be "min,max"'),
    ({"field": "a", "between": "9,1"}, f'{P}[0].between: "9,1": min is greater than max'),
    ({"field": "a", "between": "1,x"}, f'{P}[0].between: bound "x" is not a number'),
    ({"field": "a", "max": "lots"}, f'{P}[0].max: value "lots" is not a number'),
    ({"field": "a", "equals": "x", "valueType": "int"}, f'{P}[0].equals: value "x" is not a valid int'),
    ({"field": "a", "equals": 1, "valueType": "integer"},
     f'{P}[0].valueType: unknown valueType "integer" (expected string, int, float or bool)'),
    ({"field": "a", "max": 1, "valueType": "bool"}, f"{P}[0].max: valueType bool cannot be used with lte"),
    ({"field": "a", "operator": "typeOf", "value": "object"},
     f'{P}[0].value: "object" is not a type (expected one of string, number, bool, list, map, null)'),
    ({"field": "a", "operator": "equals"}, f'{P}[0].value: is required by operator "equals"'),
    ({"field": "a", "exists": "yes"}, f"{P}[0].exists: must be true or false"),
    ({"field": "a", "unique": False}, f"{P}[0].unique: must be true"),
    ({"field": "a", "equals": 1, "negate": "yes"}, f'{P}[0].negate: must be true or false, got "yes"'),
    ({"field": "a", "unique": True, "uniqueScope": "world"}, f'{P}[0].uniqueScope: must be cluster or namespace, got "world"'),
    ({"field": "a"}, f'{P}[0]: a field condition needs an operator: "operator:" with "value:", or a shorthand such as "equals:"'),
    ({"field": "", "equals": 1}, f"{P}[0].field: must be a non-empty string (a dot path or a template)"),
    ({"field": "a..b", "equals": 1}, f'{P}[0].field: bad field path "a..b": empty key at position 2'),
    ({"equals": 1}, f"{P}[0].field: is required"),
    ({"field": "a", "equals": 1, "value": 2}, f'{P}[0].value: is only used with operator:, not with the shorthand "equals"'),
    ({"field": "a", "equals": 1, "time": {"after": "09:00"}}, f'{P}[0].time: a condition has either "field" or "time", not both'),
    ({}, f"{P}[0]: a condition needs field (with an operator), time, dayOfWeek or cron"),
    ("spec.x", f"{P}[0]: a condition must be a map (field + operator, time, dayOfWeek or cron)"),
    ({"time": {"after": "25:00"}}, f'{P}[0].time: after: "25:00" is not a 24-hour time HH:MM'),
    ({"time": {"after": "9am"}}, f'{P}[0].time: after: "9am" is not a 24-hour time HH:MM'),
    ({"time": {"after": "09:00", "before": "09:00"}},
     f"{P}[0].time: after and before are the same time: the window would be empty"),
    ({"time": {"from": "09:00"}}, f'{P}[0].time: unknown key "from": expected "after" and/or "before"'),
    ({"time": "09:00-18:00"}, f'{P}[0].time: must be a map with "after" and/or "before" (HH:MM)'),
    ({"dayOfWeek": {"in": ["mon", "funday"]}},
     f'{P}[0].dayOfWeek: in: "funday" is not a day name (mon..sun or monday..sunday)'),
    ({"dayOfWeek": {"weekday": True, "weekend": True}},
     f"{P}[0].dayOfWeek: must have exactly one of weekday: true, weekend: true, in: [...], notIn: [...]"),
    ({"dayOfWeek": {"weekend": False}},
     f"{P}[0].dayOfWeek: weekend: must be true (use the other of weekday/weekend instead of false)"),
    ({"cron": "0 2 * *"}, f'{P}[0].cron: "0 2 * *" must have 5 fields (minute hour day month weekday)'),
    ({"cron": "0 25 * * *"}, f'{P}[0].cron: "0 25 * * *": bad hour'),
    ({"cron": "@fortnightly"},
     f'{P}[0].cron: unknown alias "@fortnightly" (expected one of @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually)'),
    ({"cron": "@daily", "duration": "2 hours"},
     f'{P}[0].duration: invalid duration \'2 hours\': expected a Go duration such as "500ms", "15s" or "1h30m"'),
    ({"cron": "@daily", "duration": "-1h"}, f'{P}[0].duration: "-1h" must be positive'),
    ({"cron": "@daily", "timezone": "Mars/Olympus"},
     f'{P}[0].timezone: unknown time zone "Mars/Olympus" (expected an IANA name such as "Europe/Berlin")'),
    ({"time": {"after": "09:00"}, "duration": "1h"},
     f'{P}[0].duration: unknown key "duration" in a time condition (allowed: negate, time, timezone)'),
    ({"time": {"after": "09:00"}, "cron": "@daily"},
     f'{P}[0].cron: a condition has one of time, dayOfWeek or cron, not both "time" and "cron"'),
])
def test_each_problem_is_reported_with_its_key(cond, expected):
    assert problems(cond) == [expected]


def test_all_problems_of_a_list_are_reported():
    lines = check_condition_list([
        {"field": "a", "equals": "ok"},
        {"field": "a", "regex": "("},
        {"field": "a", "between": "3,1", "valueType": "nope"},
        {"cron": "bad"},
    ], "when")
    assert [line.split(":")[0] for line in lines] == [
        "when[1].regex", "when[2].valueType", "when[2].between", "when[3].cron"]


def test_not_a_list():
    assert check_condition_list({"field": "a"}, "x.when") == ["x.when: must be a list of conditions"]
    assert check_condition_list(None, "x.when") == []


def test_template_syntax_errors_are_load_errors():
    [line] = problems({"field": "{{ .spec.x ", "equals": "y"})
    assert line.startswith(f"{P}[0].field: ")


def test_valid_conditions_have_no_problems():
    assert check_condition_list([
        {"field": "spec.x", "operator": "between", "value": "1,5", "valueType": "int"},
        {"field": "{{ .spec.y }}", "in": ["a", "b"]},
        {"time": {"after": "22:00", "before": "06:00"}, "timezone": "Europe/Paris", "negate": True},
        {"dayOfWeek": {"notIn": "sat,sun"}},
        {"cron": "0 2 * * SUN", "duration": "90m"},
        {"field": "spec.z", "unique": True, "uniqueScope": "namespace"},
    ], "when") == []


def test_compile_condition_raises_with_all_problems():
    with pytest.raises(ConditionError) as err:
        compile_condition({"field": "a", "between": "x", "negate": 1})
    assert [k for k, _ in err.value.problems] == ["negate", "between"]
