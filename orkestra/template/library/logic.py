"""Defaults and logic: default coalesce ternary empty notEmpty required fail.

Emptiness is Go truthiness (nil, false, 0, and empty strings, lists and maps are empty), so
`default "x" 0` gives "x" as in Sprig. `required` uses the same emptiness, as docs/katalog.md#templates
says ("error when empty"): a field that may legitimately be 0 or false wants `default`, not
`required`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orkestra.template.errors import TemplateEvalError
from orkestra.template.values import as_str, truthy


def default(fallback: Any, value: Any) -> Any:
    """`default FALLBACK VALUE`: VALUE unless it is empty."""
    return value if truthy(value) else fallback


def coalesce(*values: Any) -> Any:
    """The first non-empty argument, or nil."""
    for v in values:
        if truthy(v):
            return v
    return None


def ternary(if_true: Any, if_false: Any, condition: Any) -> Any:
    return if_true if truthy(condition) else if_false


def empty(v: Any) -> bool:
    return not truthy(v)


def not_empty(v: Any) -> bool:
    return truthy(v)


def required(message: Any, value: Any) -> Any:
    """`value`, or an evaluation error with `message` when it is empty."""
    if not truthy(value):
        raise TemplateEvalError(as_str(message) or "required value is missing")
    return value


def fail(message: Any) -> None:
    raise TemplateEvalError(as_str(message) or "fail called")


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "default": default, "coalesce": coalesce, "ternary": ternary, "empty": empty,
    "notEmpty": not_empty, "required": required, "fail": fail,
}
