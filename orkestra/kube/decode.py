"""Decoding API server answers, including objects nested deeper than Python can parse.

The API server stores CRs nested up to 10000 levels when the CRD keeps unknown fields; Python's
`json` stops near 1000 (its recursion limit) with `RecursionError`. One such CR must not stop
the informer that lists and watches its kind (every other CR of the kind would wait behind it),
so `loads` falls back to cutting each value nested deeper than `MAX_DEPTH` out of the text,
replacing it with the string `CUT`, and records the cut fields on the object under
`TOO_DEEP_KEY` (a list of dotted paths). The reconciler refuses such an object with an error
that names the field (`too_deep_error`) instead of acting on a partial copy.

The fallback scans the text once, jumping between brackets and quotes with a regular
expression (a 1 MiB string costs one search, not a Python loop per byte), and finds the cut
fields without copying a path per node, so its time and memory stay linear in the size of the
answer. Text that ends inside a string or a container raises `ValueError`, as `json.loads` does.
"""
from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 100
CUT = f"<nested deeper than {MAX_DEPTH} levels: not read by Orkestra>"
TOO_DEEP_KEY = "orkestra.io/too-deep"

_OPEN, _QUOTE = b"{[", ord('"')
_TOKEN = re.compile(rb'["{}\[\]]')       # what changes the depth, or starts a string
_IN_STRING = re.compile(rb'["\\]')        # what ends a string, or escapes the next byte
_BOOKKEEPING = "metadata.managedFields."  # mirrors the spec's shape: named only when nothing else is


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
    """The reconcile error for an object `loads` had to cut, else None. It names a field the
    author wrote rather than its copy in `metadata.managedFields`."""
    paths = obj.get(TOO_DEEP_KEY)
    if not paths:
        return None
    path = min(paths, key=lambda p: p.startswith(_BOOKKEEPING))
    return (f'field "{_show(path)}" is nested deeper than {MAX_DEPTH} levels; Orkestra does not '
            f"reconcile this object until it is made shallower")


def _cut(raw: bytes) -> bytes:
    """The JSON text with every value that opens below depth `MAX_DEPTH` replaced by `CUT`."""
    out, depth, pos, start = bytearray(), 0, 0, 0
    cut = json.dumps(CUT).encode()
    while (match := _TOKEN.search(raw, pos)) is not None:
        i = match.start()
        if raw[i] == _QUOTE:
            pos = _string_end(raw, i)
        elif raw[i] in _OPEN and depth == MAX_DEPTH:
            out += raw[start:i] + cut
            pos = start = _skip_value(raw, i)
        else:
            depth += 1 if raw[i] in _OPEN else -1
            pos = i + 1
    return bytes(out + raw[start:])


def _string_end(raw: bytes, i: int) -> int:
    """The index just past the string that opens at `i`."""
    pos = i + 1
    while (match := _IN_STRING.search(raw, pos)) is not None:
        if raw[match.start()] == _QUOTE:
            return match.start() + 1
        pos = match.start() + 2            # a backslash: skip the byte it escapes
    raise ValueError(f"unterminated string starting at byte {i}")


def _skip_value(raw: bytes, i: int) -> int:
    """The index just past the object or array that opens at `i`."""
    depth, pos = 0, i
    while (match := _TOKEN.search(raw, pos)) is not None:
        j = match.start()
        if raw[j] == _QUOTE:
            pos = _string_end(raw, j)
            continue
        depth += 1 if raw[j] in _OPEN else -1
        pos = j + 1
        if depth == 0:
            return pos
    raise ValueError(f"unterminated object or array starting at byte {i}")


def _cut_paths(doc: Any) -> list[list[str | int]]:
    """Every path (keys and indexes) at which `_cut` left `CUT`. Iterative (the depth is bounded
    by then, but the width is not); each node links to its parent instead of copying its path."""
    found: list[list[str | int]] = []
    stack: list[tuple[Any, Any]] = [(None, doc)]
    while stack:
        link, value = stack.pop()
        if isinstance(value, dict):
            stack.extend(((key, link), v) for key, v in value.items())
        elif isinstance(value, list):
            stack.extend(((index, link), v) for index, v in enumerate(value))
        elif value == CUT:
            path: list[str | int] = []
            while link is not None:
                key, link = link
                path.append(key)
            found.append(path[::-1])
    return found


def _mark(doc: Any, path: list[str | int]) -> None:
    """Record `path` on the Kubernetes object holding it: a list's item, a watch event's object,
    else the document itself. A list's metadata has no name and a watch event has no metadata,
    while an object always has a name: a CR may have fields called `items` or `object` of its own."""
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    if path[:1] == ["items"] and len(path) > 1 and "name" not in (meta or {}) and isinstance(doc["items"], list):
        owner, rest = doc["items"][int(path[1])], path[2:]
    elif path[:1] == ["object"] and isinstance(doc, dict) and meta is None:
        owner, rest = doc["object"], path[1:]
    else:
        owner, rest = doc, path
    if isinstance(owner, dict):
        owner.setdefault(TOO_DEEP_KEY, []).append(".".join(str(p) for p in rest))


def _show(path: str, keep: int = 6) -> str:
    parts = path.split(".")
    return path if len(parts) <= keep else ".".join(parts[:keep]) + f"… ({len(parts)} levels)"
