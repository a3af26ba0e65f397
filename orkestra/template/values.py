"""Go-flavoured value semantics shared by the evaluator and the function library.

Template data is JSON-like (dicts, lists, str, int, float, bool, None), so every rule here is a
small function over those types: Go truthiness, the printing rules of docs/katalog.md#templates, the
equality and ordering of Go's `eq`/`lt` (numeric across int/float, nil equal to `""` and `0`),
and the nil-safe coercions the library uses (nil acts as `""`, `0` or empty). Python's `bool` is
an `int` subclass, so every numeric check here excludes it explicitly: `eq true 1` is false in Go.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from orkestra.template.errors import TemplateEvalError


def is_number(v: Any) -> bool:
    """True for int and float, never for bool."""
    return (type(v) is int or type(v) is float
            or (isinstance(v, (int, float)) and not isinstance(v, bool)))


def kind_of(v: Any) -> str:
    """The `typeOf` name of a value: string, number, bool, list, map or null."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, str):
        return "string"
    if is_number(v):
        return "number"
    if isinstance(v, Mapping):
        return "map"
    if isinstance(v, (list, tuple)):
        return "list"
    return type(v).__name__


def truthy(v: Any) -> bool:
    """Go truthiness: false, 0, nil and empty strings, lists and maps are false."""
    if v is None or v is False:
        return False
    if v is True:
        return True
    if isinstance(v, (str, list, tuple, dict, Mapping)):
        return len(v) > 0
    if is_number(v):
        return v != 0
    return True


def format_float(f: float) -> str:
    """A float as §9.1 prints it: whole values without `.0`, others in shortest form."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f.is_integer() and abs(f) < 1e21:
        return str(int(f))
    return repr(f)


def to_text(v: Any) -> str:
    """Print a value (§9.1): strings as-is, nil empty, bools true/false, lists/maps compact JSON."""
    t = type(v)
    if t is str:
        return v
    if v is None:
        return ""
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is float:
        return format_float(v)
    if isinstance(v, (list, tuple, Mapping)):
        return to_json(v)
    for base in (str, int, float):  # subclasses, e.g. an IntEnum or a YAML loader's str type
        if isinstance(v, base):
            return to_text(base(v))
    return str(v)


def _jsonable(v: Any) -> Any:
    """A JSON-ready copy: whole floats become ints (as Go prints them), mappings plain dicts."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return int(v)
    if isinstance(v, Mapping):
        return {k if type(k) is str else to_text(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def to_json(v: Any) -> str:
    """Compact JSON with sorted keys (Go's encoding/json order for maps)."""
    try:
        return json.dumps(_jsonable(v), separators=(",", ":"), sort_keys=True,
                          ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise TemplateEvalError(f"cannot encode {type_name(v)} as JSON: {exc}") from None


def type_name(v: Any) -> str:
    """A short Go-like type name for error messages."""
    kind = kind_of(v)
    if kind == "number":
        return "int" if isinstance(v, int) else "float64"
    return "nil" if kind == "null" else kind


def _zero_equal(v: Any) -> bool:
    """Whether a non-nil value equals nil: nil == "" == 0."""
    return v is None or v == "" or (is_number(v) and v == 0)


def equal(a: Any, b: Any) -> bool:
    """Go `eq` on two values; values of different kinds are unequal (never an error)."""
    if a is None or b is None:
        return _zero_equal(b if a is None else a)
    ka, kb = kind_of(a), kind_of(b)
    if ka != kb:
        return False
    return bool(a == b)


def compare(a: Any, b: Any) -> int:
    """Go ordering for `lt`/`le`/`gt`/`ge`: -1, 0 or 1. Nil is the zero of the other side."""
    if a is None and b is None:
        return 0
    if a is None:
        a = "" if isinstance(b, str) else 0
    if b is None:
        b = "" if isinstance(a, str) else 0
    if (is_number(a) and is_number(b)) or (isinstance(a, str) and isinstance(b, str)):
        return (a > b) - (a < b)
    if kind_of(a) != kind_of(b):
        raise TemplateEvalError(f"incompatible types for comparison: {type_name(a)} and {type_name(b)}")
    raise TemplateEvalError(f"invalid type for comparison: {type_name(a)}")


def as_str(v: Any) -> str:
    """Nil-safe string argument: nil is `""`, other non-strings are printed (§9.1)."""
    return v if type(v) is str else to_text(v)


def describe(value: Any) -> str:
    """Type and size of a value, never its content: error messages reach CR status, Events and
    logs, and the value may be Secret data (docs/security.md)."""
    if isinstance(value, str):
        return f"string of {len(value)} characters"
    if isinstance(value, (list, tuple, Mapping)):
        return f"{type_name(value)} of {len(value)} elements"
    return type_name(value)


_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")   # escape-aware, as repr() writes them


def without_values(message: str) -> str:
    """A library or parser message with its quoted parts (`invalid version 'hunter2'`) replaced
    by their size: they are usually the value that failed, possibly Secret data."""
    return _QUOTED.sub(lambda m: f"<string of {len(m.group()) - 2} characters>", message)


def as_int(v: Any, fn: str) -> int:
    """Nil-safe integer argument (nil is 0; numeric strings accepted; floats truncate)."""
    return int(as_number(v, fn))


def as_number(v: Any, fn: str) -> int | float:
    """Nil-safe numeric argument: nil is 0, bools 1/0, strings parsed as int then float."""
    if v is None:
        return 0
    if isinstance(v, bool):
        return int(v)
    if is_number(v):
        if isinstance(v, float) and not math.isfinite(v):
            raise TemplateEvalError(f"{fn}: {format_float(v)} is not a finite number")
        return v
    if isinstance(v, str):
        s = v.strip()
        try:
            return int(s, 10)
        except ValueError:
            pass
        try:
            f = float(s)
        except ValueError:
            raise TemplateEvalError(f"{fn}: cannot convert {describe(v)} to a number") from None
        if not math.isfinite(f):
            raise TemplateEvalError(f"{fn}: cannot convert {describe(v)} to a finite number")
        return f
    raise TemplateEvalError(f"{fn}: cannot convert {type_name(v)} to a number")


def whole(n: int | float) -> int | float:
    """Math results: a whole float comes back as an int (§9.4)."""
    if isinstance(n, float) and n.is_integer() and abs(n) < 1e21:
        return int(n)
    return n


def as_list(v: Any, fn: str) -> list:
    """Nil-safe list argument: nil is the empty list."""
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return list(v)
    raise TemplateEvalError(f"{fn}: expected a list, got {type_name(v)}")


def as_map(v: Any, fn: str) -> Mapping:
    """Nil-safe map argument: nil is the empty map."""
    if v is None:
        return {}
    if isinstance(v, Mapping):
        return v
    raise TemplateEvalError(f"{fn}: expected a map, got {type_name(v)}")


def copy_value(v: Any) -> Any:
    """A deep copy of JSON-like data, so a rendered value never aliases the CR it came from."""
    try:
        return _copy(v)
    except RecursionError:
        raise TemplateEvalError("value is nested too deeply to copy") from None


def _copy(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_copy(x) for x in v]
    return v
