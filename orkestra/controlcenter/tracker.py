"""What the Control Center knows about one runtime, and the rules that change it (pure).

A runtime is `online` (fresh leader data), `starting` (only follower data so far) or `offline`
(the last fetch failed). An offline runtime keeps its last snapshot, the error and the time it
went offline, and returns to online by itself on the next good fetch. A URL often points at a
Service in front of a leader and followers, so a follower's answer never replaces leader data
younger than three poll intervals. Time is passed in, so the rules are tested without sleeping.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

LEADER_FRESHNESS = 3   # poll intervals during which leader data beats a follower's answer


class RuntimeStatus(StrEnum):
    ONLINE = "online"
    STARTING = "starting"
    OFFLINE = "offline"


@dataclass(frozen=True)
class RuntimeData:
    """One complete read of a runtime: `/katalog`, and per CRD its detail and health documents."""

    katalog: dict[str, Any]
    details: dict[str, dict[str, Any]]
    health: dict[str, dict[str, Any]]
    leader: bool
    fetched_at: float


@dataclass
class RuntimeTracker:
    rid: str
    url: str
    interval: float
    status: RuntimeStatus = RuntimeStatus.OFFLINE
    data: RuntimeData | None = None
    last_error: str = "not fetched yet"
    offline_since: float | None = None
    last_fetch: float | None = None

    def record(self, data: RuntimeData) -> bool:
        """A successful read; returns True when it replaced the snapshot."""
        now = data.fetched_at
        self.last_fetch, self.last_error, self.offline_since = now, "", None
        current = self.data
        if not data.leader and current is not None and current.leader \
                and now - current.fetched_at < LEADER_FRESHNESS * self.interval:
            self.status = RuntimeStatus.ONLINE
            return False
        self.data = data
        self.status = RuntimeStatus.ONLINE if data.leader else RuntimeStatus.STARTING
        return True

    def fail(self, error: str, now: float) -> None:
        """A failed read: offline, keeping the last snapshot."""
        self.last_fetch, self.last_error, self.status = now, error, RuntimeStatus.OFFLINE
        if self.offline_since is None:
            self.offline_since = now


def runtime_ids(urls: tuple[str, ...] | list[str]) -> list[str]:
    """One id per URL from its host and port (`cluster1-8080`); a repeated id gets `-2`, `-3`…"""
    out: list[str] = []
    for url in urls:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        base = re.sub(r"[^a-z0-9.-]+", "-", (parts.hostname or "runtime").lower()).strip("-") + f"-{port}"
        rid, n = base, 1
        while rid in out:
            n += 1
            rid = f"{base}-{n}"
        out.append(rid)
    return out
