"""The thin I/O layer that writes children for one reconcile and remembers what it did.

One `ChildWriter` lives for one reconcile of one CR. It applies (server-side apply, manager
`orkestra`, force per `forceConflict`; skipped when `orkestra.reconcile.applied` proves it a
no-op), creates create-only children when absent (cache first, then a GET; AlreadyExists is
fine), deletes (NotFound is fine) and prunes. It keeps the objects produced so far (they feed
`.children`), the changes for the `Reconciled` message, and the apply failures, which are
collected rather than raised so that one bad child does not stop the others.

Orkestra writes only what it created (docs/ownership.md): a child that is not in this CR's cache
is read before its first apply, and an existing object that this CR does not control (another
owner's, or nobody's: a user's own ConfigMap with the rendered name) is an `OwnerConflict`;
nothing is written to it. The create-only path holds an existing object to the same rule before
taking it as the child.
"""
from __future__ import annotations

import logging

from orkestra.gvk import GVR
from orkestra.kube.errors import ApiError, failure_reason
from orkestra.reconcile.applied import manifest_digest
from orkestra.reconcile.children import children_context
from orkestra.reconcile.errors import OwnerConflict
from orkestra.reconcile.naming import LABEL_OWNER_UID, LABEL_TEMPLATE
from orkestra.reconcile.prune import PrunePlan, identity, object_identity, pruned_when_removed
from orkestra.reconcile.render import DesiredChild

log = logging.getLogger("orkestra.reconcile")


def object_ref(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{obj.get('kind')} {ns}/{meta.get('name')}" if ns else f"{obj.get('kind')} {meta.get('name')}"


def created_by_this_apply(obj: dict) -> bool:
    """An apply answered for an object absent from the cache: did it create the object?

    True when Orkestra's Apply entry in managedFields is as old as the object itself. An object
    that existed but was not cached yet (child informer still syncing) is then not reported as
    created; whether it changed cannot be told, so it is not reported at all."""
    meta = obj.get("metadata") or {}
    created = meta.get("creationTimestamp")
    entries = meta.get("managedFields")
    if not entries:
        return True    # the server did not say: trust the cache's answer
    return any(e.get("manager") == "orkestra" and e.get("operation") == "Apply" and e.get("time") == created
               for e in entries)


def foreign_owner(obj: dict | None, owner_uid: str) -> str | None:
    """Who else controls `obj`: its controller ownerReference or owner-uid label naming another uid.

    None when the object is absent, ours, or has no Orkestra-style owner at all."""
    meta = (obj or {}).get("metadata") or {}
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller") and ref.get("uid") != owner_uid:
            return f"{ref.get('kind')} {ref.get('name')} (uid {ref.get('uid')})"
    label = (meta.get("labels") or {}).get(LABEL_OWNER_UID)
    if label and label != owner_uid:
        return f"the owner with uid {label}"
    return None


def controlled_by(obj: dict, owner_uid: str, *, label_tracked: bool) -> bool:
    """Whether the CR `owner_uid` controls `obj`: through a controller ownerReference, or, for a
    child that cannot be owned (cluster-scoped, or in another namespace), its owner-uid label."""
    meta = obj.get("metadata") or {}
    if label_tracked:
        return (meta.get("labels") or {}).get(LABEL_OWNER_UID) == owner_uid
    return any(ref.get("controller") and ref.get("uid") == owner_uid for ref in meta.get("ownerReferences") or ())


def _check_owner(child: DesiredChild, existing: dict | None, *, cached: bool) -> None:
    """Raise `OwnerConflict` unless Orkestra may write `existing` as `child` (docs/ownership.md).

    A cached child was found through this CR's owner index, so only another controller disqualifies
    it. An object read from the API server must be controlled by this CR: Orkestra never adopts an
    object it did not create."""
    if existing is None:
        return
    owner_uid = child.manifest["metadata"]["labels"][LABEL_OWNER_UID]
    other = foreign_owner(existing, owner_uid)
    if other is not None:
        raise OwnerConflict(child.ref, f"already controlled by {other}")
    if not cached and not controlled_by(existing, owner_uid, label_tracked=child.label_tracked):
        mark = f"{LABEL_OWNER_UID} label" if child.label_tracked else "controller ownerReference"
        raise OwnerConflict(child.ref, f"exists but was not created by Orkestra for this CR (it has no {mark} "
                                       "naming the CR); Orkestra never adopts an object it did not create: "
                                       "rename the template's object or remove the existing one")


def made_for(obj: dict, child: DesiredChild) -> bool:
    """Is the live `obj` found under `child`'s name the child Orkestra made for this CR and phase?

    Its owner-uid label must be the CR's, and an onDelete child must come from the same onDelete
    entry: a finished onCreate Job named like the cleanup Job is not the cleanup Job (issue 9
    item 3). Children of the normal flow only need the owner, because entries of one type are
    identified by position and inserting an entry must not orphan a create-only child."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    wanted = (child.manifest.get("metadata") or {}).get("labels") or {}
    if labels.get(LABEL_OWNER_UID) != wanted.get(LABEL_OWNER_UID):
        return False
    on_delete = [t.startswith("onDelete.") for t in (labels.get(LABEL_TEMPLATE) or "", child.template_id)]
    return on_delete[0] == on_delete[1] and (not on_delete[1] or labels.get(LABEL_TEMPLATE) == child.template_id)


def is_label_tracked(manifest: dict) -> bool:
    """A child without an ownerReference is found by its owner-uid label only (§7.5)."""
    meta = manifest.get("metadata") or {}
    return not meta.get("ownerReferences") and LABEL_OWNER_UID in (meta.get("labels") or {})


class ChildWriter:
    def __init__(self, kube, *, force: bool, cached_children: list[dict], applied: dict | None = None,
                 crd: str = "", key: str = "", owner: GVR | None = None) -> None:
        self._kube = kube
        self._owner = owner                            # the CR's kind, to name a missing finalizers rule
        self._applied = {} if applied is None else applied
        self._force = force
        self.cached = list(cached_children)
        self._cached_by_id = {object_identity(o): o for o in self.cached}
        self.produced: list[dict] = []
        self.changes: list[tuple[str, str]] = []       # (verb, ref)
        self.failures: list[tuple[str, str]] = []      # (ref, reason)
        self.conflicts: list[OwnerConflict] = []        # children another owner controls (not written)
        self.tracked_gvrs: list[GVR] = []              # GVRs to record on the CR (`_track`)
        self.created: list[tuple[GVR, dict]] = []      # children this reconcile created (not found before)
        self._log_extra = {"crd": crd, "key": key}

    def children(self) -> dict:
        """The `.children` context as of now."""
        return children_context(self.produced, self.cached)

    def _cached(self, child: DesiredChild) -> dict | None:
        return self._cached_by_id.get(identity(child.kind, child.namespace, child.name))

    def _track(self, child: DesiredChild) -> None:
        """Note the GVR of a child that only a record on the CR finds once the Katalog stops writing
        its kind: a label-tracked one (for the deletion flow) or one pruned when its entry goes."""
        if ((is_label_tracked(child.manifest) or pruned_when_removed(child.template_id))
                and child.gvr not in self.tracked_gvrs):
            self.tracked_gvrs.append(child.gvr)

    def _record(self, obj: dict) -> None:
        ident = object_identity(obj)
        self.produced = [o for o in self.produced if object_identity(o) != ident] + [obj]

    def _fail(self, ref: str, err: ApiError) -> None:
        log.debug("child write failed: %s: %s", ref, err, extra=self._log_extra)
        self.failures.append((ref, failure_reason(err, owner=self._owner)))

    def write(self, child: DesiredChild) -> dict | None:
        """Apply or create `child`; returns the live object, or None after a collected failure."""
        if child.mode == "delete":
            self.delete(child.gvr, child.kind, child.name, child.namespace)
            return None
        try:
            return self._create(child) if child.mode == "create" else self.apply_now(child)
        except ApiError as err:
            self._fail(child.ref, err)
        except OwnerConflict as conflict:
            self.failures.append((child.ref, conflict.detail))
        return None

    def apply_now(self, child: DesiredChild) -> dict:
        """Server-side apply `child`, raising `ApiError` instead of collecting it (hook `ctx.apply`).

        A child that is not in this CR's cache is read first; an existing object this CR does not
        control raises `OwnerConflict` (also kept in `conflicts`) and nothing is written."""
        self._track(child)
        before = self._cached(child)
        live = before if before is not None else self._kube.get(child.gvr, child.name, child.namespace)
        self._guard(child, live, cached=before is not None)
        ident = identity(child.kind, child.namespace, child.name)
        digest = manifest_digest(child.manifest)
        if live is not None and self._applied.get(ident) == (digest, live["metadata"].get("resourceVersion")):
            self._record(live)      # from the cache, or the ownership read when the cache lags
            return live
        obj = self._kube.apply(child.gvr, child.manifest, child.namespace, force=self._force)
        self._applied[ident] = (digest, obj["metadata"].get("resourceVersion"))
        if before is None:
            if created_by_this_apply(obj):
                self.changes.append(("created", child.ref))
                if live is None:        # absent at the read, and made by this apply (not by someone since)
                    self.created.append((child.gvr, obj))
        elif (before.get("metadata") or {}).get("resourceVersion") != obj["metadata"].get("resourceVersion"):
            self.changes.append(("updated", child.ref))
        self._record(obj)
        return obj

    def _guard(self, child: DesiredChild, existing: dict | None, *, cached: bool) -> None:
        try:
            _check_owner(child, existing, cached=cached)
        except OwnerConflict as conflict:
            self.conflicts.append(conflict)
            raise

    def _create(self, child: DesiredChild) -> dict | None:
        """Create `child` when absent (create-only entries); an existing object must be this CR's, and
        an onDelete child must come from the same onDelete entry (`made_for`)."""
        self._track(child)
        cached = self._cached(child)
        existing = cached if cached is not None else self._kube.get(child.gvr, child.name, child.namespace)
        if existing is None:
            try:
                existing = self._kube.create(child.gvr, child.manifest, child.namespace)
                self.changes.append(("created", child.ref))
                self.created.append((child.gvr, existing))
                self._record(existing)
                return existing
            except ApiError as err:
                if err.status != 409:
                    raise
                cached, existing = None, self._kube.get(child.gvr, child.name, child.namespace)
        self._guard(child, existing, cached=cached is not None)
        if existing is not None and child.template_id.startswith("onDelete.") and not made_for(existing, child):
            self.failures.append((child.ref, "exists and was not made by this entry for this CR; "
                                             "Orkestra does not take it over"))
            return None
        if existing is not None:
            self._record(existing)
        return existing

    def fresh(self, child: DesiredChild) -> dict | None:
        """Read `child` from the API server (for onDelete Jobs, whose status must be current)."""
        try:
            return self._kube.get(child.gvr, child.name, child.namespace)
        except ApiError as err:
            self._fail(child.ref, err)
            return None

    def delete(self, gvr, kind: str, name: str, namespace: str | None, *, uid: str | None = None) -> None:
        """Delete a child; with `uid`, only that very object: an object created since under the
        same name (a stale cache still shows the old one) is not this CR's and stays."""
        ref = f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
        try:
            if self._kube.delete(gvr, name, namespace, preconditions={"uid": uid} if uid else None):
                self.changes.append(("deleted", ref))
        except ApiError as err:
            if uid and err.status == 409:       # the uid precondition failed: another object now
                log.debug("not deleted, replaced since: %s", ref, extra=self._log_extra)
                return
            self._fail(ref, err)

    def prune(self, plan: PrunePlan, candidates: list[tuple[GVR, dict]]) -> None:
        """Delete the `candidates` (GVR, live object) that `plan` prunes (orkestra.reconcile.prune)."""
        for gvr, obj in candidates:
            if plan.prunes(obj):
                meta = obj["metadata"]
                self.delete(gvr, obj.get("kind") or gvr.resource, meta["name"], meta.get("namespace"),
                            uid=meta.get("uid"))
