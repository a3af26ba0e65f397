"""The condition language of docs/katalog.md#conditions: `when` / `anyOf` lists, used by resource templates,
status fields, validation rules and mutation rules.

Conditions are compiled once at load (`compile_conditions`, `compile_condition`) and then
evaluated as pure functions of the object, the template context, an injected clock and an
injected `unique` lookup. `check_condition_list` gives the Katalog loader every problem of a
list with its key path.
"""
from orkestra.conditions.compiler import (
    Clock, Condition, ConditionError, ConditionSet, FieldCondition, UniqueLookup, WindowCondition,
    check_condition_list, compile_condition, compile_conditions, resolve_field,
)
from orkestra.conditions.paths import MISSING, PathError, lookup, parse_path
from orkestra.conditions.values import stringify

__all__ = [
    "MISSING", "Clock", "Condition", "ConditionError", "ConditionSet", "FieldCondition",
    "PathError", "UniqueLookup", "WindowCondition", "check_condition_list", "compile_condition",
    "compile_conditions", "lookup", "parse_path", "resolve_field", "stringify",
]

