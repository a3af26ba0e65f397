"""Go duration syntax (`500ms`, `15s`, `1h30m`), used by the Katalog and the environment.

Also the human age format of the HTTP API (`12m4s`, `3h2m`, `5d3h`) and its RFC 3339 timestamps.
"""
from __future__ import annotations

import re
import time

from orkestra.errors import OrkestraError

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


class DurationError(OrkestraError, ValueError):
    """A malformed duration: an expected, user-explainable failure (still a `ValueError` for
    callers that treat it as one)."""


def parse_duration(text: str | int | float, *, bare_seconds: bool = False) -> float:
    """Seconds in a Go duration string. `bare_seconds` also accepts `30` (env vars holding seconds)."""
    if isinstance(text, bool):
        raise DurationError(f"invalid duration {text!r}")
    if isinstance(text, (int, float)):
        if bare_seconds:
            return float(text)
        raise DurationError(f"invalid duration {text!r}: expected a string such as \"15s\" or \"1m30s\"")
    s = str(text).strip()
    if bare_seconds and re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    if s == "0":
        return 0.0
    sign = 1.0
    if s[:1] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if not s:
        raise DurationError(f"invalid duration {text!r}")
    pos, total = 0, 0.0
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m:
            raise DurationError(f"invalid duration {text!r}: expected a Go duration such as \"500ms\", \"15s\" or \"1h30m\"")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def format_duration(seconds: float) -> str:
    """Go's `time.Duration.String()`: `5m0s`, `15s`, `1h30m0s`, `500ms`, `0s`."""
    if seconds == 0:
        return "0s"
    neg = seconds < 0
    seconds = abs(seconds)
    if seconds < 1:
        ms = seconds * 1000
        out = f"{ms:g}ms" if ms >= 1 else f"{seconds * 1e6:g}µs"
    else:
        h, rem = divmod(seconds, 3600)
        m, s = divmod(rem, 60)
        sec = f"{s:.9f}".rstrip("0").rstrip(".")
        out = (f"{int(h)}h{int(m)}m" if h else (f"{int(m)}m" if m else "")) + f"{sec}s"
    return "-" + out if neg else out


def human_age(seconds: float) -> str:
    """`12m4s`, `3h2m`, `5d3h` (two largest units), `0s` for less than a second."""
    s = int(max(0, seconds))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    if d:
        return f"{d}d{h}h"
    if h:
        return f"{h}h{m}m"
    if m:
        return f"{m}m{sec}s"
    return f"{sec}s"


def rfc3339(epoch: float | None) -> str | None:
    """A Unix time as the API's RFC 3339 UTC timestamp (whole seconds); None stays None."""
    return None if epoch is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
