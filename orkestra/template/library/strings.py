"""String functions: lower upper trim trimPrefix trimSuffix hasPrefix hasSuffix contains replace
split join substr truncate quote (aliases toLower, toUpper, trimSpace).

`substr` and `truncate` follow Sprig's clamping (out-of-range bounds never fail); `split` of an
empty or nil string is the empty list, which is what a template author iterating it expects.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orkestra.template.budget import charge
from orkestra.template.printf import go_quote
from orkestra.template.values import as_int, as_list, as_str, to_text


def lower(s: Any) -> str:
    return as_str(s).lower()


def upper(s: Any) -> str:
    return as_str(s).upper()


def trim(s: Any) -> str:
    return as_str(s).strip()


def trim_prefix(prefix: Any, s: Any) -> str:
    return as_str(s).removeprefix(as_str(prefix))


def trim_suffix(suffix: Any, s: Any) -> str:
    return as_str(s).removesuffix(as_str(suffix))


def has_prefix(prefix: Any, s: Any) -> bool:
    return as_str(s).startswith(as_str(prefix))


def has_suffix(suffix: Any, s: Any) -> bool:
    return as_str(s).endswith(as_str(suffix))


def contains(sub: Any, s: Any) -> bool:
    return as_str(sub) in as_str(s)


def replace(old: Any, new: Any, s: Any) -> str:
    text, before, after = as_str(s), as_str(old), as_str(new)
    if len(after) > len(before):   # the result can grow: size it before building it
        hits = len(text) + 1 if before == "" else text.count(before)
        charge(len(text) + hits * (len(after) - len(before)), "replace")
    return text.replace(before, after)


def split(sep: Any, s: Any) -> list[str]:
    text, separator = as_str(s), as_str(sep)
    if text == "":
        return []
    return list(text) if separator == "" else text.split(separator)


def join(sep: Any, items: Any) -> str:
    if isinstance(items, str):
        return items
    separator, parts = as_str(sep), [to_text(x) for x in as_list(items, "join")]
    charge(sum(map(len, parts)) + len(separator) * max(len(parts) - 1, 0), "join")
    return separator.join(parts)


def substr(start: Any, end: Any, s: Any) -> str:
    text = as_str(s)
    lo, hi = as_int(start, "substr"), as_int(end, "substr")
    lo = max(lo, 0)
    if hi < 0 or hi > len(text):
        hi = len(text)
    return text[lo:hi] if lo <= hi else ""


def truncate(a: Any, b: Any) -> str:
    """The first n characters; a negative n keeps the last -n. Go Orkestra writes `truncate S N`,
    Sprig `truncate N S` (issue 13 C17). Sprig's order when the first is an integer and the second
    is not, or when only the first can be a count (`"5"` or nil from a CR, as in a pipeline
    `.spec.name | truncate .spec.n`); otherwise Go's."""
    sprig_order = (_is_int(a) and not _is_int(b)) or (_is_count(a) and not _is_count(b))
    text, count = as_str(b if sprig_order else a), as_int(a if sprig_order else b, "truncate")
    if count < 0:
        return text[count:] if len(text) + count > 0 else text
    return text[:count]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_count(v: Any) -> bool:
    """Could `v` be truncate's count: an integer, integer text, or nil (nil-safe: 0)?"""
    return v is None or _is_int(v) or (isinstance(v, str) and v.strip().lstrip("+-").isdigit())


def quote(s: Any) -> str:
    return go_quote(as_str(s))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "lower": lower, "toLower": lower, "upper": upper, "toUpper": upper,
    "trim": trim, "trimSpace": trim, "trimPrefix": trim_prefix, "trimSuffix": trim_suffix,
    "hasPrefix": has_prefix, "hasSuffix": has_suffix, "contains": contains, "replace": replace,
    "split": split, "join": join, "substr": substr, "truncate": truncate, "quote": quote,
}
