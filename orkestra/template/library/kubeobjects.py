"""Kubernetes object functions: hasCondition conditionStatus conditionReason readyReplicas
allReplicasReady jobSucceeded jobFailed isTerminating.

They read the usual places of built-in objects (`status.conditions[]`, `status.readyReplicas`,
`spec.replicas` defaulting to 1, `status.succeeded`, `metadata.deletionTimestamp`) and are
nil-safe: a missing object or a missing field means "not ready", "no condition", `""` or 0.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from orkestra.template.values import as_str, is_number


def _section(obj: Any, name: str) -> Mapping:
    value = obj.get(name) if isinstance(obj, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _count(value: Any, default: int = 0) -> int | float:
    return value if is_number(value) else default


def _condition(obj: Any, ctype: Any) -> Mapping:
    wanted = as_str(ctype)
    conditions = _section(obj, "status").get("conditions")
    for cond in conditions if isinstance(conditions, list) else ():
        if isinstance(cond, Mapping) and cond.get("type") == wanted:
            return cond
    return {}


def has_condition(obj: Any, ctype: Any) -> bool:
    """True when the condition of that type has status "True"."""
    return _condition(obj, ctype).get("status") == "True"


def condition_status(obj: Any, ctype: Any) -> str:
    return as_str(_condition(obj, ctype).get("status"))


def condition_reason(obj: Any, ctype: Any) -> str:
    return as_str(_condition(obj, ctype).get("reason"))


def ready_replicas(obj: Any) -> int | float:
    return _count(_section(obj, "status").get("readyReplicas"))


def all_replicas_ready(obj: Any) -> bool:
    """Ready ≥ desired (spec.replicas, default 1) and observedGeneration ≥ generation."""
    if not isinstance(obj, Mapping):
        return False
    status = _section(obj, "status")
    desired = _count(_section(obj, "spec").get("replicas"), 1)
    observed = _count(status.get("observedGeneration"))
    generation = _count(_section(obj, "metadata").get("generation"))
    return ready_replicas(obj) >= desired and observed >= generation


def job_succeeded(obj: Any) -> bool:
    return _count(_section(obj, "status").get("succeeded")) >= 1 or has_condition(obj, "Complete")


def job_failed(obj: Any) -> bool:
    return has_condition(obj, "Failed")


def is_terminating(obj: Any) -> bool:
    return bool(_section(obj, "metadata").get("deletionTimestamp"))


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "hasCondition": has_condition, "conditionStatus": condition_status,
    "conditionReason": condition_reason, "readyReplicas": ready_replicas,
    "allReplicasReady": all_replicas_ready, "jobSucceeded": job_succeeded,
    "jobFailed": job_failed, "isTerminating": is_terminating,
}
