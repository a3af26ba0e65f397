"""Status computation (docs/katalog.md#status, docs/runtime.md §10.2): pure functions from the current status,
the reconcile outcome and the declared fields to the new status, plus the merge patch between them.

The Ready condition keeps its `lastTransitionTime` unless its `status` flips; other condition
types are kept. Declared fields with conditions are evaluated even after a failure (so they can
report it); fields without conditions are written only after a success. Hook `set_status` values
are merged last. The caller sends a patch only when `status_patch` returns something.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from orkestra.conditions import ConditionSet, compile_conditions
from orkestra.template import TemplateEvalError, compile_template
from orkestra.template.values import to_text

log = logging.getLogger("orkestra.reconcile")

_TYPES = {"integer": "int", "boolean": "bool"}


@dataclass(frozen=True)
class StatusField:
    path: str
    value: Any
    type: str
    conditions: ConditionSet | None
    clear_on_false: bool

    @classmethod
    def compile(cls, spec: dict) -> "StatusField":
        when, any_of = spec.get("when"), spec.get("anyOf") or spec.get("or")
        value = spec.get("value")
        if isinstance(value, str) and "{{" in value:
            compile_template(value)
        return cls(path=spec["path"], value=value, type=_TYPES.get(spec.get("type") or "string",
                                                                    spec.get("type") or "string"),
                   conditions=compile_conditions(when, any_of) if (when or any_of) else None,
                   clear_on_false=bool(spec.get("clearOnFalse")))


class _Skip(Exception):
    pass


def _convert(value: Any, type_: str) -> Any:
    if type_ == "auto":
        return value
    try:
        if type_ == "string":
            return to_text(value)
        if type_ == "int":
            if isinstance(value, bool):
                raise ValueError
            number = float(value if value not in (None, "") else 0)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if type_ == "float":
            return float(value if value not in (None, "") else 0)
        if type_ == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text not in ("true", "false"):
                raise ValueError
            return text == "true"
    except (TypeError, ValueError):
        raise _Skip(f'cannot convert "{value}" to {type_}') from None
    return value


def _render(value: Any, cr: dict, extra: dict, native: bool) -> Any:
    if isinstance(value, str) and "{{" in value:
        tpl = compile_template(value)
        return tpl.render_value(cr, **extra) if native else tpl.render(cr, **extra)
    return value


def evaluate_fields(fields: list[StatusField], cr: dict, *, extra: dict, ok: bool,
                    crd: str = "", key: str = "") -> list[tuple[str, str, Any]]:
    """Ordered `(op, path, value)` with op `set` or `clear`; a later op on a path wins."""
    ops: list[tuple[str, str, Any]] = []
    for field in fields:
        if field.conditions is None:
            if not ok:
                continue
        elif not field.conditions.evaluate(cr, extra=extra):
            if field.clear_on_false:
                ops.append(("clear", field.path, None))
            continue
        try:
            rendered = _render(field.value, cr, extra, field.type != "string")
            if rendered is None or rendered == "":    # §9.3: nil and "" mean the field is omitted
                ops.append(("clear", field.path, None))
                continue
            value = _convert(rendered, field.type)
        except (_Skip, TemplateEvalError) as err:
            log.warning("status field skipped: %s: %s", field.path, err, extra={"crd": crd, "key": key})
            continue
        ops.append(("set", field.path, value))
    return ops


def _set(target: dict, path: str, value: Any) -> None:
    """Set `path` in `target`, copying (never mutating) the nested maps on the way: they may be cached."""
    parts = path.split(".")
    for part in parts[:-1]:
        nxt = target.get(part)
        nxt = target[part] = dict(nxt) if isinstance(nxt, dict) else {}
        target = nxt
    target[parts[-1]] = value


def _clear(target: dict, path: str) -> None:
    """Remove `path` from `target`, copying the nested maps on the way (see `_set`)."""
    parts = path.split(".")
    node = target
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            return
        node = child
    if parts[-1] not in node:
        return
    for part in parts[:-1]:
        target[part] = dict(target[part])
        target = target[part]
    del target[parts[-1]]


def ready_condition(previous: list[dict], *, ready: bool, reason: str, message: str,
                    generation: int | None, now: str) -> list[dict]:
    """The conditions list with Ready replaced; other types kept in place."""
    status = "True" if ready else "False"
    old = next((c for c in previous if c.get("type") == "Ready"), None)
    since = old.get("lastTransitionTime") if old and old.get("status") == status else now
    cond = {"type": "Ready", "status": status, "reason": reason, "message": message,
            "observedGeneration": generation, "lastTransitionTime": since}
    if old is None:
        return [*previous, cond]
    return [cond if c is old else c for c in previous]


def compute_status(current: dict | None, *, generation: int | None, ok: bool, reason: str, message: str,
                   field_ops: list[tuple[str, str, Any]], hook_status: dict[str, Any],
                   conditions: bool, now: str) -> dict:
    """The status to write after a reconcile with outcome `ok`/`reason`/`message`.

    `current` is the cached status and is never modified: only the maps on written paths are copied."""
    status = dict(current or {})
    if conditions:
        if ok:
            status["observedGeneration"] = generation
        status["conditions"] = ready_condition(list(status.get("conditions") or []), ready=ok, reason=reason,
                                               message=message, generation=generation, now=now)
    for op, path, value in field_ops:
        if op == "set":
            _set(status, path, value)
        else:
            _clear(status, path)
    for path, value in hook_status.items():
        if value is None:
            _clear(status, path)
        else:
            _set(status, path, value)
    return status


def merge_diff(old: dict, new: dict) -> dict:
    """RFC 7386 merge patch turning `old` into `new` (removed keys become null, lists are replaced)."""
    patch: dict = {}
    for k in old.keys() - new.keys():
        patch[k] = None
    for k, v in new.items():
        if k not in old:
            patch[k] = v
        elif isinstance(v, dict) and isinstance(old[k], dict):
            sub = merge_diff(old[k], v)
            if sub:
                patch[k] = sub
        elif v != old[k]:
            patch[k] = v
    return patch


def status_patch(current: dict | None, new: dict) -> dict | None:
    """`{"status": <diff>}`, or None when nothing changed."""
    diff = merge_diff(current or {}, new)
    return {"status": diff} if diff else None
