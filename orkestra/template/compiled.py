"""`Template` and the memoised `compile_template`: the only entry points callers need.

A Katalog is compiled once at load time and its templates rendered on every reconcile, so
`compile_template` caches by source string and a `Template` holds nothing but closures.
`render` always returns text; `render_value` applies the native-type rule of docs/katalog.md#templates.
Each render runs under a `budget.Budget` (steps, time, sizes; docs/security.md), joined by any
render nested inside it.

Native-type rule, decided here: a template is a *single action* when its only output node is one
`{{ pipeline }}` action (not a declaration) and everything else in the string is white space or
comments. White space is ignored because YAML block scalars (`|`) add a trailing newline that the
author did not mean as output; Go itself has no such rule, so this is the most useful reading of
"exactly one action". A single action keeps the type of its value (a list or map is deep-copied so
the result never aliases the CR); nil gives None. Any other template yields a string, and `""`
gives None, because the spec omits a field in both cases.
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from orkestra.template import functions
from orkestra.template.budget import close_budget, open_budget
from orkestra.template.compiler import Compiler
from orkestra.template.errors import TemplateEvalError
from orkestra.template.nodes import Action, Text
from orkestra.template.parser import parse
from orkestra.template.values import copy_value, to_text


def is_template(s: Any) -> bool:
    """True for a string containing `{{`: anything else renders to itself."""
    return isinstance(s, str) and "{{" in s


class Template:
    """A compiled template. Build with `compile_template`; render as often as needed."""

    __slots__ = ("source", "functions_used", "_emit", "_slots", "_single", "_single_source",
                 "_bare", "_plain")

    def __init__(self, source: str) -> None:
        self.source = source
        parsed = parse(source)
        compiler = Compiler(source, functions.FUNCTIONS)
        self.functions_used: frozenset[str] = parsed.functions
        self._emit = compiler.nodes(parsed.nodes)
        self._slots = parsed.slot_count
        outputs = [n for n in parsed.nodes if not (isinstance(n, Text) and not n.text.strip())]
        single = outputs[0] if len(outputs) == 1 else None
        if not isinstance(single, Action) or single.pipeline.decl_slots:
            single = None
        self._single = compiler.pipeline(single.pipeline) if single is not None else None
        self._single_source = single.pipeline.source if single is not None else ""
        self._bare = single is not None and len(parsed.nodes) == 1  # the whole string is the action
        self._plain = not is_template(source)

    def _frame(self, data: Any, extra: dict[str, Any]) -> tuple[Any, list]:
        root = data
        if extra:
            root = {**data, **extra} if isinstance(data, Mapping) else dict(extra)
        frame = [None] * self._slots
        frame[0] = root
        return root, frame

    def render(self, data: Any, **extra: Any) -> str:
        """Render to text. `extra` adds top-level names (`children`, `item`, a forEach alias)."""
        if self._plain:
            return self.source
        root, frame = self._frame(data, extra)
        budget, opened = open_budget()
        try:
            if self._bare:
                return to_text(self._value(root, frame))
            out: list[str] = []
            if opened:
                budget.out = out
            self._emit(root, frame, out)
            budget.finish()
            return "".join(out)
        finally:
            if opened:
                close_budget()

    def render_value(self, data: Any, **extra: Any) -> Any:
        """Render with the native-type rule (module docstring); None means "omit the field"."""
        if self._plain:
            return self.source
        if self._single is None:
            text = self.render(data, **extra)
            return text if text != "" else None
        root, frame = self._frame(data, extra)
        _, opened = open_budget()
        try:
            return copy_value(self._value(root, frame))
        finally:
            if opened:
                close_budget()

    def _value(self, root: Any, frame: list) -> Any:
        single = self._single
        assert single is not None     # only called for a template that is one action
        try:
            return single(root, frame)
        except TemplateEvalError as exc:
            raise exc.located(self._single_source) from exc.__cause__

    def __repr__(self) -> str:
        return f"Template({self.source!r})"


@lru_cache(maxsize=8192)
def compile_template(src: str) -> Template:
    """Parse and compile once per distinct source. Raises TemplateSyntaxError."""
    return Template(src)
