"""Which children of a CR one reconcile prunes (docs/katalog.md#keys-per-type; issue 9 item 12). Pure.

Pruning runs once, after every entry rendered. A child is pruned when all of these hold:

* its `orkestra.io/owner-uid` label names this CR (Orkestra never deletes what it did not create)
  and its `orkestra.io/crd` label names this entry: another entry of the same kind may select the
  same CR (overlapping `labelSelector`s), and its children are its own, not removed ones of this
  entry; a CR that moved to another entry keeps the first entry's children until it is deleted;
* its `orkestra.io/template` label is set: objects a hook wrote through `ctx.apply` carry none and
  are the hook's to delete (they still go with the CR);
* no entry rendered its identity (kind, namespace, name) in this reconcile, so an entry inserted
  above another of the same type, which shifts the positional template ids, deletes nothing;
* its template id is that of a current desired-state entry (its condition or forEach item went
  away), or of an entry no longer in the Katalog that was desired-state by its id: an
  `onReconcile` entry of a kind that is not create-only. What the removed entry said cannot be
  read any more, so a removed `onCreate` entry (create-only unless `reconcile: true`) keeps its
  child, and so does every Job; a removed `once: true` onReconcile entry cannot be told apart
  from an ordinary one and its child is pruned. `onDelete` children belong to the deletion flow.
"""
from __future__ import annotations

from dataclasses import dataclass

from orkestra.reconcile.kinds import KINDS
from orkestra.reconcile.naming import LABEL_CRD, LABEL_OWNER_UID, LABEL_TEMPLATE


def identity(kind: str, namespace: str | None, name: str | None) -> tuple:
    return kind, namespace or None, name


def object_identity(obj: dict) -> tuple:
    meta = obj.get("metadata") or {}
    return identity(obj.get("kind", ""), meta.get("namespace"), meta.get("name"))


def pruned_when_removed(template_id: str) -> bool:
    """Is a child with this template id pruned once its entry is gone from the Katalog? (Its GVR
    is then recorded on the CR when it is written, so that it is found without a child informer.)"""
    phase, _, rest = template_id.partition(".")
    spec = KINDS.get(rest.partition(".")[0])
    return phase == "onReconcile" and spec is not None and not spec.create_only


@dataclass(frozen=True)
class PrunePlan:
    owner_uid: str
    crd_key: str                    # the entry reconciling: only its children are pruned
    desired_ids: frozenset[str]     # ids of the current desired-state entries
    entry_ids: frozenset[str]       # ids of every current onCreate and onReconcile entry
    declared: frozenset[tuple]      # identities rendered in this reconcile, by any entry

    def prunes(self, obj: dict) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        template_id = labels.get(LABEL_TEMPLATE) or ""
        if (labels.get(LABEL_OWNER_UID) != self.owner_uid or labels.get(LABEL_CRD) != self.crd_key
                or not template_id):
            return False
        if object_identity(obj) in self.declared:
            return False
        if template_id in self.entry_ids:
            return template_id in self.desired_ids
        return pruned_when_removed(template_id)
