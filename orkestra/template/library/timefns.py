"""Time: now timeFormat timeSince durationSeconds isExpired.

The clock is injected: `build(now)` returns the functions bound to a zero-argument callable, and
`orkestra.template.functions` binds them to its `CLOCK` hook. Times are RFC 3339 strings (as the
API server writes `creationTimestamp`), datetimes, or Unix seconds; a naive time is taken as UTC.
Durations are Go duration strings (`90s`, `1h30m`) or numbers of seconds. Nil is nil-safe:
`timeFormat`/`timeSince` give `""`, `isExpired` gives false (what was never set cannot expire).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from orkestra.durations import DurationError, format_duration, parse_duration
from orkestra.template.errors import TemplateEvalError
from orkestra.template.values import as_str, describe, is_number, type_name, whole


def rfc3339(t: datetime) -> str:
    """Second precision, `Z` for UTC (Go's time.RFC3339)."""
    t = t.replace(microsecond=0)
    if t.utcoffset() == timedelta(0):
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    return t.isoformat()


def parse_time(v: Any, fn: str) -> datetime | None:
    """An aware datetime from an RFC 3339 string, a datetime or Unix seconds; None for nil/""."""
    if v is None or v == "":
        return None
    if isinstance(v, datetime):
        t = v
    elif is_number(v):
        t = datetime.fromtimestamp(v, timezone.utc)
    elif isinstance(v, str):
        try:
            t = datetime.fromisoformat(v.strip())
        except ValueError:
            raise TemplateEvalError(f"{fn}: {describe(v)} is not an RFC 3339 time") from None
    else:
        raise TemplateEvalError(f"{fn}: expected a time, got {type_name(v)}")
    return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)


def parse_seconds(d: Any, fn: str) -> float:
    """Seconds in a Go duration string or a number (nil is 0)."""
    if d is None:
        return 0.0
    if is_number(d):
        return float(d)
    try:
        return parse_duration(as_str(d), bare_seconds=True)
    except DurationError:
        raise TemplateEvalError(f'{fn}: invalid duration ({describe(d)}): expected a Go duration such as "500ms", "15s" or "1h30m"') from None


def build(now: Callable[[], datetime]) -> dict[str, Callable[..., Any]]:
    """The time functions, reading the current time from `now` on every call (naive is UTC)."""

    def current() -> datetime:
        t = now()
        return t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)

    def now_fn() -> str:
        return rfc3339(current())

    def time_format(layout: Any, t: Any) -> str:
        parsed = parse_time(t, "timeFormat")
        return "" if parsed is None else parsed.strftime(as_str(layout))

    def time_since(t: Any) -> str:
        parsed = parse_time(t, "timeSince")
        if parsed is None:
            return ""
        return format_duration(round((current() - parsed).total_seconds()))

    def duration_seconds(d: Any) -> int | float:
        return whole(parse_seconds(d, "durationSeconds"))

    def is_expired(t: Any, d: Any) -> bool:
        parsed = parse_time(t, "isExpired")
        if parsed is None:
            return False
        return parsed + timedelta(seconds=parse_seconds(d, "isExpired")) < current()

    return {"now": now_fn, "timeFormat": time_format, "timeSince": time_since,
            "durationSeconds": duration_seconds, "isExpired": is_expired}
