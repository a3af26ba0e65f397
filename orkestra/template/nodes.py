"""The template AST: what the parser produces and the compiler consumes.

Variables are resolved by the parser to frame slots (slot 0 is `$`, the root), so the compiled
template reads `frame[slot]` instead of searching a scope chain at render time. Function names
are checked against the library at parse time; a `Call` keeps the name for error messages.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Dot:
    """`.` itself."""


@dataclass(frozen=True)
class Variable:
    name: str
    slot: int


@dataclass(frozen=True)
class FuncName:
    """An identifier: a function, called with no arguments when used as an operand."""
    name: str


@dataclass(frozen=True)
class SubPipeline:
    pipeline: "Pipeline"


@dataclass(frozen=True)
class Chain:
    """Field accesses on a base: `.a.b` (base Dot), `$x.a`, `(index .l 0).name`."""
    base: "Operand"
    fields: tuple[str, ...]


Operand = Union[Literal, Dot, Variable, FuncName, SubPipeline, Chain]


@dataclass(frozen=True)
class Command:
    operands: tuple[Operand, ...]
    pos: int


@dataclass(frozen=True)
class Pipeline:
    commands: tuple[Command, ...]
    decl_slots: tuple[int, ...] = ()   # variables declared (:=) or assigned (=)
    source: str = ""                    # the action text, for error messages
    pos: int = 0


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Action:
    pipeline: Pipeline


@dataclass(frozen=True)
class If:
    pipeline: Pipeline
    body: tuple["Node", ...]
    orelse: tuple["Node", ...] | None


@dataclass(frozen=True)
class With:
    pipeline: Pipeline
    body: tuple["Node", ...]
    orelse: tuple["Node", ...] | None


@dataclass(frozen=True)
class Range:
    pipeline: Pipeline          # decl_slots: () or (value,) or (key, value)
    body: tuple["Node", ...]
    orelse: tuple["Node", ...] | None


@dataclass(frozen=True)
class Break:
    pass


@dataclass(frozen=True)
class Continue:
    pass


Node = Union[Text, Action, If, With, Range, Break, Continue]


@dataclass
class ParsedTemplate:
    nodes: tuple[Node, ...]
    slot_count: int
    functions: frozenset[str] = field(default_factory=frozenset)
