"""`ApiDouble`: an in-memory stand-in for `orkestra.kube.KubeClient` with the API server's write rules.

Unit tests of the reconcile and deletion flows drive the real code against this double instead of
a live API server. It implements the typed helpers of `KubeClient` that `orkestra.reconcile` uses
(`get`, `list`, `create`, `replace`, `apply`, `patch`, `delete`) with the semantics a reconciler
depends on, and records every call so a test can assert "no write happened" or "this object was
never touched".

What it models, as the API server does:

* resourceVersion: one counter for the whole store (etcd's revision), bumped by every write;
  a write whose body carries a stale `metadata.resourceVersion` fails with 409 Conflict.
* generation: 1 on create; +1 when anything outside `metadata` and `status` changes, and when a
  deletion sets `deletionTimestamp` on an object that has finalizers.
* status subresource (on for every resource unless `status_subresource` says otherwise): a write
  to the main resource keeps the stored `status`; a write to `status` changes only `status`.
* JSON patch (RFC 6902): add, remove, replace, move, copy, test, JSON pointers with `~0`/`~1`,
  `-` for appending, all-or-nothing. A failed op (a `test` that does not match, a missing path)
  is a 422 `Invalid` whose message starts with `jsonpatch`; a patch that changes
  `metadata.resourceVersion` to a stale value is a 409 Conflict.
* merge patch (RFC 7386): objects merge recursively, `null` deletes a member, anything else
  (lists included) replaces.
* server-side apply, simplified: the applied configuration is merged into the live object (maps
  recursively, lists replaced as a whole); fields this manager applied before and no longer
  applies are removed; without `force`, setting a field that holds a different value and was
  not applied by this manager before is a 409 Conflict. Apply creates a missing object.
* finalizers: `delete` of an object with finalizers sets `deletionTimestamp` (once) instead of
  removing it; a write that leaves a deleting object without finalizers removes it; a write that
  adds a finalizer to a deleting object is a 422 (the server forbids new finalizers then).
* immutable metadata: `uid`, `creationTimestamp`, `deletionTimestamp`, `generation` cannot be
  changed by a write; a body naming another object is a 400.
* not found: 404 `ApiError` from writes; `get` returns None and `delete` returns False, as
  `KubeClient` does. Create of an existing name: 409 AlreadyExists.

What it does not model: garbage collection (ownerReferences are stored, never acted on),
admission (add your own with `add_admission`), namespaces' lifecycle, watches, strategic merge
patch, managedFields (objects come back without them unless `managed_fields=True`, which records
one Apply/Update entry per manager with the time of its last write), and per-kind generation
rules of built-in kinds.

Failures can be injected: `fail(verb, ...)` answers the next matching calls with an `ApiError`
(e.g. 403 on a Job create in a terminating namespace); `add_admission(fn)` runs `fn` on every
write before it is stored (raise an `ApiError(status=422, ...)` to play a CEL rule or a
ValidatingAdmissionPolicy).

Objects put in place with `seed` are not recorded as writes: they stand for what users and other
controllers created before the test.
"""
from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple

from orkestra.gvk import GVR
from orkestra.kube.errors import ApiError
from orkestra.kube.paths import describe

WRITE_VERBS = ("create", "replace", "apply", "patch", "delete")
_IMMUTABLE_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")
_SEED_MANAGER = "seed"
_MISSING = object()
Admission = Callable[[str, GVR, "dict | None", dict], None]


class Call(NamedTuple):
    """One recorded call. `status` is the HTTP status it was answered with (200 on success)."""

    verb: str                    # get, list, create, replace, apply, patch, delete
    gvr: GVR
    name: str | None             # None for list
    namespace: str | None
    subresource: str | None = None
    patch_type: str | None = None
    body: Any = None
    status: int = 200


@dataclass
class _Failure:
    verb: str
    gvr: GVR | None
    name: str | None
    namespace: str | None
    status: int
    reason: str
    message: str
    times: int
    body: dict = field(default_factory=dict)

    def matches(self, verb: str, gvr: GVR, name: str | None, namespace: str | None) -> bool:
        return (self.verb == verb and self.gvr in (None, gvr) and self.name in (None, name)
                and self.namespace in (None, namespace))


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiDouble:
    """In-memory `KubeClient` stand-in; thread-safe (reconcile workers may share it).

    `clock` stamps creationTimestamp/deletionTimestamp (inject the test's fake clock);
    `status_subresource(gvr)` says whether a resource has a status subresource (default: all).
    """

    def __init__(self, *, clock: Callable[[], datetime] | None = None,
                 status_subresource: Callable[[GVR], bool] | None = None,
                 managed_fields: bool = False, manager: str = "orkestra") -> None:
        self.clock = clock or _utcnow
        self._has_status = status_subresource or (lambda gvr: True)
        self._managed_fields = managed_fields
        self.manager = manager
        self._lock = threading.RLock()
        self._store: dict[tuple[GVR, str | None, str], dict] = {}
        self._applied: dict[tuple[GVR, str | None, str], dict[str, dict]] = {}  # key -> manager -> config
        self._managers: dict[tuple[GVR, str | None, str], dict[str, tuple[str, str]]] = {}
        self._rv = 1000
        self._uids = 0
        self._failures: list[_Failure] = []
        self._admission: list[Admission] = []
        self.calls: list[Call] = []

    # --- test set-up and inspection (not recorded) ------------------------------------------------
    def seed(self, gvr: GVR, obj: dict) -> dict:
        """Store `obj` as if someone else had created it; fills uid, resourceVersion, generation."""
        with self._lock:
            meta = obj.setdefault("metadata", {})
            key = (gvr, meta.get("namespace") or None, meta["name"])
            stored = self._new_object(obj)
            self._store[key] = stored
            self._note_manager(key, _SEED_MANAGER, "Update")
            return self._out(key, stored)

    def object(self, gvr: GVR, name: str, namespace: str | None = None) -> dict | None:
        """A copy of the stored object, without recording a read."""
        with self._lock:
            obj = self._store.get((gvr, namespace or None, name))
            return None if obj is None else self._out((gvr, namespace or None, name), obj)

    def objects(self, gvr: GVR | None = None) -> list[dict]:
        """Copies of every stored object (of `gvr` when given)."""
        with self._lock:
            return [self._out(k, o) for k, o in self._store.items() if gvr is None or k[0] == gvr]

    def fail(self, verb: str, gvr: GVR | None = None, name: str | None = None, namespace: str | None = None,
             *, status: int, reason: str = "", message: str = "injected failure", times: int = 1,
             body: dict | None = None) -> None:
        """Answer the next `times` matching calls (`verb` one of get/list/create/replace/apply/patch/
        delete; None matches anything) with an `ApiError` of `status`."""
        with self._lock:
            self._failures.append(_Failure(verb, gvr, name, namespace, status, reason, message, times,
                                           body or {}))

    def add_admission(self, check: Admission) -> None:
        """Run `check(verb, gvr, old, new)` before every write is stored; it may raise `ApiError`.
        `old` is None on create; for a delete, `new` is the object as it would be stored."""
        self._admission.append(check)

    @property
    def writes(self) -> list[Call]:
        """Every write request (create/replace/apply/patch/delete), answered or refused."""
        with self._lock:
            return [c for c in self.calls if c.verb in WRITE_VERBS]

    def writes_to(self, gvr: GVR, name: str, namespace: str | None = None) -> list[Call]:
        """The write requests addressed to one object."""
        return [c for c in self.writes if c.gvr == gvr and c.name == name and c.namespace == (namespace or None)]

    def touched(self, gvr: GVR, name: str, namespace: str | None = None) -> bool:
        """True when any write request was addressed to the object."""
        return bool(self.writes_to(gvr, name, namespace))

    def clear_calls(self) -> None:
        """Forget the recorded calls (e.g. after the set-up reconcile)."""
        with self._lock:
            self.calls.clear()

    # --- the KubeClient interface ---------------------------------------------------------------
    def get(self, gvr: GVR, name: str, namespace: str | None = None) -> dict | None:
        with self._lock:
            key = (gvr, namespace or None, name)
            self._enter("get", gvr, name, namespace)
            obj = self._store.get(key)
            return None if obj is None else self._out(key, obj)

    def list(self, gvr: GVR, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> tuple[list[dict], str]:
        with self._lock:
            self._enter("list", gvr, None, namespace)
            labels = _parse_label_selector(label_selector)
            fields = _parse_field_selector(field_selector)
            items = []
            for (g, ns, _), obj in sorted(self._store.items(), key=lambda kv: (kv[0][1] or "", kv[0][2])):
                if g != gvr or (namespace and ns != namespace):
                    continue
                if all(test(obj["metadata"].get("labels") or {}) for test in labels) and \
                        all(_field_value(obj, path) == want for path, want in fields):
                    items.append(self._out((g, ns, obj["metadata"]["name"]), obj))
            return items, str(self._rv)

    def create(self, gvr: GVR, obj: dict, namespace: str | None = None) -> dict:
        with self._lock:
            ns = namespace or (obj.get("metadata") or {}).get("namespace") or None
            name = (obj.get("metadata") or {}).get("name")
            self._enter("create", gvr, name, ns, body=obj)
            if not name:
                raise self._error("create", gvr, name, ns, 400, "metadata.name: Required value")
            key = (gvr, ns, name)
            if key in self._store:
                raise self._error("create", gvr, name, ns, 409, f'{gvr.resource} "{name}" already exists',
                                  reason="AlreadyExists")
            new = self._new_object(obj, ns)
            self._admit("create", gvr, None, new)
            self._store[key] = new
            self._note_manager(key, self.manager, "Update")
            return self._out(key, new)

    def replace(self, gvr: GVR, obj: dict, namespace: str | None = None) -> dict:
        with self._lock:
            ns = namespace or obj["metadata"].get("namespace") or None
            name = obj["metadata"]["name"]
            self._enter("replace", gvr, name, ns, body=obj)
            key = (gvr, ns, name)
            old = self._existing("replace", key)
            return self._update("replace", key, old, copy.deepcopy(obj), subresource=None)

    def apply(self, gvr: GVR, obj: dict, namespace: str | None = None, force: bool = True) -> dict:
        with self._lock:
            ns = namespace or obj["metadata"].get("namespace") or None
            name = obj["metadata"]["name"]
            self._enter("apply", gvr, name, ns, body=obj)
            key = (gvr, ns, name)
            config = copy.deepcopy(obj)
            config["metadata"].pop("managedFields", None)
            old = self._store.get(key)
            if old is None:
                new = self._new_object(config, ns)
                self._admit("apply", gvr, None, new)
                self._store[key] = new
            else:
                before = self._applied.get(key, {}).get(self.manager, {})
                if not force:
                    clash = _apply_conflict(old, config, before)
                    if clash:
                        raise self._error("apply", gvr, name, ns, 409,
                                          f"Apply failed with 1 conflict: conflict with another manager on {clash}")
                merged = _strip_unapplied(copy.deepcopy(old), before, config)
                _merge_apply(merged, config)
                answer = self._update("apply", key, old, merged, subresource=None)
            self._applied.setdefault(key, {})[self.manager] = config
            self._note_manager(key, self.manager, "Apply")
            return answer if old is not None else self._out(key, self._store[key])

    def patch(self, gvr: GVR, name: str, body: Any, namespace: str | None = None,
              patch_type: str = "merge", subresource: str | None = None) -> dict:
        with self._lock:
            ns = namespace or None
            self._enter("patch", gvr, name, ns, body=body, subresource=subresource, patch_type=patch_type)
            if patch_type not in ("merge", "json"):
                raise ValueError(f"ApiDouble supports merge and json patches, not {patch_type!r}")
            if subresource not in (None, "status"):
                raise ValueError(f"ApiDouble supports the status subresource only, not {subresource!r}")
            key = (gvr, ns, name)
            if subresource == "status" and not self._has_status(gvr):
                raise self._error("patch", gvr, name, ns, 404, f"{gvr.resource} has no status subresource")
            old = self._existing("patch", key)
            if patch_type == "merge":
                if not isinstance(body, dict):
                    raise self._error("patch", gvr, name, ns, 400, "a merge patch must be a JSON object")
                new = merge_patch(copy.deepcopy(old), body)
            else:
                try:
                    new = json_patch(old, body)
                except JsonPatchError as err:
                    raise self._error("patch", gvr, name, ns, 422, f"jsonpatch: {err}", reason="Invalid") from None
            return self._update("patch", key, old, new, subresource=subresource)

    def delete(self, gvr: GVR, name: str, namespace: str | None = None, propagation: str = "Background",
               preconditions: dict | None = None) -> bool:
        with self._lock:
            ns = namespace or None
            self._enter("delete", gvr, name, ns, body={"propagationPolicy": propagation,
                                                          "preconditions": preconditions})
            key = (gvr, ns, name)
            old = self._store.get(key)
            if old is None:
                self._answer(404)
                return False
            meta = old["metadata"]
            for field_name, value in (preconditions or {}).items():
                if meta.get(field_name) != value:
                    raise self._error("delete", gvr, name, ns, 409,
                                      f"Precondition failed: {field_name}: {value} != {meta.get(field_name)}")
            if meta.get("finalizers"):
                if meta.get("deletionTimestamp"):
                    return True
                new = copy.deepcopy(old)
                new["metadata"]["deletionTimestamp"] = _rfc3339(self.clock())
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                if new["metadata"].get("generation"):
                    new["metadata"]["generation"] += 1
                self._admit("delete", gvr, old, new)
                self._store[key] = self._bump(new)
                return True
            self._admit("delete", gvr, old, old)
            self._forget(key)
            return True

    # --- internals -------------------------------------------------------------------------------
    def _enter(self, verb: str, gvr: GVR, name: str | None, namespace: str | None, *, body: Any = None,
               subresource: str | None = None, patch_type: str | None = None) -> None:
        """Record the call and raise an injected failure when one matches."""
        self.calls.append(Call(verb, gvr, name, namespace or None, subresource, patch_type,
                               copy.deepcopy(body)))
        for failure in self._failures:
            if failure.times > 0 and failure.matches(verb, gvr, name, namespace or None):
                failure.times -= 1
                raise self._error(verb, gvr, name, namespace, failure.status, failure.message,
                                  reason=failure.reason or None, body=failure.body)

    def _answer(self, status: int) -> None:
        self.calls[-1] = self.calls[-1]._replace(status=status)

    def _error(self, verb: str, gvr: GVR, name: str | None, namespace: str | None, status: int,
               message: str, *, reason: str | None = None, body: dict | None = None) -> ApiError:
        self._answer(status)
        reason = reason or {400: "BadRequest", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
                            422: "Invalid"}.get(status, "Error")
        status_body = {"kind": "Status", "status": "Failure", "reason": reason, "message": message,
                       "code": status, **(body or {})}
        return ApiError(status=status, reason=reason, message=message, verb=verb,
                        resource=describe(gvr, namespace, name), body=status_body)

    def _existing(self, verb: str, key: tuple) -> dict:
        obj = self._store.get(key)
        if obj is None:
            gvr, ns, name = key
            raise self._error(verb, gvr, name, ns, 404, f'{gvr.resource} "{name}" not found')
        return obj

    def _admit(self, verb: str, gvr: GVR, old: dict | None, new: dict) -> None:
        for check in self._admission:
            try:
                check(verb, gvr, copy.deepcopy(old), copy.deepcopy(new))
            except ApiError as err:
                self._answer(err.status)
                raise

    def _new_object(self, obj: dict, namespace: str | None = None) -> dict:
        new = copy.deepcopy(obj)
        meta = new.setdefault("metadata", {})
        meta.pop("managedFields", None)
        if namespace:
            meta["namespace"] = namespace
        for gone in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion"):
            meta.pop(gone, None)
        self._uids += 1
        meta["uid"] = f"uid-{self._uids:04d}"
        meta["creationTimestamp"] = _rfc3339(self.clock())
        meta["generation"] = 1
        if not meta.get("finalizers"):
            meta.pop("finalizers", None)
        return self._bump(new)

    def _bump(self, obj: dict) -> dict:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        return obj

    def _update(self, verb: str, key: tuple, old: dict, new: dict, *, subresource: str | None) -> dict:
        """Store `new` in place of `old` following the server's rules; returns the answer."""
        gvr, ns, name = key
        meta = new.get("metadata")
        if not isinstance(meta, dict) or meta.get("name") != name or (meta.get("namespace") or None) != ns:
            raise self._error(verb, gvr, name, ns, 400, "the body names another object (metadata.name/namespace)")
        sent_rv = meta.get("resourceVersion")
        if sent_rv is not None and sent_rv != old["metadata"]["resourceVersion"]:
            raise self._error(verb, gvr, name, ns, 409,
                              f'Operation cannot be fulfilled on {gvr.resource} "{name}": the object has been '
                              "modified; please apply your changes to the latest version and try again")
        if subresource == "status":
            status = new.get("status", _MISSING)
            new = copy.deepcopy(old)
            if status is _MISSING:
                new.pop("status", None)
            else:
                new["status"] = status
        elif self._has_status(gvr):
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        meta = new["metadata"]
        meta.pop("managedFields", None)
        for field_name in _IMMUTABLE_META:
            if field_name in old["metadata"]:
                meta[field_name] = old["metadata"][field_name]
            else:
                meta.pop(field_name, None)
        meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        if not meta.get("finalizers"):
            meta.pop("finalizers", None)
        old_finalizers = old["metadata"].get("finalizers") or []
        if old["metadata"].get("deletionTimestamp") and \
                any(f not in old_finalizers for f in meta.get("finalizers") or []):
            raise self._error(verb, gvr, name, ns, 422,
                              f'{gvr.resource} "{name}" is invalid: metadata.finalizers: Forbidden: '
                              "no new finalizers can be added if the object is being deleted")
        if new == old:
            return self._out(key, old)     # the server does not store a no-op write
        if _spec_of(new) != _spec_of(old):
            meta["generation"] = old["metadata"].get("generation", 0) + 1
        self._admit(verb, gvr, old, new)
        self._bump(new)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._forget(key)
            return copy.deepcopy(new)
        self._store[key] = new
        if verb != "apply":
            self._note_manager(key, self.manager, "Update")
        return self._out(key, new)

    def _forget(self, key: tuple) -> None:
        self._store.pop(key, None)
        self._applied.pop(key, None)
        self._managers.pop(key, None)

    def _note_manager(self, key: tuple, manager: str, operation: str) -> None:
        self._managers.setdefault(key, {})[manager] = (operation, _rfc3339(self.clock()))

    def _out(self, key: tuple, obj: dict) -> dict:
        out = copy.deepcopy(obj)
        if self._managed_fields:
            out["metadata"]["managedFields"] = [
                {"manager": m, "operation": op, "time": t} for m, (op, t) in self._managers.get(key, {}).items()]
        return out


def _spec_of(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


# --- RFC 7386 merge patch ------------------------------------------------------------------------
def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: apply `patch` to `target` (which may be modified) and return the result."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for name, value in patch.items():
        if value is None:
            target.pop(name, None)
        else:
            target[name] = merge_patch(target.get(name), value)
    return target


# --- RFC 6902 JSON patch -------------------------------------------------------------------------
class JsonPatchError(ValueError):
    """An operation of a JSON patch cannot be applied; the whole patch is then rejected."""


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902: apply `ops` to a copy of `doc`, all or nothing."""
    if not isinstance(ops, list):
        raise JsonPatchError("a JSON patch must be an array of operations")
    doc = copy.deepcopy(doc)
    for index, op in enumerate(ops):
        if not isinstance(op, dict) or "op" not in op or not isinstance(op.get("path"), str):
            raise JsonPatchError(f"operation {index}: needs 'op' and a string 'path'")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise JsonPatchError(f"operation {index} ({kind} {path}): missing 'value'")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            _resolve(doc, path)          # must exist
            doc, _ = _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind in ("move", "copy"):
            source = op.get("from")
            if not isinstance(source, str):
                raise JsonPatchError(f"operation {index} ({kind} {path}): needs a string 'from'")
            if kind == "move" and (path == source or path.startswith(source + "/")):
                if path == source:
                    continue
                raise JsonPatchError(f"operation {index}: cannot move {source} into itself")
            value = copy.deepcopy(_resolve(doc, source))
            if kind == "move":
                doc, _ = _remove(doc, source)
            doc = _add(doc, path, value)
        elif kind == "test":
            if not _json_equal(_resolve(doc, path), op["value"]):
                raise JsonPatchError(f"testing value {path} failed")
        else:
            raise JsonPatchError(f"operation {index}: unknown op {kind!r}")
    return doc


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise JsonPatchError(f"JSON pointer {pointer!r} must start with '/'")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container: list, token: str, pointer: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not re.fullmatch(r"0|[1-9][0-9]*", token):
        raise JsonPatchError(f"{pointer}: {token!r} is not an array index")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise JsonPatchError(f"{pointer}: index {index} out of range")
    return index


def _parent(doc: Any, pointer: str) -> tuple[Any, str]:
    tokens = _tokens(pointer)
    node = doc
    for depth, token in enumerate(tokens[:-1]):
        node = _step(node, token, "/" + "/".join(tokens[:depth + 1]))
    return node, tokens[-1]


def _step(node: Any, token: str, pointer: str) -> Any:
    if isinstance(node, dict):
        if token not in node:
            raise JsonPatchError(f"{pointer}: no such member")
        return node[token]
    if isinstance(node, list):
        return node[_index(node, token, pointer, allow_end=False)]
    raise JsonPatchError(f"{pointer}: cannot descend into a {type(node).__name__}")


def _resolve(doc: Any, pointer: str) -> Any:
    node = doc
    tokens = _tokens(pointer)
    for depth, token in enumerate(tokens):
        node = _step(node, token, "/" + "/".join(tokens[:depth + 1]))
    return node


def _add(doc: Any, pointer: str, value: Any) -> Any:
    if pointer == "":
        return value
    parent, token = _parent(doc, pointer)
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, token, pointer, allow_end=True), value)
    else:
        raise JsonPatchError(f"{pointer}: the parent is not an object or array")
    return doc


def _remove(doc: Any, pointer: str) -> tuple[Any, Any]:
    if pointer == "":
        return None, doc
    parent, token = _parent(doc, pointer)
    if isinstance(parent, dict):
        if token not in parent:
            raise JsonPatchError(f"{pointer}: no such member")
        return doc, parent.pop(token)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, token, pointer, allow_end=False))
    raise JsonPatchError(f"{pointer}: the parent is not an object or array")


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: booleans are not numbers, 1 equals 1.0, objects ignore member order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


# --- server-side apply (simplified) --------------------------------------------------------------
def _merge_apply(live: dict, config: dict) -> None:
    """Maps merge recursively; every other value (lists included) replaces."""
    for name, value in config.items():
        if isinstance(value, dict) and isinstance(live.get(name), dict):
            _merge_apply(live[name], value)
        else:
            live[name] = copy.deepcopy(value)


def _strip_unapplied(live: dict, before: dict, config: dict) -> dict:
    """Remove the fields `before` set (still holding that value) that `config` no longer sets."""
    for name, old in before.items():
        if name not in live:
            continue
        if name not in config:
            if live[name] == old or isinstance(old, dict) and isinstance(live[name], dict):
                if isinstance(old, dict) and isinstance(live[name], dict):
                    _strip_unapplied(live[name], old, {})
                    if not live[name]:
                        del live[name]
                else:
                    del live[name]
        elif isinstance(old, dict) and isinstance(config[name], dict) and isinstance(live[name], dict):
            _strip_unapplied(live[name], old, config[name])
    return live


def _apply_conflict(live: dict, config: dict, before: dict, prefix: str = "") -> str | None:
    """The first field `config` sets to a new value that this manager did not apply before."""
    for name, value in config.items():
        if prefix == "" and name in ("apiVersion", "kind"):
            continue
        if prefix == ".metadata" and name in ("name", "namespace", "resourceVersion"):
            continue
        path = f"{prefix}.{name}"
        have = live.get(name, _MISSING)
        if have is _MISSING:
            continue
        if isinstance(value, dict) and isinstance(have, dict):
            old = before.get(name) if isinstance(before.get(name), dict) else {}
            found = _apply_conflict(have, value, old, path)
            if found:
                return found
        elif have != value and before.get(name, _MISSING) is _MISSING:
            return path
    return None


# --- selectors -----------------------------------------------------------------------------------
_SET_RE = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_selector(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _parse_label_selector(text: str | None) -> list[Callable[[dict], bool]]:
    """`k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, comma-separated (AND)."""
    tests: list[Callable[[dict], bool]] = []
    for part in _split_selector(text or ""):
        match = _SET_RE.match(part)
        if match:
            key, op, values = match.group(1), match.group(2), {v.strip() for v in match.group(3).split(",")}
            if op == "in":
                tests.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                tests.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        elif "!=" in part:
            key, value = (s.strip() for s in part.split("!=", 1))
            tests.append(lambda labels, k=key, v=value: labels.get(k) != v)
        elif "=" in part:
            key, value = (s.strip() for s in part.replace("==", "=").split("=", 1))
            tests.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif part.startswith("!"):
            tests.append(lambda labels, k=part[1:].strip(): k not in labels)
        else:
            tests.append(lambda labels, k=part: k in labels)
    return tests


def _parse_field_selector(text: str | None) -> list[tuple[str, str]]:
    out = []
    for part in _split_selector(text or ""):
        path, _, value = part.replace("==", "=").partition("=")
        out.append((path.strip(), value.strip()))
    return out


def _field_value(obj: dict, path: str) -> str:
    node: Any = obj
    for token in path.split("."):
        node = node.get(token) if isinstance(node, dict) else None
    return "" if node is None else str(node)
