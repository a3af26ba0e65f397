"""The compiler: AST to nested Python closures, so rendering never walks a tree.

Every operand, command and pipeline becomes a closure `f(dot, frame) -> value`; every node a
closure `emit(dot, frame, out)` that appends text to `out` (appending, rather than returning
strings, keeps the output written before a `{{break}}`). `frame` is a per-render list of
variable slots that the parser assigned; slot 0 is `$`. Common shapes (field chains of one or
two keys, calls with up to two arguments) get dedicated closures because a reconcile renders
many templates and these are the hot paths.

Binding functions happens here as well: an unknown function name or a wrong argument count is a
TemplateSyntaxError at compile time. Any exception escaping a library function is converted to
TemplateEvalError naming the function, so rendering only ever raises TemplateEvalError.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from functools import lru_cache, partial
from typing import Any

from orkestra.template.budget import current, weigh
from orkestra.template.errors import TemplateEvalError
from orkestra.template.lexer import syntax_error
from orkestra.template.nodes import (
    Action, Break, Chain, Command, Continue, Dot, FuncName, If, Literal, Node, Operand, Pipeline,
    Range, SubPipeline, Text, Variable, With,
)
from orkestra.template.values import describe, to_text, truthy, type_name, without_values

_TEXT, _PRINT, _EMIT = 0, 1, 2  # part kinds of a node sequence
MAX_RANGE_INT = 10_000  # `range N` (Go 1.22) with N from CR data must not stall a reconcile
Value = Callable[[Any, list], Any]
Emit = Callable[[Any, list, list], None]


class _BreakLoop(Exception):
    pass


class _ContinueLoop(Exception):
    pass


@lru_cache(maxsize=None)
def arity(fn: Callable) -> tuple[int, int | None]:
    """(minimum, maximum or None) positional arguments a library function accepts."""
    declared = getattr(fn, "arity", None)
    if declared is not None:
        return declared
    lo = 0
    hi: int | None = 0
    for p in inspect.signature(fn).parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            hi = None
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if p.default is p.empty:
                lo += 1
            if hi is not None:
                hi += 1
    return lo, hi


def get_field(value: Any, key: str) -> Any:
    """`.key` on a value: maps give the key or nil, nil gives nil, anything else is an error."""
    if type(value) is dict:
        return value.get(key)
    if value is None:
        return None
    if isinstance(value, Mapping):
        return value.get(key)
    raise TemplateEvalError(f"can't evaluate field {key} in type {type_name(value)}")


class Compiler:
    """Compile one parsed template against a function table."""

    def __init__(self, src: str, functions: Mapping[str, Callable]) -> None:
        self.src = src
        self.functions = functions

    # -- nodes -----------------------------------------------------------------------------
    def nodes(self, nodes: tuple[Node, ...]) -> Emit:
        """One emitter for a node list. Text and printing actions, by far the most common nodes,
        are handled inline (no closure call per text node)."""
        if len(nodes) == 1:
            return self.node(nodes[0])
        if not nodes:
            return lambda dot, frame, out: None
        parts: list[tuple[int, Any, str]] = []     # (kind, text or callable, source)
        for n in nodes:
            if isinstance(n, Text):
                parts.append((_TEXT, n.text, ""))
            elif isinstance(n, Action) and not n.pipeline.decl_slots:
                parts.append((_PRINT, self.pipeline(n.pipeline), n.pipeline.source))
            else:
                parts.append((_EMIT, self.node(n), ""))

        def seq(dot: Any, frame: list, out: list) -> None:
            append = out.append
            for kind, x, source in parts:
                if kind is _TEXT:
                    append(x)
                elif kind is _PRINT:
                    try:
                        v = x(dot, frame)
                    except TemplateEvalError as exc:
                        raise exc.located(source) from exc.__cause__
                    append(v if type(v) is str else to_text(v))
                else:
                    x(dot, frame, out)
        return seq

    def node(self, node: Node) -> Emit:
        if isinstance(node, Text):
            text = node.text
            return lambda dot, frame, out: out.append(text)
        if isinstance(node, Action):
            return self.action(node.pipeline)
        if isinstance(node, If):
            return self.if_with(node, sets_dot=False)
        if isinstance(node, With):
            return self.if_with(node, sets_dot=True)
        if isinstance(node, Range):
            return self.range_(node)
        if isinstance(node, Break):
            def brk(dot: Any, frame: list, out: list) -> None:
                raise _BreakLoop()
            return brk
        if isinstance(node, Continue):
            def cont(dot: Any, frame: list, out: list) -> None:
                raise _ContinueLoop()
            return cont
        raise TypeError(f"unknown node {node!r}")

    def action(self, pipeline: Pipeline) -> Emit:
        value = self.pipeline(pipeline)
        source = pipeline.source
        printing = not pipeline.decl_slots  # a declaration or assignment prints nothing

        def emit(dot: Any, frame: list, out: list) -> None:
            try:
                v = value(dot, frame)
            except TemplateEvalError as exc:
                raise exc.located(source) from exc.__cause__
            if printing:
                out.append(to_text(v))
        return emit

    def if_with(self, node: If | With, *, sets_dot: bool) -> Emit:
        cond = self.pipeline(node.pipeline)
        body = self.nodes(node.body)
        orelse = self.nodes(node.orelse) if node.orelse is not None else None
        source = node.pipeline.source

        def emit(dot: Any, frame: list, out: list) -> None:
            try:
                v = cond(dot, frame)
            except TemplateEvalError as exc:
                raise exc.located(source) from exc.__cause__
            if truthy(v):
                body(v if sets_dot else dot, frame, out)
            elif orelse is not None:
                orelse(dot, frame, out)
        return emit

    def range_(self, node: Range) -> Emit:
        pipe = node.pipeline
        items_of = self.pipeline(Pipeline(pipe.commands, (), pipe.source, pipe.pos))
        slots = pipe.decl_slots
        key_slot = slots[0] if len(slots) == 2 else None
        val_slot = slots[-1] if slots else None
        body = self.nodes(node.body)
        orelse = self.nodes(node.orelse) if node.orelse is not None else None
        source = pipe.source

        def emit(dot: Any, frame: list, out: list) -> None:
            try:
                pairs = _iterate(items_of(dot, frame))
            except TemplateEvalError as exc:
                raise exc.located(source) from exc.__cause__
            if not pairs:
                if orelse is not None:
                    orelse(dot, frame, out)
                return
            budget = current()
            for key, elem in pairs:
                if budget is not None:
                    budget.step()
                if key_slot is not None:
                    frame[key_slot] = key
                if val_slot is not None:
                    frame[val_slot] = elem
                try:
                    body(elem, frame, out)
                except _ContinueLoop:
                    continue
                except _BreakLoop:
                    break
        return emit

    # -- values ----------------------------------------------------------------------------
    def pipeline(self, pipeline: Pipeline) -> Value:
        first, *rest = pipeline.commands
        head = self.command(first, piped=False)
        stages = [self.command(c, piped=True) for c in rest]
        slots = pipeline.decl_slots
        if stages:
            def run(dot: Any, frame: list) -> Any:
                v = head(dot, frame)
                for stage in stages:
                    v = stage(dot, frame, v)
                return v
        else:
            run = head
        if not slots:
            return run
        slot = slots[0]

        def declare(dot: Any, frame: list) -> Any:
            v = run(dot, frame)
            frame[slot] = v
            return v
        return declare

    def command(self, cmd: Command, *, piped: bool) -> Callable:
        head, *args = cmd.operands
        if isinstance(head, FuncName):
            return self.call(head.name, [self.operand(a) for a in args], cmd, piped=piped)
        if args or piped:
            what = "in pipeline" if piped and not args else "with arguments"
            raise syntax_error(self.src, cmd.pos,
                               f"{_show(head)} is not a function and cannot be called {what}")
        if isinstance(head, Literal) and head.value is None:
            raise syntax_error(self.src, cmd.pos, "nil is not a command")
        return self.operand(head)

    def call(self, name: str, args: list[Value], cmd: Command, *, piped: bool) -> Callable:
        fn = self.functions.get(name)
        if fn is None:
            raise syntax_error(self.src, cmd.pos, f"function \"{name}\" not defined")
        lo, hi = arity(fn)
        count = len(args) + piped
        if count < lo or (hi is not None and count > hi):
            want = f"{lo}" if lo == hi else (f"at least {lo}" if hi is None else f"{lo} to {hi}")
            raise syntax_error(self.src, cmd.pos, f"wrong number of args for {name}: want {want} got {count}")
        if getattr(fn, "lazy", False):
            return _lazy_call(name, fn, args, piped)
        return _eager_call(name, fn, args, piped)

    def operand(self, op: Operand) -> Value:
        if isinstance(op, Literal):
            value = op.value
            return lambda dot, frame: value
        if isinstance(op, Dot):
            return lambda dot, frame: dot
        if isinstance(op, Variable):
            slot = op.slot
            return lambda dot, frame: frame[slot]
        if isinstance(op, FuncName):
            return self.call(op.name, [], Command((op,), 0), piped=False)
        if isinstance(op, SubPipeline):
            return self.pipeline(op.pipeline)
        if isinstance(op, Chain):
            return _chain(self.operand(op.base), op.fields, isinstance(op.base, Dot))
        raise TypeError(f"unknown operand {op!r}")


def _chain(base: Value, fields: tuple[str, ...], on_dot: bool) -> Value:
    if on_dot and len(fields) == 1:
        (k,) = fields

        def field1(dot: Any, frame: list) -> Any:
            return dot.get(k) if type(dot) is dict else get_field(dot, k)
        return field1
    if on_dot and len(fields) == 2:
        k1, k2 = fields

        def field2(dot: Any, frame: list) -> Any:
            v = dot.get(k1) if type(dot) is dict else get_field(dot, k1)
            return v.get(k2) if type(v) is dict else get_field(v, k2)
        return field2

    def chain(dot: Any, frame: list) -> Any:
        v = base(dot, frame)
        for k in fields:
            v = v.get(k) if type(v) is dict else get_field(v, k)
        return v
    return chain


def _failure(name: str, exc: Exception) -> TemplateEvalError:
    """A library exception as an evaluation error, its quoted parts (usually the argument that
    failed) replaced by their size (docs/security.md)."""
    return TemplateEvalError(f"error calling {name}: {without_values(str(exc))}")


def _eager_call(name: str, fn: Callable, args: list[Value], piped: bool) -> Callable:
    n = len(args)
    if not piped and n == 0:
        def call0(dot: Any, frame: list) -> Any:
            try:
                return weigh(fn())
            except TemplateEvalError:
                raise
            except Exception as exc:
                raise _failure(name, exc) from exc
        return call0
    if not piped and n == 1:
        (a,) = args

        def call1(dot: Any, frame: list) -> Any:
            x = a(dot, frame)
            try:
                return weigh(fn(x))
            except TemplateEvalError:
                raise
            except Exception as exc:
                raise _failure(name, exc) from exc
        return call1
    if piped and n == 0:
        def piped1(dot: Any, frame: list, last: Any) -> Any:
            try:
                return weigh(fn(last))
            except TemplateEvalError:
                raise
            except Exception as exc:
                raise _failure(name, exc) from exc
        return piped1
    if piped and n == 1:
        (a,) = args

        def piped2(dot: Any, frame: list, last: Any) -> Any:
            x = a(dot, frame)
            try:
                return weigh(fn(x, last))
            except TemplateEvalError:
                raise
            except Exception as exc:
                raise _failure(name, exc) from exc
        return piped2
    if piped:
        def piped_n(dot: Any, frame: list, last: Any) -> Any:
            values = [a(dot, frame) for a in args]
            values.append(last)
            try:
                return weigh(fn(*values))
            except TemplateEvalError:
                raise
            except Exception as exc:
                raise _failure(name, exc) from exc
        return piped_n

    def call_n(dot: Any, frame: list) -> Any:
        values = [a(dot, frame) for a in args]
        try:
            return weigh(fn(*values))
        except TemplateEvalError:
            raise
        except Exception as exc:
            raise _failure(name, exc) from exc
    return call_n


def _lazy_call(name: str, fn: Callable, args: list[Value], piped: bool) -> Callable:
    """Short-circuit functions (`and`, `or`) receive thunks and evaluate only what they need."""
    if piped:
        def piped_lazy(dot: Any, frame: list, last: Any) -> Any:
            thunks: list[Callable[[], Any]] = [partial(a, dot, frame) for a in args]
            thunks.append(lambda: last)
            return fn(*thunks)
        return piped_lazy

    def lazy(dot: Any, frame: list) -> Any:
        return fn(*[partial(a, dot, frame) for a in args])
    return lazy


def _iterate(value: Any) -> list[tuple[Any, Any]]:
    """(key, element) pairs for `range`: lists by index, maps by sorted key, ints as 0..N-1."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(enumerate(value))
    if isinstance(value, Mapping):
        try:
            keys = sorted(value)
        except TypeError:
            keys = sorted(value, key=str)
        return [(k, value[k]) for k in keys]
    if isinstance(value, int) and not isinstance(value, bool):
        if value > MAX_RANGE_INT:
            raise TemplateEvalError(
                f"range over an integer is limited to {MAX_RANGE_INT} iterations, got {value}")
        return [(i, i) for i in range(value)]
    raise TemplateEvalError(f"range can't iterate over {describe(value)}")


def _show(op: Operand) -> str:
    if isinstance(op, Literal):
        return "nil" if op.value is None else repr(op.value)
    if isinstance(op, Dot):
        return "."
    if isinstance(op, Variable):
        return op.name
    if isinstance(op, Chain):
        prefix = "" if isinstance(op.base, Dot) else _show(op.base)
        return prefix + "".join("." + f for f in op.fields)
    return "(…)"
