"""Test doubles for the Control Center: a fake fetcher and a hand-driven clock."""
from __future__ import annotations

from typing import Any

from orkestra.controlcenter.fetch import FetchError


class Clock:
    def __init__(self, now: float = 1_780_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeFetcher:
    """Answers from a url → (status, body) table; a missing url is unreachable. A callable value
    is called on each request (to vary answers between attempts)."""

    def __init__(self, docs: dict[str, Any] | None = None) -> None:
        self.docs: dict[str, Any] = dict(docs or {})
        self.calls: list[str] = []
        self.timeouts: list[float] = []

    def get_json(self, url: str, *, timeout: float = 5.0) -> tuple[int, Any]:
        self.calls.append(url)
        self.timeouts.append(timeout)
        value = self.docs.get(url)
        if value is None:
            raise FetchError(f"{url}: [Errno 111] Connection refused")
        if callable(value):
            return value()
        return value
