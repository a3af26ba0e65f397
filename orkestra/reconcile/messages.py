"""Event reasons and the exact message formats of docs/runtime.md §10 and docs/katalog.md#validation–12.

Kept in one place so the reconciler, the deletion flow and the tests agree on every string.
"""
from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

MAX_MESSAGE = 1024
MAX_APPLY_ERRORS = 3


def truncate(message: str, limit: int = MAX_MESSAGE) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


def event_not_written(reason: str, error: Exception) -> str:
    """`Event Reconciled could not be written: post events ...: 403 Forbidden: ... cannot create resource "events" ...`."""
    return f"Event {reason} could not be written: {error}"


def reconciled(generation: int | None, changes: Iterable[tuple[str, str]]) -> str:
    """`reconciled generation 2: created Deployment default/web-deployment, updated Service default/web-svc`."""
    text = f"reconciled generation {generation}"
    parts = [f"{verb} {ref}" for verb, ref in changes]
    return truncate(f"{text}: {', '.join(parts)}" if parts else text)


def apply_failed(failures: list[tuple[str, str]]) -> str:
    """`apply failed: <kind> <ns>/<name>: <reason>` for the first three, then `… and N more`."""
    shown = "; ".join(f"{ref}: {reason}" for ref, reason in failures[:MAX_APPLY_ERRORS])
    rest = len(failures) - MAX_APPLY_ERRORS
    return f"apply failed: {shown}" + (f"; … and {rest} more" if rest > 0 else "")


def validation_denied(texts: list[str]) -> str:
    return truncate("validation denied: " + "; ".join(texts))


def validation_warning(texts: list[str]) -> str:
    return truncate("validation warning: " + "; ".join(texts))


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return "" if value is None else str(value)


def mutation_applied(applied: Sequence[tuple]) -> str:
    """`defaults applied: spec.replicas=2, metadata.labels.tier=web` from (path, old, new, kind) tuples."""
    return truncate("defaults applied: " + ", ".join(f"{a[0]}={_value_text(a[2])}" for a in applied))


def finalizers(verb: str, names: list[str]) -> str:
    """`added finalizer orkestra.io/finalizer`, `removed finalizers a, b`."""
    noun = "finalizer" if len(names) == 1 else "finalizers"
    return f"{verb} {noun} {', '.join(names)}"


def namespace_restricted(namespace: str, crd_key: str) -> str:
    return f'namespace "{namespace}" is not allowed for {crd_key}; the CR is not reconciled'


def deleting(has_work: bool) -> str:
    return "deletion started: running onDelete" if has_work else "deletion started"


def delete_job_failed(ref: str) -> str:
    return f"onDelete {ref} failed; still waiting for it to succeed"


def delete_job_vanished(ref: str) -> str:
    return (f"onDelete {ref} was removed before Orkestra saw it succeed; it is not run again, "
            "and the deletion waits for deleteTimeout")


def delete_timeout(timeout_text: str, refs: list[str]) -> str:
    return truncate(f"deleteTimeout {timeout_text} passed; continuing without {', '.join(refs)}")
