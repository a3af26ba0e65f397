"""The evaluation budget of one render: steps, wall time and value size (docs/security.md).

A template is code run against data nobody reviewed (a CR's spec, a child's status), so a render
must end even when the template or the data is hostile: nested `range`s multiply, reassigning a
variable in a loop doubles a string or a list on every pass, and `mul` squares big integers.
Every render therefore carries a `Budget`: each loop iteration is a step, the deadline is checked
every few hundred steps, and every value a library function returns (and the text written so
far) is weighed against a size limit. Exceeding any of them raises `TemplateEvalError`, which
fails the render like any other template error.

The budget lives in a thread-local slot set by the outermost render, so library functions and
the compiler's closures reach it without an extra argument on every hot path.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from orkestra.template.errors import TemplateEvalError
from orkestra.template.values import describe

_CHECK_EVERY = 256   # steps between deadline and output checks
_KNOWN = 8           # containers whose weight a render remembers


@dataclass(frozen=True)
class Limits:
    """What one render may spend: loop steps, seconds, characters of one text value (also summed
    over the strings inside a list or map), elements of one list or map (nested ones included),
    characters of output, bits of one integer."""

    steps: int = 500_000
    seconds: float = 1.0
    value_size: int = 1 << 20
    elements: int = 100_000
    output_size: int = 4 << 20
    int_bits: int = 4096


DEFAULT_LIMITS = Limits()


class Budget:
    """The running account of one render (see the module docstring)."""

    __slots__ = ("limits", "steps", "deadline", "clock", "out", "counted", "written", "known")

    def __init__(self, limits: Limits = DEFAULT_LIMITS, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self.steps = 0
        self.deadline = clock() + limits.seconds
        self.out: list | None = None
        self.counted = 0
        self.written = 0
        # the last few containers weighed, id → (container, elements, characters): a loop that
        # appends to a list then pays for the new element, not for a walk of the whole list
        self.known: dict[int, tuple[Any, int, int]] = {}

    def step(self) -> None:
        """One loop iteration."""
        self.steps += 1
        if self.steps % _CHECK_EVERY == 0:
            if self.steps > self.limits.steps:
                raise TemplateEvalError(f"template budget exceeded: more than {self.limits.steps} loop steps")
            if self.clock() > self.deadline:
                raise TemplateEvalError(f"template budget exceeded: rendering took longer than {self.limits.seconds:g}s")
            self._check_output()

    def _check_output(self) -> None:
        out = self.out
        if out is None:
            return
        self.written += sum(len(part) for part in out[self.counted:])
        self.counted = len(out)
        if self.written > self.limits.output_size:
            raise TemplateEvalError(f"template budget exceeded: output above {self.limits.output_size} characters")

    def charge(self, size: int, what: str) -> None:
        """Refuse to build a value of `size` before building it (`replace`, `join`)."""
        if size > self.limits.value_size:
            raise TemplateEvalError(f"template budget exceeded: {what} would be {size} characters "
                                    f"(limit {self.limits.value_size})")

    def weigh(self, value: Any) -> None:
        """Raise when `value` is above the size limits; cost stops at the limit."""
        if isinstance(value, int) and not isinstance(value, bool):
            if value.bit_length() > self.limits.int_bits:
                raise TemplateEvalError(f"template budget exceeded: integer above {self.limits.int_bits} bits")
            return
        if isinstance(value, str):
            if len(value) > self.limits.value_size:
                raise TemplateEvalError(f"template budget exceeded: {describe(value)} "
                                        f"(limit {self.limits.value_size})")
            return
        if isinstance(value, (list, tuple, Mapping)):
            known = self.known.get(id(value))
            if known is not None and known[0] is value:   # template values are never changed in place
                return
            self._settle(value, *_weight(value, self.limits.elements, self.limits.value_size))

    def grown(self, result: list, base: Any, added: Any) -> None:
        """`result` is `base` plus the element `added` (`append`): when `base` was weighed, only
        `added` is walked; otherwise the call site's `weigh` walks `result` as usual."""
        known = self.known.get(id(base))
        if known is None or known[0] is not base:
            return
        elements, chars = _weight((added,), self.limits.elements, self.limits.value_size)
        self._settle(result, known[1] + elements, known[2] + chars)

    def _settle(self, value: Any, elements: int, chars: int) -> None:
        if elements > self.limits.elements or chars > self.limits.value_size:
            raise TemplateEvalError(f"template budget exceeded: {describe(value)} holds more than "
                                    f"{self.limits.elements} elements or {self.limits.value_size} characters")
        if len(self.known) >= _KNOWN:
            del self.known[next(iter(self.known))]
        self.known[id(value)] = (value, elements, chars)

    def finish(self) -> None:
        """The last output check. Without loops the output is bounded by the template's own
        size times the value limit, so only renders that looped pay for it."""
        if self.steps:
            self._check_output()


def _weight(value: Any, max_elements: int, max_chars: int) -> tuple[int, int]:
    """(elements, characters) in `value`, counting shared parts each time they appear. The walk
    stops as soon as either passes its limit, so a value built by doubling is refused in
    O(limit) rather than O(2^rounds). An integer above 64 bits counts as its decimal digits:
    `toJson` or `printf` of a list of big integers writes them all out."""
    elements = chars = 0
    stack = [value]
    while stack and elements <= max_elements and chars <= max_chars:
        v = stack.pop()
        items = v.values() if type(v) is dict or isinstance(v, Mapping) else v
        elements += len(items)
        for x in items:
            kind = type(x)
            if kind is str:
                chars += len(x)
            elif kind is int:
                if not -_BIG <= x < _BIG:
                    chars += _digits(x)
            elif kind is list or kind is dict or kind is tuple or isinstance(x, (list, tuple, Mapping)):
                stack.append(x)
    return elements, chars


_BIG = 1 << 63


def _digits(n: int) -> int:
    """Decimal digits of `n`, from its bit length (log10(2) < 0.302), without converting it."""
    return n.bit_length() * 302 // 1000 + 1


_local = threading.local()


def current() -> Budget | None:
    """The budget of the render running on this thread, if any."""
    return getattr(_local, "budget", None)


def open_budget(limits: Limits | None = None) -> tuple[Budget, bool]:
    """(the thread's budget, whether this call opened it). A render inside a render joins the
    open budget, and `limits` applies only when this call opens one; pair an opening with
    `close_budget`."""
    active = getattr(_local, "budget", None)
    if active is not None:
        return active, False
    budget = _local.budget = Budget(limits or DEFAULT_LIMITS)
    return budget, True


def close_budget() -> None:
    _local.budget = None


_SMALL = 4096   # shorter strings (and 64-bit ints) skip the budget lookup: the hot path


def weigh(value: Any) -> Any:
    """`value`, once checked against the size limits of the running render."""
    kind = type(value)
    if (kind is str and len(value) < _SMALL) or value is None or kind is bool or kind is float \
            or (kind is int and -(1 << 63) <= value < 1 << 63):
        return value
    budget = getattr(_local, "budget", None)
    if budget is not None:
        budget.weigh(value)
    return value


def grown(result: list, base: Any, added: Any) -> None:
    budget = getattr(_local, "budget", None)
    if budget is not None:
        budget.grown(result, base, added)


def charge(size: int, what: str) -> None:
    budget = getattr(_local, "budget", None)
    if budget is not None:
        budget.charge(size, what)
