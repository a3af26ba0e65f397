"""`regex` conditions on a linear-time engine (RE2), with a cap on the matched text.

Katalog patterns run against CR values that anyone allowed to create a CR (or to reach the
webhook port) chooses. Python's `re` backtracks: `^([a-z0-9]+-?)+$` against 40 letters and a
`!` runs for hours while holding the GIL, which freezes the whole runtime and lets admission
fail open. RE2 matches in time linear in the input, so no pattern/value pair can stall the
process; the input cap bounds that linear time too. RE2 is also what Go and Kubernetes use, so
patterns behave as Katalog authors expect. It has no backreferences or lookarounds: such a
pattern is rejected at load with the reason. See docs/security.md.
"""
from __future__ import annotations

from collections.abc import Callable

import re2

MAX_INPUT = 64 * 1024   # characters; a longer value does not match (the rule then fires)
MAX_PROGRAM_BYTES = 8 << 20

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False        # the load error carries the reason; RE2 must not print to stderr
_OPTIONS.max_mem = MAX_PROGRAM_BYTES


def compile_search(pattern: str) -> Callable[[str], bool]:
    """A predicate `text -> pattern found in text`; raises ValueError naming what RE2 refused."""
    try:
        compiled = re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        raise ValueError(f'invalid regex "{pattern}": {_reason(exc)}') from None

    def search(text: str) -> bool:
        return len(text) <= MAX_INPUT and compiled.search(text) is not None
    return search


def _reason(exc: Exception) -> str:
    """RE2's `<problem>: <fragment>` as `<problem> at "<fragment>"`, with a hint for Perl-only syntax."""
    raw = exc.args[0] if exc.args else ""
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    problem, _, fragment = text.partition(": ")
    reason = f'{problem} at "{fragment}"' if fragment else problem
    if problem in ("invalid perl operator", "invalid escape sequence"):
        reason += " (RE2 syntax: no backreferences or lookarounds)"
    return reason
