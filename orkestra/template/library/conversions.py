"""Type functions: toString toInt toFloat toBool typeOf toJson fromJson.

A conversion that cannot succeed (`toInt "abc"`, malformed JSON) is an evaluation error (§9.1),
never a silent zero, so a typo in a CR surfaces as a reconcile error naming the field.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from orkestra.template.errors import TemplateEvalError
from orkestra.template.values import as_number, describe, is_number, kind_of, to_json, to_text, type_name

_TRUE = frozenset({"1", "t", "true", "yes", "y", "on"})
_FALSE = frozenset({"0", "f", "false", "no", "n", "off", ""})


def to_string(v: Any) -> str:
    return to_text(v)


def to_int(v: Any) -> int:
    """Integers from numbers (floats truncate toward zero), numeric strings, bools and nil."""
    return int(as_number(v, "toInt"))


def to_float(v: Any) -> float:
    return float(as_number(v, "toFloat"))


def to_bool(v: Any) -> bool:
    """Bools as-is, numbers by non-zero, strings by Go's ParseBool words (plus yes/no/on/off)."""
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    if is_number(v):
        return v != 0
    if isinstance(v, str):
        word = v.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise TemplateEvalError(f"toBool: cannot convert {describe(v)} to a bool")
    raise TemplateEvalError(f"toBool: cannot convert {type_name(v)} to a bool")


def type_of(v: Any) -> str:
    return kind_of(v)


def to_json_fn(v: Any) -> str:
    return to_json(v)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def from_json(s: Any) -> Any:
    """Parse a JSON document; nil or `""` gives nil."""
    if s is None or s == "":
        return None
    if not isinstance(s, str):
        raise TemplateEvalError(f"fromJson: expected a string, got {type_name(s)}")
    try:
        value = json.loads(s, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise TemplateEvalError(f"fromJson: invalid JSON: {exc}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise TemplateEvalError("fromJson: number out of range")
    return value


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "toString": to_string, "toInt": to_int, "toFloat": to_float, "toBool": to_bool,
    "typeOf": type_of, "toJson": to_json_fn, "fromJson": from_json,
}
