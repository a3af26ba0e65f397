"""The two template error types: one raised at compile (load) time, one at render time.

Compile-time problems (syntax, unknown functions, wrong argument counts, undefined variables)
are Katalog load errors, so `TemplateSyntaxError` carries only the message and the position
inside the template; the Katalog loader prefixes the field path (it is an `OrkestraError`, and
still a `ValueError` for older callers). Render-time problems
(`required`, `fail`, division by zero, bad conversions, a field on a non-map) fail one reconcile,
so `TemplateEvalError` is an `OrkestraError` (an expected failure, never a panic).
"""
from __future__ import annotations

from orkestra.errors import OrkestraError


class TemplateSyntaxError(OrkestraError, ValueError):
    """A template that cannot be compiled. `str()` is `<reason> (line L, column C)`."""

    def __init__(self, reason: str, line: int = 0, col: int = 0) -> None:
        self.reason = reason
        self.line = line
        self.col = col
        where = f" (line {line}, column {col})" if line else ""
        super().__init__(f"{reason}{where}")


class TemplateEvalError(OrkestraError):
    """A template that compiled but failed while rendering against some data.

    `str()` is the reason followed by the failing action, `… (in {{ div .a 0 }})`, once the
    evaluator has located it; `reason` is the bare message (`required`/`fail` put the author's
    message there).
    """

    def __init__(self, reason: str, action: str | None = None) -> None:
        self.reason = reason
        self.action = action
        super().__init__(reason if action is None else f"{reason} (in {{{{ {action} }}}})")

    def located(self, action: str) -> "TemplateEvalError":
        """This error with the innermost failing action attached (kept if already set)."""
        if self.action is not None:
            return self
        return TemplateEvalError(self.reason, action)
