"""Field paths of docs/katalog.md#conditions: parsing a `field` into segments and looking it up in an object.

A path is written the way users read YAML: dots between keys (`spec.image`), list indexes as a
bare number or in brackets (`spec.items.0.name`, `spec.items[0].name`), and keys that contain
dots in quoted brackets (`metadata.labels["app.kubernetes.io/name"]`). A path is parsed once
(memoised) into a tuple of `Segment`s; the same segments serve condition lookups here and the
JSON Pointers of mutation patches (`orkestra.conditions.rules`), so both read a path identically.

A segment remembers whether it was written as a quoted key: a quoted `["0"]` is always a map
key, while a bare `0` or `[0]` indexes a list and names the key `"0"` in a map.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from orkestra.errors import OrkestraError


class PathError(OrkestraError):
    """A `field` that is not a valid path (the message says where it breaks)."""


class _Missing:
    """The value of a path that does not exist (distinct from an explicit null)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Segment:
    key: str
    quoted: bool = False           # written as ["key"]: never a list index

    @property
    def index(self) -> int | None:
        """The list index this segment names, or None when it can only be a map key."""
        if self.quoted or not self.key.isdigit():
            return None
        return int(self.key)


_BARE = re.compile(r"[^.\[\]\"']+")
_INDEX = re.compile(r"\[(\d+)\]")
_QUOTED = re.compile(r"""\[\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\]""")


@lru_cache(maxsize=4096)
def parse_path(path: str) -> tuple[Segment, ...]:
    """Segments of a dot path; raises `PathError` naming the offending position."""
    if not isinstance(path, str) or not path.strip():
        raise PathError("field path is empty")
    text = path.strip()
    pos = 1 if text.startswith(".") else 0        # tolerate the template habit `.spec.x`
    segments: list[Segment] = []
    expect_key = True
    while pos < len(text):
        char = text[pos]
        if char == "[":
            index, quoted = _INDEX.match(text, pos), _QUOTED.match(text, pos)
            if index:
                segments.append(Segment(index.group(1)))
                pos = index.end()
            elif quoted:
                raw = quoted.group(1) if quoted.group(1) is not None else quoted.group(2)
                segments.append(Segment(re.sub(r"\\(.)", r"\1", raw), quoted=True))
                pos = quoted.end()
            else:
                raise PathError(f'bad field path "{path}": expected [N] or ["key"] at position {pos}')
            expect_key = False
        elif char == ".":
            if expect_key:
                raise PathError(f'bad field path "{path}": empty key at position {pos}')
            expect_key = True
            pos += 1
        else:
            bare = _BARE.match(text, pos)
            if not bare or not expect_key:
                raise PathError(f'bad field path "{path}": unexpected "{char}" at position {pos}')
            segments.append(Segment(bare.group(0)))
            pos = bare.end()
            expect_key = False
    if expect_key:
        raise PathError(f'bad field path "{path}": ends with "."')
    return tuple(segments)


def step(container: Any, segment: Segment) -> Any:
    """One level down, or MISSING when the key or index is not there."""
    if isinstance(container, dict):
        return container.get(segment.key, MISSING)
    if isinstance(container, list) and segment.index is not None:
        return container[segment.index] if segment.index < len(container) else MISSING
    return MISSING


def lookup(obj: Any, path: str | tuple[Segment, ...]) -> Any:
    """The raw value at `path` in `obj`, or `MISSING` (a null value is returned as None)."""
    current = obj
    for segment in parse_path(path) if isinstance(path, str) else path:
        current = step(current, segment)
        if current is MISSING:
            return MISSING
    return current


def lookup_with_context(obj: Any, path: str | tuple[Segment, ...], extra: dict | None) -> Any:
    """`lookup`, except that a path whose first key names a template-context entry (`children`,
    `item`, the `forEach` alias) is read from that context, as the Go Orkestra does (issue 13 C7)."""
    segments = parse_path(path) if isinstance(path, str) else path
    if extra and segments and not segments[0].quoted and segments[0].key in extra:
        return lookup(extra, segments)
    return lookup(obj, segments)


def json_pointer(segments: tuple[Segment, ...]) -> str:
    """RFC 6901 pointer for the segments (`~` -> `~0`, `/` -> `~1`)."""
    return "".join("/" + s.key.replace("~", "~0").replace("/", "~1") for s in segments)
