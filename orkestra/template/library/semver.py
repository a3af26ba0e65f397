"""Versions: `semverCompare constraint version`, with the constraint language of Helm/Sprig.

Written here rather than taken from a library: `packaging` (already installed) implements PEP 440,
which has no `^`, `~` or `x` wildcards, and the well-known semver packages would be a new runtime
dependency for ~150 lines of logic.

Constraints: comparators `= != > >= < <= ~ ~> ^` (no operator means `=`), partial versions and
wildcards (`1.2`, `1.2.x`, `*`), AND with `,` or spaces, OR with `||`, hyphen ranges
(`1.2 - 1.4.5`). Partial versions expand as in Sprig: `>1.2` is `>=1.3.0`, `<=1.2` is `<1.3.0`,
`~1.2.3` is `>=1.2.3 <1.3.0`, `^1.2.3` is `>=1.2.3 <2.0.0`, `^0.2.3` is `>=0.2.3 <0.3.0`. A
version with a pre-release (`1.3.0-rc.1`) only satisfies a group of comparators in which some
comparator names a pre-release. A leading `v` and `+build` metadata are accepted and ignored.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple

from orkestra.template.errors import TemplateEvalError
from orkestra.template.values import as_str, without_values

_PART = r"(\d+|[xX*])"
_PARTIAL = re.compile(rf"v?{_PART}(?:\.{_PART})?(?:\.{_PART})?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")
_COMPARATOR = re.compile(r"(!=|>=|=>|<=|=<|~>|>|<|=|~|\^)?\s*([^\s,<>=!~^][^\s,]*)")
_HYPHEN = re.compile(r"([^\s,]+)\s+-\s+([^\s,]+)")
_OPERATOR_ALIASES = {"=>": ">=", "=<": "<=", "~>": "~"}


class Version(NamedTuple):
    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()

    def key(self) -> tuple:
        pre_key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre_key)


class _Partial(NamedTuple):
    major: int | None
    minor: int | None
    patch: int | None
    pre: tuple[str, ...]

    def lower(self) -> Version:
        return Version(self.major or 0, self.minor or 0, self.patch or 0, self.pre)

    def upper(self) -> Version:
        """The first version above every version this partial version names."""
        if self.major is None:
            raise ValueError("no upper bound")
        if self.minor is None:
            return Version(self.major + 1, 0, 0)
        return Version(self.major, self.minor + 1, 0)

    @property
    def complete(self) -> bool:
        return self.patch is not None


def _partial(text: str) -> _Partial:
    m = _PARTIAL.fullmatch(text)
    if not m:
        raise ValueError(f"invalid version {text!r}")
    parts: list[int | None] = []
    for g in m.groups()[:3]:
        if g is None or g in "xX*" or (parts and parts[-1] is None):
            parts.append(None)
        else:
            parts.append(int(g))
    pre = tuple(m.group(4).split(".")) if m.group(4) else ()
    return _Partial(parts[0], parts[1], parts[2], pre)


def parse_version(text: str) -> Version:
    """A version; missing minor/patch count as 0 (`1.2` is 1.2.0). Raises ValueError."""
    p = _partial(text.strip())
    if p.major is None or (p.minor is None and text.count(".") >= 1) or \
            (p.patch is None and text.count(".") >= 2):
        raise ValueError(f"invalid version {text!r}")
    return p.lower()


def _comparators(op: str, p: _Partial) -> list[tuple[str, Any]]:
    """Expand one (operator, partial version) into comparisons on full versions. The bound is a
    Version, except for `!in` (outside a half-open range), whose bound is a (low, high) pair."""
    if p.major is None:  # `*`, `x`
        return [] if op in ("=", ">=", "<=", "~", "^") else [("<", Version(0, 0, 0))]
    low = p.lower()
    if op == "=":
        return [("=", low)] if p.complete else [(">=", low), ("<", p.upper())]
    if op == "!=":
        return [("!=", low)] if p.complete else [("!in", (low, p.upper()))]
    if op == ">":
        return [(">", low)] if p.complete else [(">=", p.upper())]
    if op == ">=":
        return [(">=", low)]
    if op == "<":
        return [("<", low)]
    if op == "<=":
        return [("<=", low)] if p.complete else [("<", p.upper())]
    if op == "~":
        top = Version(low.major + 1, 0, 0) if p.minor is None else Version(low.major, low.minor + 1, 0)
        return [(">=", low), ("<", top)]
    # "^": the left-most non-zero component is fixed.
    if low.major > 0 or p.minor is None:
        top = Version(low.major + 1, 0, 0)
    elif low.minor > 0 or p.patch is None:
        top = Version(0, low.minor + 1, 0)
    else:
        top = Version(0, 0, low.patch + 1)
    return [(">=", low), ("<", top)]


class _Group(NamedTuple):
    comparisons: tuple[tuple[str, tuple], ...]
    allows_pre: bool


@lru_cache(maxsize=512)
def parse_constraint(text: str) -> tuple[_Group, ...]:
    """Parse a constraint into OR-groups of AND-ed comparisons. Raises ValueError."""
    groups: list[_Group] = []
    for raw in text.split("||"):
        spec = _HYPHEN.sub(r">=\1 <=\2", raw).replace(",", " ").strip()
        if not spec:
            raise ValueError(f"invalid constraint {text!r}: empty range")
        comparisons: list[tuple[str, tuple]] = []
        allows_pre = False
        pos = 0
        for m in _COMPARATOR.finditer(spec):
            if spec[pos:m.start()].strip():
                raise ValueError(f"invalid constraint {text!r}")
            pos = m.end()
            op = _OPERATOR_ALIASES.get(m.group(1) or "=", m.group(1) or "=")
            p = _partial(m.group(2))
            allows_pre = allows_pre or bool(p.pre)
            for cmp_op, bound in _comparators(op, p):
                key = (bound[0].key(), bound[1].key()) if cmp_op == "!in" else bound.key()
                comparisons.append((cmp_op, key))
        if spec[pos:].strip():
            raise ValueError(f"invalid constraint {text!r}")
        groups.append(_Group(tuple(comparisons), allows_pre))
    return tuple(groups)


def _holds(op: str, key: tuple, bound: Any) -> bool:
    if op == "=":
        return key == bound
    if op == "!=":
        return key != bound
    if op == ">":
        return key > bound
    if op == ">=":
        return key >= bound
    if op == "<":
        return key < bound
    if op == "<=":
        return key <= bound
    low, high = bound  # "!in": outside [low, high)
    return not (low <= key < high)


def satisfies(constraint: str, version: str) -> bool:
    """True when `version` matches `constraint`. Raises ValueError for malformed input."""
    v = parse_version(version)
    key = v.key()
    for group in parse_constraint(constraint.strip()):
        if v.pre and not group.allows_pre:
            continue
        if all(_holds(op, key, bound) for op, bound in group.comparisons):
            return True
    return False


def semver_compare(constraint: Any, version: Any) -> bool:
    """`semverCompare ">=1.2.0, <2" .spec.version`; a nil or empty version matches nothing."""
    text = as_str(version).strip()
    if not text:
        return False
    try:
        return satisfies(as_str(constraint), text)
    except ValueError as exc:
        raise TemplateEvalError(f"semverCompare: {without_values(str(exc))}") from None


FUNCTIONS: dict[str, Callable[..., Any]] = {"semverCompare": semver_compare}
