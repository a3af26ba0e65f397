"""Decoding API server answers, including objects nested deeper than Python can parse.

The API server stores CRs nested up to 10000 levels when the CRD keeps unknown fields; Python's
`json` stops near 1000 (its recursion limit) with `RecursionError`. One such CR must not stop
the informer that lists and watches its kind (every other CR of the kind would wait behind it),
so `loads` falls back to cutting each value nested deeper than `MAX_DEPTH` out of the text,
replacing it with the string `CUT`, and records the cut fields on the object under
`TOO_DEEP_KEY` (a list of dotted paths). The reconciler refuses such an object with an error
that names the field (`too_deep_error`) instead of acting on a partial copy.
"""
from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 100
CUT = f"<nested deeper than {MAX_DEPTH} levels: not read by Orkestra>"
TOO_DEEP_KEY = "orkestra.io/too-deep"

_OPEN, _CLOSE, _QUOTE, _ESCAPE = b"{[", b"}]", ord('"'), ord("\\")


def loads(data: bytes | str) -> Any:
    """`json.loads`, except that values nested deeper than `MAX_DEPTH` are cut (see above)."""
    try:
        return json.loads(data)
    except RecursionError:
        pass
    raw = data.encode() if isinstance(data, str) else data
    doc = json.loads(_cut(raw))
    for path in _cut_paths(doc):
        _mark(doc, path)
    return doc


def too_deep_error(obj: dict) -> str | None:
    """The reconcile error for an object `loads` had to cut, else None."""
    paths = obj.get(TOO_DEEP_KEY)
    if not paths:
        return None
    return (f'field "{_show(paths[0])}" is nested deeper than {MAX_DEPTH} levels; Orkestra does not '
            f"reconcile this object until it is made shallower")


def _cut(raw: bytes) -> bytes:
    """The JSON text with every value that opens below depth `MAX_DEPTH` replaced by `CUT`."""
    out, depth, i, n, start = bytearray(), 0, 0, len(raw), 0
    cut = json.dumps(CUT).encode()
    while i < n:
        c = raw[i]
        if c == _QUOTE:
            i = _string_end(raw, i)
            continue
        if c in _OPEN:
            if depth == MAX_DEPTH:
                out += raw[start:i] + cut
                i = start = _skip_value(raw, i)
                continue
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        i += 1
    return bytes(out + raw[start:])


def _string_end(raw: bytes, i: int) -> int:
    """The index just past the string that opens at `i`."""
    i += 1
    while raw[i] != _QUOTE:
        i += 2 if raw[i] == _ESCAPE else 1
    return i + 1


def _skip_value(raw: bytes, i: int) -> int:
    """The index just past the object or array that opens at `i`."""
    depth = 0
    while True:
        c = raw[i]
        if c == _QUOTE:
            i = _string_end(raw, i)
            continue
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1


def _cut_paths(doc: Any) -> list[list[str | int]]:
    """Every path (keys and indexes) at which `_cut` left `CUT`; iterative, the depth is bounded."""
    found, stack = [], [([], doc)]
    while stack:
        path, value = stack.pop()
        if value == CUT:
            found.append(path)
        elif isinstance(value, dict):
            stack.extend((path + [k], v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((path + [k], v) for k, v in enumerate(value))
    return found


def _mark(doc: Any, path: list[str | int]) -> None:
    """Record `path` on the Kubernetes object holding it: a list's item, a watch event's object,
    else the document itself."""
    if isinstance(doc, dict) and path[:1] == ["items"] and len(path) > 1:
        owner, rest = doc["items"][path[1]], path[2:]
    elif isinstance(doc, dict) and path[:1] == ["object"] and "type" in doc:
        owner, rest = doc["object"], path[1:]
    else:
        owner, rest = doc, path
    if isinstance(owner, dict):
        owner.setdefault(TOO_DEEP_KEY, []).append(".".join(str(p) for p in rest))


def _show(path: str, keep: int = 6) -> str:
    parts = path.split(".")
    return path if len(parts) <= keep else ".".join(parts[:keep]) + f"… ({len(parts)} levels)"
