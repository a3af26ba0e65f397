"""Read kube-apiserver's audit log (JSON lines, as written by `LocalControlPlane(audit=True)`).

Fault tests use it to show *who* wrote *what* and *when* from the API server's own record rather
than from the writers' logs: a writer that believes it is leader cannot hide a write there.
"""
from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


@dataclass(frozen=True)
class AuditEvent:
    """One completed request: the user, the verb, the object and when the server handled it."""

    user: str
    verb: str
    group: str
    resource: str
    namespace: str
    name: str
    subresource: str
    code: int
    received: _dt.datetime
    completed: _dt.datetime

    @property
    def is_write(self) -> bool:
        return self.verb in WRITE_VERBS

    @property
    def succeeded(self) -> bool:
        return 200 <= self.code < 300


def parse_time(text: str) -> _dt.datetime:
    """An audit timestamp (RFC 3339 with up to nanoseconds, `Z`) as an aware UTC datetime."""
    head, _, fraction = text.rstrip("Z").partition(".")
    stamp = _dt.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=_dt.timezone.utc)
    return stamp + _dt.timedelta(microseconds=int((fraction + "000000")[:6])) if fraction else stamp


def parse_event(line: str) -> AuditEvent | None:
    """The event on one log line; None for lines of another stage or that are not events."""
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("stage") != "ResponseComplete":
        return None
    ref = doc.get("objectRef") or {}
    if "requestReceivedTimestamp" not in doc or "stageTimestamp" not in doc:
        return None
    return AuditEvent(user=(doc.get("user") or {}).get("username", ""), verb=doc.get("verb", ""),
                      group=ref.get("apiGroup", ""), resource=ref.get("resource", ""),
                      namespace=ref.get("namespace", ""), name=ref.get("name", ""),
                      subresource=ref.get("subresource", ""),
                      code=int((doc.get("responseStatus") or {}).get("code") or 0),
                      received=parse_time(doc["requestReceivedTimestamp"]),
                      completed=parse_time(doc["stageTimestamp"]))


def read_audit_log(path: Path) -> list[AuditEvent]:
    """Every completed request in the log and its rotated predecessor (`audit-<time>.log`, next to
    it), in the order the server wrote them."""
    rotated = sorted(path.parent.glob(f"{path.stem}-*{path.suffix}"))   # names sort by their time
    events: list[AuditEvent] = []
    for part in [*rotated, path]:
        try:
            text = part.read_text(errors="replace")
        except FileNotFoundError:       # rotated away while we read
            continue
        events += [event for event in map(parse_event, text.splitlines()) if event is not None]
    return events
