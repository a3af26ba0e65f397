"""Math: add sub mul div mod min max abs.

Arguments are nil-safe numbers (nil is 0, numeric strings are parsed). Integer operands give
integer results with Go's semantics: `div` truncates toward zero and `mod` takes the sign of
the dividend (Python's `//` and `%` floor instead). Whole float results come back as integers
(§9.4), so `add 1.5 1.5` is 3. Division or modulo by zero is an evaluation error.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from orkestra.template.errors import TemplateEvalError
from orkestra.template.values import as_number, whole


def _numbers(fn: str, values: tuple[Any, ...]) -> list[int | float]:
    return [as_number(v, fn) for v in values]


def _finite(fn: str, result: int | float) -> int | float:
    if isinstance(result, float) and not math.isfinite(result):
        raise TemplateEvalError(f"{fn}: result is not a finite number")
    return whole(result)


def add(a: Any, b: Any, *more: Any) -> int | float:
    return _finite("add", sum(_numbers("add", (a, b, *more))))


def sub(a: Any, b: Any) -> int | float:
    x, y = _numbers("sub", (a, b))
    return _finite("sub", x - y)


def mul(a: Any, b: Any, *more: Any) -> int | float:
    return _finite("mul", math.prod(_numbers("mul", (a, b, *more))))


def div(a: Any, b: Any) -> int | float:
    x, y = _numbers("div", (a, b))
    if y == 0:
        raise TemplateEvalError("div: division by zero")
    if isinstance(x, int) and isinstance(y, int):
        q = abs(x) // abs(y)
        return q if (x >= 0) == (y >= 0) else -q
    return _finite("div", x / y)


def mod(a: Any, b: Any) -> int | float:
    x, y = _numbers("mod", (a, b))
    if y == 0:
        raise TemplateEvalError("mod: division by zero")
    if isinstance(x, int) and isinstance(y, int):
        return x - y * div(x, y)
    return _finite("mod", math.fmod(x, y))


def min_(a: Any, *more: Any) -> int | float:
    return whole(min(_numbers("min", (a, *more))))


def max_(a: Any, *more: Any) -> int | float:
    return whole(max(_numbers("max", (a, *more))))


def abs_(a: Any) -> int | float:
    return whole(abs(as_number(a, "abs")))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "add": add, "sub": sub, "mul": mul, "div": div, "mod": mod,
    "min": min_, "max": max_, "abs": abs_,
}
