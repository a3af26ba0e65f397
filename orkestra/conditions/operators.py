"""The field-condition operators of docs/katalog.md#conditions, as one table.

`OPERATORS` names every `operator:` value; `SHORTHANDS` maps every shorthand key to the operator
it stands for. `build_test` turns an operator, its expected value and the optional `valueType`
into a `Test`: a pure predicate over the field's raw value and its §8 string form. Everything
that can be wrong with the expected value (a bad regex, a `between` that is not `min,max`, a
number that does not parse) is found here, once, at load; the predicate itself never raises.

`exists`, `notExists` and `unique` take a boolean as shorthand (`exists: false` means
`notExists`), so their shorthand value chooses the operator instead of being compared.
`unique` needs the other CRs of the CRD and is evaluated by the compiler, not here.
"""
from __future__ import annotations

import operator as op
from collections.abc import Callable
from typing import Any

from orkestra.conditions.regex import compile_search
from orkestra.conditions.values import UNPARSEABLE, is_empty, parse_typed, stringify, type_of

Test = Callable[[Any, str], bool]      # (raw value, string form) -> holds

OPERATORS: tuple[str, ...] = (
    "equals", "notEquals", "contains", "notContains", "prefix", "notPrefix", "suffix",
    "notSuffix", "regex", "exists", "notExists", "gt", "lt", "gte", "lte", "between",
    "notBetween", "in", "notIn", "unique", "typeOf",
)
NO_VALUE: frozenset[str] = frozenset({"exists", "notExists", "unique"})
BOOLEAN_SHORTHANDS: frozenset[str] = frozenset({"exists", "notExists", "unique"})
SHORTHANDS: dict[str, str] = {
    **{name: name for name in OPERATORS if name not in ("gt", "lt", "gte", "lte", "typeOf")},
    "greaterThan": "gt",
    "lessThan": "lt",
    "min": "gte",
    "greaterThanOrEqual": "gte",
    "max": "lte",
    "lessThanOrEqual": "lte",
}
TYPE_NAMES: tuple[str, ...] = ("string", "number", "bool", "list", "map", "null")

_STRING_TESTS: dict[str, Callable[[str, str], bool]] = {
    "contains": lambda actual, expected: expected in actual,
    "prefix": str.startswith,
    "suffix": str.endswith,
}
_ORDER = {"gt": op.gt, "lt": op.lt, "gte": op.ge, "lte": op.le}


def shorthand_operator(key: str, value: Any) -> str:
    """The operator a shorthand stands for; boolean shorthands pick it by their value."""
    if key in BOOLEAN_SHORTHANDS:
        if not isinstance(value, bool) or (key == "unique" and not value):
            raise ValueError("must be true" if key == "unique" else "must be true or false")
        if key == "unique" or value:
            return key
        return "notExists" if key == "exists" else "exists"
    return SHORTHANDS[key]


def _typed(value: Any, value_type: str, what: str) -> Any:
    parsed = parse_typed(stringify(value), value_type)
    if parsed is UNPARSEABLE or (value_type != "string" and stringify(value).strip() == ""):
        noun = "a number" if value_type == "float" else f"a valid {value_type}"
        raise ValueError(f'{what} "{stringify(value)}" is not {noun}')
    return parsed


def _items(value: Any) -> list[str]:
    if isinstance(value, list):
        return [stringify(item).strip() for item in value]
    if isinstance(value, dict):
        raise ValueError("must be a comma-separated string or a list")
    return [item.strip() for item in stringify(value).split(",")]


def _bounds(value: Any, value_type: str) -> tuple[Any, Any]:
    parts = value if isinstance(value, list) else stringify(value).split(",")
    if len(parts) != 2:
        raise ValueError(f'"{stringify(value)}" must be "min,max"')
    low, high = (_typed(p.strip() if isinstance(p, str) else p, value_type, "bound") for p in parts)
    if low > high:
        raise ValueError(f'"{stringify(value)}": min is greater than max')
    return low, high


def build_test(name: str, value: Any, value_type: str | None) -> Test:
    """The predicate for one operator; raises ValueError (message only) for a bad value."""
    if name in ("exists", "notExists"):
        wanted = name == "exists"
        return lambda raw, text: (not is_empty(raw)) == wanted
    if name == "typeOf":
        expected = stringify(value)
        if expected not in TYPE_NAMES:
            raise ValueError(f'"{expected}" is not a type (expected one of {", ".join(TYPE_NAMES)})')
        return lambda raw, text: type_of(raw) == expected
    if name == "regex":
        search = compile_search(stringify(value))
        return lambda raw, text: search(text)
    negated = name.startswith("not")
    base = name[3].lower() + name[4:] if negated else name
    if base in _STRING_TESTS:
        expected, check = stringify(value), _STRING_TESTS[base]
        return lambda raw, text: check(text, expected) != negated
    if base in ("equals", "in"):
        return _membership(base, value, value_type, negated)
    return _numeric(base, value, value_type, negated)


def _membership(base: str, value: Any, value_type: str | None, negated: bool) -> Test:
    kind = value_type or "string"
    raw_items = [stringify(value)] if base == "equals" else _items(value)
    allowed = [parse_typed(i, kind) if kind == "string" else _typed(i, kind, "value") for i in raw_items]

    def test(raw: Any, text: str) -> bool:
        actual = parse_typed(text, kind)
        return (actual is not UNPARSEABLE and actual in allowed) != negated
    return test


def _numeric(base: str, value: Any, value_type: str | None, negated: bool) -> Test:
    kind = value_type or "float"
    if kind == "bool":
        raise ValueError(f"valueType bool cannot be used with {'notBetween' if negated else base}")
    if base == "between":
        low, high = _bounds(value, kind)

        def inside(raw: Any, text: str) -> bool:
            actual = parse_typed(text, kind)
            return actual is not UNPARSEABLE and (low <= actual <= high) != negated
        return inside
    expected, compare = _typed(value, kind, "value"), _ORDER[base]

    def ordered(raw: Any, text: str) -> bool:
        actual = parse_typed(text, kind)
        return actual is not UNPARSEABLE and compare(actual, expected)
    return ordered
