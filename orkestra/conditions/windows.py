"""Time conditions of docs/katalog.md#conditions: `time` windows, `dayOfWeek` and `cron` windows.

Each window is parsed once at load into a small frozen object whose `contains(local)` answers
for one local datetime; the caller (`orkestra.conditions.compiler`) converts the injected
clock's "now" into the condition's `timezone` first. Parsing raises `ValueError` with a message
the load-time checks show after the key path.

Cron expressions are parsed and walked backwards by `cronsim` (a small, dependency-free,
Debian-cron-compatible library, DST aware) rather than by hand: only the `@` aliases, the field
count and the window arithmetic live here. A window is open while "now" lies in
`[last fire time, last fire time + duration)`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cronsim import CronSim, CronSimError

from orkestra.durations import DurationError, parse_duration

_HHMM = re.compile(r"(\d{1,2}):(\d{2})")

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")       # index == datetime.weekday()
_DAY_NAMES = {name: i for i, name in enumerate(_DAYS)} | {
    full: i for i, full in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}

_CRON_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
DEFAULT_CRON_DURATION = 60.0


def _minute_of_day(value: Any, key: str) -> int:
    # Unquoted `18:00` reaches us as the integer 1080: YAML 1.1 reads it as base 60.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return value
    match = _HHMM.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f'{key}: "{value}" is not a 24-hour time HH:MM')
    return int(match.group(1)) * 60 + int(match.group(2))


@dataclass(frozen=True)
class TimeWindow:
    """`after` inclusive, `before` exclusive, minute resolution; wraps past midnight."""

    after: int | None
    before: int | None

    @classmethod
    def parse(cls, spec: Any) -> TimeWindow:
        if not isinstance(spec, dict) or not spec:
            raise ValueError('must be a map with "after" and/or "before" (HH:MM)')
        unknown = sorted((str(key) for key in set(spec) - {"after", "before"}))   # YAML keys may be ints
        if unknown:
            raise ValueError(f'unknown key "{unknown[0]}": expected "after" and/or "before"')
        after = _minute_of_day(spec["after"], "after") if "after" in spec else None
        before = _minute_of_day(spec["before"], "before") if "before" in spec else None
        if after is not None and after == before:
            raise ValueError("after and before are the same time: the window would be empty")
        return cls(after, before)

    def contains(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        if self.before is None:
            assert self.after is not None     # parse() sets at least one bound
            return minute >= self.after
        if self.after is None:
            return minute < self.before
        if self.after < self.before:
            return self.after <= minute < self.before
        return minute >= self.after or minute < self.before


def _day_list(value: Any, key: str) -> frozenset[int]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ValueError(f"{key}: must be a non-empty list of day names")
    days = set()
    for item in items:
        name = str(item).strip().lower()
        if name not in _DAY_NAMES:
            raise ValueError(f'{key}: "{item}" is not a day name (mon..sun or monday..sunday)')
        days.add(_DAY_NAMES[name])
    return frozenset(days)


@dataclass(frozen=True)
class DayOfWeek:
    days: frozenset[int]              # datetime.weekday() values that are inside

    @classmethod
    def parse(cls, spec: Any) -> DayOfWeek:
        if not isinstance(spec, dict) or len(spec) != 1:
            raise ValueError("must have exactly one of weekday: true, weekend: true, in: [...], notIn: [...]")
        (key, value), = spec.items()
        if key in ("weekday", "weekend"):
            if value is not True:
                raise ValueError(f"{key}: must be true (use the other of weekday/weekend instead of false)")
            return cls(frozenset(range(5)) if key == "weekday" else frozenset({5, 6}))
        if key == "in":
            return cls(_day_list(value, key))
        if key == "notIn":
            return cls(frozenset(range(7)) - _day_list(value, key))
        raise ValueError(f'unknown key "{key}": expected weekday, weekend, in or notIn')

    def contains(self, local: datetime) -> bool:
        return local.weekday() in self.days


@dataclass(frozen=True)
class CronWindow:
    expression: str                    # 5-field form, aliases expanded
    duration: float                    # seconds

    @classmethod
    def parse(cls, expression: Any, duration: Any = None) -> CronWindow:
        if not isinstance(expression, str) or not expression.strip():
            raise ValueError("cron: must be a 5-field cron expression or an @alias")
        text = " ".join(expression.split())
        if text.startswith("@"):
            if text.lower() not in _CRON_ALIASES:
                raise ValueError(f'cron: unknown alias "{text}" (expected one of {", ".join(_CRON_ALIASES)})')
            text = _CRON_ALIASES[text.lower()]
        elif len(text.split()) != 5:
            raise ValueError(f'cron: "{expression}" must have 5 fields (minute hour day month weekday)')
        try:
            CronSim(text, datetime(2000, 1, 1))
        except CronSimError as exc:
            raise ValueError(f'cron: "{expression}": {str(exc).lower()}') from None
        seconds = DEFAULT_CRON_DURATION
        if duration is not None:
            try:
                seconds = parse_duration(duration)
            except DurationError as exc:
                raise ValueError(f"duration: {exc}") from None
            if seconds <= 0:
                raise ValueError(f'duration: "{duration}" must be positive')
        return cls(text, seconds)

    def last_fire(self, local: datetime) -> datetime:
        """The latest fire time at or before `local` (same timezone as `local`)."""
        # cronsim steps back one second before matching unless microseconds are set; setting
        # one microsecond makes "now" itself a candidate, as the window is closed on the left.
        return next(CronSim(self.expression, local.replace(microsecond=1), reverse=True))

    def contains(self, local: datetime) -> bool:
        try:
            fired = self.last_fire(local)
        except StopIteration:          # cronsim gives up on expressions that never fire
            return False
        # Compare instants, not wall clocks: a window may span a DST change.
        return fired.timestamp() <= local.timestamp() < fired.timestamp() + self.duration
