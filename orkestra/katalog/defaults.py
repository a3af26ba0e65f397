"""Environment defaults for CRD entries (docs/runtime.md §13): DEFAULT_WORKERS, DEFAULT_RESYNC,
QUEUE_DEPTH, FAILURE_THRESHOLD, RECONCILE_TIMEOUT.

Parsed in one place so the loader and the engine agree on values and on the error text
`invalid <VAR> "<value>": <expected>`; `orkestra.config` calls it on the process environment and
passes the result to the loader (`orkestra.katalog.inputs.LoadInputs`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from orkestra.durations import DurationError, parse_duration
from orkestra.errors import OrkestraError


class DefaultsError(OrkestraError):
    """An environment variable holding a default has an invalid value."""


def _int(env: Mapping[str, str], var: str, default: int, minimum: int, maximum: int | None) -> int:
    raw = env.get(var)
    if raw is None or raw.strip() == "":
        return default
    expected = (f"an integer between {minimum} and {maximum}" if maximum is not None
                else f"an integer >= {minimum}")
    try:
        value = int(raw.strip())
    except ValueError:
        raise DefaultsError(f'invalid {var} "{raw}": expected {expected}') from None
    if value < minimum or (maximum is not None and value > maximum):
        raise DefaultsError(f'invalid {var} "{raw}": expected {expected}')
    return value


def _seconds(env: Mapping[str, str], var: str, default: float, *, allow_zero: bool) -> float:
    raw = env.get(var)
    if raw is None or raw.strip() == "":
        return default
    expected = ("a duration such as 15s (0 disables, otherwise at least 1s) or a number of seconds"
                if allow_zero else "a duration of at least 1s such as 5m, or a number of seconds")
    try:
        value = parse_duration(raw, bare_seconds=True)
    except DurationError:
        raise DefaultsError(f'invalid {var} "{raw}": expected {expected}') from None
    if value < 0 or (value < 1 and not (allow_zero and value == 0)):
        raise DefaultsError(f'invalid {var} "{raw}": expected {expected}')
    return value


@dataclass(frozen=True)
class KatalogDefaults:
    workers: int = 3
    resync: float = 15.0
    queue_depth: int = 100
    failure_threshold: int = 5
    reconcile_timeout: float = 300.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "KatalogDefaults":
        """Defaults from an environment mapping (`orkestra.config` hands it the process's);
        raises DefaultsError naming the variable."""
        return cls(
            workers=_int(env, "DEFAULT_WORKERS", cls.workers, 1, 50),
            resync=_seconds(env, "DEFAULT_RESYNC", cls.resync, allow_zero=True),
            queue_depth=_int(env, "QUEUE_DEPTH", cls.queue_depth, 0, None),
            failure_threshold=_int(env, "FAILURE_THRESHOLD", cls.failure_threshold, 1, None),
            reconcile_timeout=_seconds(env, "RECONCILE_TIMEOUT", cls.reconcile_timeout, allow_zero=False),
        )
