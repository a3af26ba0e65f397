"""Compiling `when` / `anyOf` lists (docs/katalog.md#conditions) into objects that evaluate fast and never guess.

A condition is parsed once, at load, into a `FieldCondition` or a `WindowCondition`. Parsing
collects every problem of a condition as `(key, message)` pairs instead of stopping at the
first, so the same parser serves both `check_condition_list` (the Katalog loader's report, one
line per problem with its key path) and `compile_condition` (which raises `ConditionError`).

Evaluation is pure: the object, the template context (`extra`), the clock and the `unique`
lookup are all passed in. One `ConditionSet.evaluate` reads the clock once, so every time
condition in a list sees the same instant. Template fields render with
`Template.render_value`, so `typeOf` and `exists` see the native value; the comparison string is
then the §8 string form. A template evaluation error propagates (`TemplateEvalError`): callers
decide whether it fails a reconcile or is collected per rule.
"""
from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orkestra.conditions.operators import (
    NO_VALUE, OPERATORS, SHORTHANDS, Test, build_test, shorthand_operator,
)
from orkestra.conditions.paths import PathError, Segment, lookup_with_context, parse_path
from orkestra.conditions.values import VALUE_TYPES, stringify
from orkestra.conditions.windows import CronWindow, DayOfWeek, TimeWindow
from orkestra.errors import OrkestraError
from orkestra.template import Template, TemplateSyntaxError, compile_template, is_template

Clock = Callable[[], datetime]
UniqueLookup = Callable[[str, str, str, dict], bool]   # (field, value, scope, obj) -> taken

FIELD_KEYS = frozenset({"field", "operator", "value", "valueType", "negate", "uniqueScope"})
WINDOW_KINDS = ("time", "dayOfWeek", "cron")
UNIQUE_SCOPES = ("cluster", "namespace")


def join_key(prefix: str, key: str) -> str:
    """`spec.x` + `when[0].regex` -> `spec.x.when[0].regex`; `rules` + `[1]` -> `rules[1]`."""
    if not prefix or not key:
        return prefix or key
    return prefix + key if key.startswith("[") else f"{prefix}.{key}"


class ConditionError(OrkestraError):
    """Conditions that cannot be compiled; `problems` are `(key path, message)` pairs."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(self.lines()))

    def lines(self, prefix: str = "") -> list[str]:
        """One `"<prefix>.<key>: <message>"` line per problem."""
        return [f"{join_key(prefix, key)}: {message}" if join_key(prefix, key) else message
                for key, message in self.problems]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class EvalContext:
    """What one evaluation sees; `now` is read from the clock at most once."""

    def __init__(self, obj: dict, extra: dict | None, clock: Clock | None, unique: UniqueLookup | None):
        self.obj, self.extra, self.unique = obj, extra or {}, unique
        self._clock: Clock = clock or utc_now
        self._now: datetime | None = None

    def now(self) -> datetime:
        if self._now is None:
            now = self._clock()
            self._now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
        return self._now


class Condition(Protocol):
    @property
    def negate(self) -> bool: ...     # read-only: the conditions are frozen dataclasses

    def holds(self, ctx: EvalContext) -> bool: ...

    def evaluate(self, obj: dict, *, extra: dict | None = None, clock: Clock | None = None,
                 unique: UniqueLookup | None = None) -> bool: ...


class _Evaluable:
    def holds(self, ctx: EvalContext) -> bool:
        raise NotImplementedError

    def evaluate(self, obj: dict, *, extra: dict | None = None, clock: Clock | None = None,
                 unique: UniqueLookup | None = None) -> bool:
        """True when the condition holds for `obj` (after `negate`)."""
        return self.holds(EvalContext(obj, extra, clock, unique))


@dataclass(frozen=True)
class FieldCondition(_Evaluable):
    field: str
    operator: str
    negate: bool
    test: Test | None                  # None for `unique`
    unique_scope: str = "cluster"
    template: Template | None = None
    segments: tuple[Segment, ...] = ()

    def raw_value(self, obj: dict, extra: dict | None = None) -> Any:
        """The field's raw value: the rendered template, or the value at the path (MISSING)."""
        if self.template is not None:
            return self.template.render_value(obj, **(extra or {}))
        return lookup_with_context(obj, self.segments, extra)

    def verdict(self, obj: dict, *, extra: dict | None = None, clock: Clock | None = None,
                unique: UniqueLookup | None = None) -> tuple[bool, str]:
        """Whether the condition holds, and the string it compared (for violation texts)."""
        return self._judge(EvalContext(obj, extra, clock, unique))

    def holds(self, ctx: EvalContext) -> bool:
        return self._judge(ctx)[0]

    def _judge(self, ctx: EvalContext) -> tuple[bool, str]:
        raw = self.raw_value(ctx.obj, ctx.extra)
        text = stringify(raw)
        if self.test is not None:
            ok = self.test(raw, text)
        else:   # unique: an empty value has nothing to collide with; no lookup means no check
            ok = text == "" or ctx.unique is None or not ctx.unique(self.field, text, self.unique_scope, ctx.obj)
        return ok != self.negate, text


@dataclass(frozen=True)
class WindowCondition(_Evaluable):
    window: TimeWindow | DayOfWeek | CronWindow
    zone: tzinfo
    negate: bool

    def holds(self, ctx: EvalContext) -> bool:
        return self.window.contains(ctx.now().astimezone(self.zone)) != self.negate


@dataclass(frozen=True)
class ConditionSet:
    """`when` (all must hold) and `anyOf` (one must hold, when non-empty)."""

    when: tuple[Condition, ...] = ()
    any_of: tuple[Condition, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.when or self.any_of)

    def evaluate(self, obj: dict, *, extra: dict | None = None, clock: Clock | None = None,
                 unique: UniqueLookup | None = None) -> bool:
        ctx = EvalContext(obj, extra, clock, unique)
        if not all(c.holds(ctx) for c in self.when):
            return False
        return not self.any_of or any(c.holds(ctx) for c in self.any_of)


def _suggest(word: str, candidates: list[str]) -> str | None:
    lowered = {c.lower(): c for c in candidates}
    if word.lower() in lowered:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return close[0] if close else None


def _unknown(word: str, *, operator_only: bool) -> str:
    if operator_only and word in SHORTHANDS:        # `operator: greaterThan`
        return f'unknown operator "{word}" (did you mean "{SHORTHANDS[word]}"?)'
    if not operator_only and word in OPERATORS:     # `gt: 5`, `typeOf: map`
        short = next((k for k, v in SHORTHANDS.items() if v == word), None)
        return f'"{word}" is not a shorthand: write operator: {word} with value:' + (
            f', or the shorthand "{short}:"' if short else "")
    candidates = list(OPERATORS) if operator_only else sorted(SHORTHANDS) + sorted(FIELD_KEYS)
    guess = _suggest(word, candidates)
    noun = "operator" if operator_only or guess is None or guess in SHORTHANDS else "key"
    return f'unknown {noun} "{word}"' + (f' (did you mean "{guess}"?)' if guess else "")


def _bool_key(cond: dict, key: str, problems: list[tuple[str, str]]) -> bool:
    value = cond.get(key, False)
    if not isinstance(value, bool):
        problems.append((key, f'must be true or false, got "{stringify(value)}"'))
        return False
    return value


def _zone(cond: dict, problems: list[tuple[str, str]]) -> tzinfo:
    name = cond.get("timezone", "UTC")
    try:
        if isinstance(name, str) and name:
            return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    problems.append(("timezone", f'unknown time zone "{stringify(name)}" (expected an IANA name such as "Europe/Berlin")'))
    return timezone.utc


def _parse_window(cond: dict, problems: list[tuple[str, str]]) -> WindowCondition | None:
    before = len(problems)
    kinds = [k for k in WINDOW_KINDS if k in cond]
    if len(kinds) > 1:
        problems.append((kinds[1], f'a condition has one of time, dayOfWeek or cron, not both "{kinds[0]}" and "{kinds[1]}"'))
        return None
    kind = kinds[0]
    allowed = {kind, "timezone", "negate"} | ({"duration"} if kind == "cron" else set())
    for key in sorted(set(cond) - allowed, key=str):
        problems.append((key, f'unknown key "{key}" in a {kind} condition (allowed: {", ".join(sorted(allowed))})'))
    zone, negate = _zone(cond, problems), _bool_key(cond, "negate", problems)
    window: TimeWindow | DayOfWeek | CronWindow
    try:
        if kind == "time":
            window = TimeWindow.parse(cond["time"])
        elif kind == "dayOfWeek":
            window = DayOfWeek.parse(cond["dayOfWeek"])
        else:
            window = CronWindow.parse(cond["cron"], cond.get("duration"))
    except ValueError as exc:
        message = str(exc)
        key = kind if kind != "cron" or not message.startswith("duration:") else "duration"
        problems.append((key, message.removeprefix("cron: ").removeprefix("duration: ")))
        return None
    return None if len(problems) > before else WindowCondition(window, zone, negate)


def _parse_field(cond: dict, problems: list[tuple[str, str]]) -> FieldCondition | None:
    before = len(problems)
    field = cond["field"]
    template: Template | None = None
    segments: tuple[Segment, ...] = ()
    if not isinstance(field, str) or not field.strip():
        problems.append(("field", "must be a non-empty string (a dot path or a template)"))
    elif is_template(field):
        try:
            template = compile_template(field)
        except TemplateSyntaxError as exc:
            problems.append(("field", str(exc)))
    else:
        try:
            segments = parse_path(field)
        except PathError as exc:
            problems.append(("field", str(exc)))

    shorthands = [k for k in cond if k in SHORTHANDS]
    for key in cond:
        if key not in FIELD_KEYS and key not in SHORTHANDS:
            problems.append((key, _unknown(key, operator_only=False)))
    value_type = cond.get("valueType")
    if value_type is not None and value_type not in VALUE_TYPES:
        problems.append(("valueType", f'unknown valueType "{stringify(value_type)}" (expected string, int, float or bool)'))
        value_type = None
    negate = _bool_key(cond, "negate", problems)
    scope = cond.get("uniqueScope", "cluster")
    if scope not in UNIQUE_SCOPES:
        problems.append(("uniqueScope", f'must be cluster or namespace, got "{stringify(scope)}"'))

    name, value_key = None, "value"
    if "operator" in cond:
        if shorthands:
            problems.append((shorthands[0], f'both operator and shorthand "{shorthands[0]}" are set: use one of them'))
            return None
        name = cond["operator"]
        if name not in OPERATORS:
            problems.append(("operator", _unknown(stringify(name), operator_only=True)))
            return None
        if name not in NO_VALUE and "value" not in cond:
            problems.append(("value", f'is required by operator "{name}"'))
            return None
        value = cond.get("value")
    elif len(shorthands) > 1:
        problems.append((shorthands[1], f'one operator per condition: both "{shorthands[0]}" and "{shorthands[1]}" are set'))
        return None
    elif shorthands:
        value_key = shorthands[0]
        value = cond[value_key]
        if "value" in cond:
            problems.append(("value", f'is only used with operator:, not with the shorthand "{value_key}"'))
        try:
            name = shorthand_operator(value_key, value)
        except ValueError as exc:
            problems.append((value_key, str(exc)))
            return None
    else:
        if len(problems) == before:
            problems.append(("", 'a field condition needs an operator: "operator:" with "value:", or a shorthand such as "equals:"'))
        return None

    test = None
    if name != "unique":
        try:
            test = build_test(name, value, value_type)
        except ValueError as exc:
            problems.append((value_key, str(exc)))
    if len(problems) > before:
        return None
    return FieldCondition(field, name, negate, test, scope, template, segments)


def _parse(cond: Any, problems: list[tuple[str, str]]) -> Condition | None:
    if not isinstance(cond, dict):
        problems.append(("", "a condition must be a map (field + operator, time, dayOfWeek or cron)"))
        return None
    odd = [key for key in cond if not isinstance(key, str)]
    if odd:
        problems.extend((str(key), f'unknown key "{key}": keys are names such as field or equals') for key in odd)
        return None
    if "field" in cond:
        window_keys = [k for k in WINDOW_KINDS if k in cond]
        if window_keys:
            problems.append((window_keys[0], f'a condition has either "field" or "{window_keys[0]}", not both'))
            return None
        return _parse_field(cond, problems)
    if any(k in cond for k in WINDOW_KINDS):
        return _parse_window(cond, problems)
    if any(k in cond for k in SHORTHANDS) or "operator" in cond:
        problems.append(("field", "is required"))
    else:
        problems.append(("", "a condition needs field (with an operator), time, dayOfWeek or cron"))
    return None


def resolve_field(obj: dict, field: str, extra: dict | None = None) -> str:
    """The §8 string value of `field` (a dot path or a template) in `obj`."""
    if is_template(field):
        return stringify(compile_template(field).render_value(obj, **(extra or {})))
    return stringify(lookup_with_context(obj, field, extra))


def _parse_list(conds: Any, key: str) -> tuple[tuple[Condition, ...], list[tuple[str, str]]]:
    if conds is None:
        return (), []
    if not isinstance(conds, list):
        return (), [(key, "must be a list of conditions")]
    compiled: list[Condition] = []
    problems: list[tuple[str, str]] = []
    for i, cond in enumerate(conds):
        own: list[tuple[str, str]] = []
        parsed = _parse(cond, own)
        if parsed is not None:        # None only with a problem, and then the set is not used
            compiled.append(parsed)
        problems.extend((join_key(f"{key}[{i}]", k), m) for k, m in own)
    return tuple(compiled), problems


def compile_condition(cond: dict) -> Condition:
    """One condition; raises `ConditionError` listing every problem (`regex: invalid regex …`)."""
    problems: list[tuple[str, str]] = []
    condition = _parse(cond, problems)
    if condition is None:
        raise ConditionError(problems)
    return condition


def compile_conditions(when: list | None, any_of: list | None) -> ConditionSet:
    """`when` and `anyOf` together; raises `ConditionError` with keys like `when[1].regex`."""
    when_set, when_problems = _parse_list(when, "when")
    any_set, any_problems = _parse_list(any_of, "anyOf")
    if when_problems or any_problems:
        raise ConditionError(when_problems + any_problems)
    return ConditionSet(when_set, any_set)


def check_condition_list(conds: Any, path: str) -> list[str]:
    """Load-time problems of one condition list, as `"<path>[i].<key>: <message>"` lines."""
    return ConditionError(_parse_list(conds, "")[1]).lines(path)
