"""The function table (`FUNCTIONS`) and the clock hook (`CLOCK`) of the template engine.

`FUNCTIONS` merges the Go built-ins and every group of the v1 library (docs/katalog.md#templates); the
compiler binds names against it at compile time, so an unknown name is a load error.

`CLOCK` is a zero-argument callable returning an aware UTC datetime. Time functions call it on
every use, so tests (and `ork gate`) can pin time with
`monkeypatch.setattr(orkestra.template.functions, "CLOCK", lambda: fixed)`.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from orkestra.template.library import (
    arith, containers, conversions, encoding, gobuiltins, kubeobjects, logic, names, randomness,
    semver, strings, timefns,
)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


CLOCK: Callable[[], datetime] = _utc_now


def _now() -> datetime:
    """The current time through the hook, read at call time so reassigning CLOCK works."""
    return CLOCK()


FUNCTIONS: dict[str, Callable[..., Any]] = {}
for _group in (gobuiltins.FUNCTIONS, strings.FUNCTIONS, names.FUNCTIONS, logic.FUNCTIONS,
               conversions.FUNCTIONS, arith.FUNCTIONS, encoding.FUNCTIONS, randomness.FUNCTIONS,
               containers.FUNCTIONS, timefns.build(_now), kubeobjects.FUNCTIONS, semver.FUNCTIONS):
    FUNCTIONS.update(_group)
