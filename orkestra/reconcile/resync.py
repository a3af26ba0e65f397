"""Skip a reconcile whose inputs provably did not change since the last quiet one (issue 15, idle CPU).

A resync (docs/runtime.md §4.3) delivers every cached CR again every period, so with many
converged CRs nearly all reconciles re-render the same children, compare them with the same
cache and write nothing. `ResyncMemo` remembers, per CR key, the inputs of the last reconcile
that succeeded and wrote nothing; a reconcile that sees exactly those inputs again does not
render or write, and counts as a reconcile like any other (the engine's `safe_reconcile` around
it is unchanged).

What a reconcile of a CR reads (docs/runtime.md §10.1, docs/katalog.md §7-§10), and why each is
covered:
* the CR: its `resourceVersion` (any change to spec, metadata or status bumps it);
* its children in the child caches (`.children`, the apply comparison, pruning): the set of
  (uid, resourceVersion) pairs, so a child edited by hand, added or deleted forces a full
  reconcile, which reverts the drift;
* the entry and Katalog: the memo lives on the reconciler built for one entry object; a reload
  builds a new one;
* the GVRs the child informers watch: part of the inputs, and a CR that records a child GVR no
  informer watches is never skipped (those children are listed live, without an event);
* anything else that can change without an event disqualifies the entry for good (`skippable`):
  hooks (arbitrary code), a template function that reads the clock or randomness (`now`,
  `timeSince`, `isExpired`, `random*`, `uuidv4`), a copy-form Secret or ConfigMap (re-read from
  the API on each reconcile), a `custom` entry whose kind is templated or not a built-in one (served or not
  according to discovery), `unique` conditions (other CRs), and time, day-of-week or cron windows.
A reconcile is remembered only when it succeeded and changed nothing: no child created, updated
or deleted, no owner conflict, every child it produced read from the cache at the version the
inputs name, no write to the CR or its status, no requeue. A full reconcile first drops the memo
of its key, so a failure never leaves one behind. When in doubt (a missing uid or version), the
inputs are unknown (None) and the reconcile is a full one.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable

from orkestra.gvk import GVR, split_api_version
from orkestra.katalog import builtins
from orkestra.katalog.model import COPY_SOURCES, CrdEntry
from orkestra.katalog.template_kinds import static_kind
from orkestra.reconcile import crmeta
from orkestra.template import compile_template, is_template
from orkestra.template.functions import FUNCTIONS
from orkestra.template.library import encoding, randomness, timefns

# Template functions whose result can change while the CR and its children do not: the clock
# and randomness modules, and `uuidv4` (a fresh random UUID, filed under encoding).
_UNSTABLE_MODULES = (randomness.__name__, timefns.__name__)
UNSTABLE_FUNCTIONS = frozenset(name for name, fn in FUNCTIONS.items()
                               if getattr(fn, "__module__", None) in _UNSTABLE_MODULES
                               or fn is encoding.uuidv4)
# Condition keys that read the clock or the other CRs (docs/katalog.md §8), and copy sources.
UNSTABLE_KEYS = frozenset({"time", "dayOfWeek", "cron", "unique", "uniqueScope", *COPY_SOURCES.values()})

MEMO_LIMIT = 100_000      # keys remembered per CRD; the oldest is dropped beyond (a full reconcile)


@dataclass(frozen=True)
class Inputs:
    """What a reconcile of one CR depends on that can change with an event."""

    cr_version: str
    children: frozenset[tuple[str, str]]      # (uid, resourceVersion) of every cached child
    informed: tuple[GVR, ...]                 # the GVRs the child informers watch


def inputs_of(cr: dict, children: Iterable[dict], informed: list[GVR]) -> Inputs | None:
    """The inputs of a reconcile of `cr`, or None when they cannot be told (then: full reconcile)."""
    meta = cr["metadata"]
    version = meta.get("resourceVersion")
    if not version or meta.get("deletionTimestamp"):
        return None
    if any(gvr not in informed for gvr in crmeta.recorded_gvrs(cr)):
        return None                 # children listed live, without an event: never skipped
    pairs = set()
    for child in children:
        child_meta = child.get("metadata") or {}
        uid, child_version = child_meta.get("uid"), child_meta.get("resourceVersion")
        if not uid or not child_version:
            return None
        pairs.add((uid, child_version))
    return Inputs(version, frozenset(pairs), tuple(informed))


def skippable(entry: CrdEntry, *, has_hooks: bool) -> bool:
    """Can a reconcile of `entry` ever be skipped? Only when it uses nothing that changes without
    an event (module docstring). Decided once, from the Katalog alone."""
    if has_hooks or entry.box_spec.hooks is not None:
        return False
    customs = [raw for types in entry.box_spec.templates.values() for raw in types.get("custom") or ()]
    if not all(_builtin(raw) for raw in customs):
        return False
    parts = [entry.box_spec.templates, entry.box_spec.status, entry.labels, entry.validation, entry.mutation]
    return not any(_unstable(part) for part in parts)


def _builtin(raw: dict) -> bool:
    """A `custom` entry of a fixed built-in kind (always served, like the typed entries)."""
    found = static_kind(raw)
    if found is None:
        return False
    group, version = split_api_version(found[0])
    builtin = builtins.lookup(found[1], group)
    return builtin is not None and builtin.version == version


def _unstable(value: Any) -> bool:
    if isinstance(value, dict):
        if UNSTABLE_KEYS & value.keys() or value.get("operator") == "unique":
            return True
        return any(_unstable(v) for v in value.values())
    if isinstance(value, list):
        return any(_unstable(v) for v in value)
    if is_template(value):
        return bool(compile_template(value).functions_used & UNSTABLE_FUNCTIONS)
    return False


def quiet(cached: dict, cr: dict, status_cr: dict, *, changes: list, conflicts: list,
          failures: list, produced: list[dict], inputs: Inputs, requeue: float | None) -> bool:
    """Did a successful reconcile change nothing and read every child it produced from the cache?"""
    if cr is not cached or status_cr is not cr or changes or conflicts or failures or requeue is not None:
        return False
    known = inputs.children
    for obj in produced:
        meta = obj.get("metadata") or {}
        if (meta.get("uid"), meta.get("resourceVersion")) not in known:
            return False
    return True


class ResyncMemo:
    """The inputs of each key's last quiet reconcile; thread-safe, at most `limit` keys."""

    def __init__(self, limit: int = MEMO_LIMIT) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._inputs: OrderedDict[str, Inputs] = OrderedDict()

    def unchanged(self, key: str, inputs: Inputs) -> bool:
        with self._lock:
            return self._inputs.get(key) == inputs

    def remember(self, key: str, inputs: Inputs) -> None:
        with self._lock:
            self._inputs[key] = inputs
            self._inputs.move_to_end(key)
            while len(self._inputs) > self._limit:
                self._inputs.popitem(last=False)

    def drop(self, key: str) -> None:
        with self._lock:
            self._inputs.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._inputs)
