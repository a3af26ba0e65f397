"""Go text/template's predefined functions: and or not eq ne lt le gt ge len index slice print
printf println.

`and` and `or` short-circuit as in Go ≥ 1.18: they are marked `lazy`, receive thunks, and return
the deciding operand itself (not a bool). `eq` takes several right-hand values. Comparisons are
numeric across int/float, and nil equals `""` and `0` (values.equal/compare). Two deliberate
deviations make these nil-safe in the spirit of docs/katalog.md#templates: `len nil` is 0 and `index nil …`
is nil. `len` of a string counts characters, not UTF-8 bytes.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from orkestra.template.errors import TemplateEvalError
from orkestra.template.printf import sprint, sprintf, sprintln
from orkestra.template.values import compare, describe, equal, is_number, to_text, truthy, type_name


def _lazy(lo: int) -> Callable[[Callable], Callable]:
    def mark(fn: Callable) -> Callable:
        fn.lazy = True  # type: ignore[attr-defined]  # function attributes compiler.arity() and
        fn.arity = (lo, None)  # type: ignore[attr-defined]  # the lazy-call path read
        return fn
    return mark


@_lazy(1)
def and_(*thunks: Callable[[], Any]) -> Any:
    """The first falsy operand, or the last one."""
    v = None
    for thunk in thunks:
        v = thunk()
        if not truthy(v):
            return v
    return v


@_lazy(1)
def or_(*thunks: Callable[[], Any]) -> Any:
    """The first truthy operand, or the last one."""
    v = None
    for thunk in thunks:
        v = thunk()
        if truthy(v):
            return v
    return v


def not_(v: Any) -> bool:
    return not truthy(v)


def eq(a: Any, b: Any, *more: Any) -> bool:
    """True if `a` equals any of the other operands."""
    return equal(a, b) or any(equal(a, x) for x in more)


def ne(a: Any, b: Any) -> bool:
    return not equal(a, b)


def lt(a: Any, b: Any) -> bool:
    return compare(a, b) < 0


def le(a: Any, b: Any) -> bool:
    return compare(a, b) <= 0


def gt(a: Any, b: Any) -> bool:
    return compare(a, b) > 0


def ge(a: Any, b: Any) -> bool:
    return compare(a, b) >= 0


def length(v: Any) -> int:
    if v is None:
        return 0
    if isinstance(v, (str, list, tuple, Mapping)):
        return len(v)
    raise TemplateEvalError(f"len of type {type_name(v)}")


def _position(i: Any, size: int, what: str, *, allow_end: bool = False) -> int:
    if not is_number(i) or (isinstance(i, float) and not i.is_integer()):
        raise TemplateEvalError(f"cannot index {what} with {describe(i)}")
    i = int(i)
    if i < 0 or i > size or (i == size and not allow_end):
        raise TemplateEvalError(f"index out of range: {i} (length {size})")
    return i


def index(item: Any, *keys: Any) -> Any:
    """`index m k1 k2 …`: maps by key (missing gives nil), lists and strings by position."""
    v = item
    for k in keys:
        if v is None:
            return None
        if isinstance(v, Mapping):
            v = v.get(k if isinstance(k, str) or k is None else to_text(k))
        elif isinstance(v, (list, tuple)):
            v = v[_position(k, len(v), "list")]
        elif isinstance(v, str):
            v = ord(v[_position(k, len(v), "string")])
        else:
            raise TemplateEvalError(f"can't index item of type {type_name(v)}")
    return v


def slice_(item: Any, *bounds: Any) -> Any:
    """`slice x`, `slice x i`, `slice x i j` on lists and strings (`slice x i j k` is Go-only)."""
    if len(bounds) > 2:
        raise TemplateEvalError("slice: at most 2 indexes are supported")
    if item is None:
        return None
    if not isinstance(item, (str, list, tuple)):
        raise TemplateEvalError(f"can't slice item of type {type_name(item)}")
    size = len(item)
    lo = _position(bounds[0], size, "slice", allow_end=True) if bounds else 0
    hi = _position(bounds[1], size, "slice", allow_end=True) if len(bounds) > 1 else size
    if lo > hi:
        raise TemplateEvalError(f"invalid slice index: {lo} > {hi}")
    return item[lo:hi] if isinstance(item, str) else list(item[lo:hi])


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "and": and_, "or": or_, "not": not_,
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge,
    "len": length, "index": index, "slice": slice_,
    "print": sprint, "printf": sprintf, "println": sprintln,
}
