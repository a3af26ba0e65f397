"""Event reasons and the exact message formats of docs/runtime.md §10 and docs/katalog.md#validation–12.

Kept in one place so the reconciler, the deletion flow and the tests agree on every string.
"""
from __future__ import annotations

import json
import re
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


# How the API server refuses a child for its size: a ConfigMap or Secret over 1 MiB ("Too long"),
# a body over its request limit ("Request entity too large"), an object over etcd's ("request is too large").
_TOO_BIG = re.compile(r"(?i)too long|too large")
BIG_FIELD = 256 * 1024


def name_big_fields(failures: list[tuple[str, str]], cr: dict) -> list[tuple[str, str]]:
    """`failures` with each size refusal's reason followed by `(CR field <path> holds N characters)`
    when the CR (outside metadata and status) has a string of at least `BIG_FIELD` characters: the
    API server names the child it refused, the author needs the CR field a template copied into it."""
    if not any(_TOO_BIG.search(reason) for _, reason in failures):
        return failures
    found = _largest_string({k: v for k, v in cr.items() if k not in ("metadata", "status")})
    if found is None or found[1] < BIG_FIELD:
        return failures
    note = f" (CR field {found[0]} holds {found[1]} characters)"
    return [(ref, reason + note if _TOO_BIG.search(reason) else reason) for ref, reason in failures]


def _largest_string(doc: dict) -> tuple[str, int] | None:
    """The dotted path and length of the longest string in `doc`. Iterative, and each node links
    to its parent, so a wide or deep CR costs no path copies."""
    best: tuple[Any, int] | None = None
    stack: list[tuple[Any, Any]] = [(None, doc)]
    while stack:
        link, value = stack.pop()
        if isinstance(value, str):
            if best is None or len(value) > best[1]:
                best = (link, len(value))
        elif isinstance(value, dict):
            stack.extend(((f".{k}", link), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend(((f"[{i}]", link), v) for i, v in enumerate(value))
    if best is None:
        return None
    parts, link = [], best[0]
    while link is not None:
        part, link = link
        parts.append(part)
    return "".join(reversed(parts)).lstrip("."), best[1]


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
