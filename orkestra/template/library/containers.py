"""Collections and safe access: list dict keys hasKey get first last append has getOr.

Every function returns new lists and maps (CR data is never mutated). Maps are nil-safe (nil is
empty); `dict` keys are printed to strings, as Sprig does. `get m k1 k2 ...` walks nested maps
(Go Orkestra's variadic form; nil when a step is missing). `getOr obj "a.b.0.c" fallback` walks
maps by key and lists by numeric segment and gives `fallback` when the path is missing or nil;
with two arguments, `getOr value fallback` is the Go Orkestra form: `fallback` when `value` is
nil or empty text.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from orkestra.template.budget import grown
from orkestra.template.errors import TemplateEvalError
from orkestra.template.values import as_list, as_map, as_str, equal, to_text


def list_(*items: Any) -> list:
    return list(items)


def dict_(*pairs: Any) -> dict:
    if len(pairs) % 2:
        raise TemplateEvalError("dict: expected key/value pairs, got an odd number of arguments")
    return {to_text(pairs[i]): pairs[i + 1] for i in range(0, len(pairs), 2)}


def keys(m: Any) -> list[str]:
    return sorted(as_map(m, "keys"), key=to_text)


def has_key(m: Any, key: Any) -> bool:
    return as_str(key) in as_map(m, "hasKey")


def get(m: Any, key: Any, *more: Any) -> Any:
    value = as_map(m, "get").get(as_str(key))
    for step in more:
        if not isinstance(value, Mapping):
            return None
        value = value.get(as_str(step))
    return value


def first(items: Any) -> Any:
    values = as_list(items, "first")
    return values[0] if values else None


def last(items: Any) -> Any:
    values = as_list(items, "last")
    return values[-1] if values else None


def append(items: Any, value: Any) -> list:
    result = [*as_list(items, "append"), value]
    grown(result, items, value)   # weighs the new element only, when `items` was weighed already
    return result


def has(value: Any, items: Any) -> bool:
    return any(equal(value, x) for x in as_list(items, "has"))


def lookup_path(obj: Any, path: str) -> Any:
    """The value at a dot path (map keys, list indexes), or None when any step is missing."""
    value = obj
    for part in path.split(".") if path else ():
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def get_or(obj: Any, *args: Any) -> Any:
    if len(args) == 1:
        return args[0] if obj is None or obj == "" else obj
    path, fallback = args
    value = lookup_path(obj, as_str(path))
    return fallback if value is None else value


get_or.arity = (2, 3)   # type: ignore[attr-defined]  # read by compiler.arity(): the signature says (2, None)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "list": list_, "dict": dict_, "keys": keys, "hasKey": has_key, "get": get,
    "first": first, "last": last, "append": append, "has": has, "getOr": get_or,
}
