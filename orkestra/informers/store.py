"""`Store`: the thread-safe cache of an informer, keyed `namespace/name` (or `name`), with indexes.

Objects are the plain dicts decoded from the API response (managedFields already stripped by the
reflector); the store never copies them, so callers must treat what they get as read-only.

Indexers are named functions `obj -> list of index values`. `namespace` is always present; CRD
informers add `uid`, child informers add `owner` (the `orkestra.io/owner-uid` label). Consumers
sharing one informer may each bring indexers: `add_indexers` builds a new index over what is
already cached.
"""
from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Iterable

from orkestra.katalog.labels import LABEL_OWNER_UID as OWNER_UID_LABEL

IndexFunc = Callable[[dict], list[str]]


def object_key(obj: dict) -> str:
    """`namespace/name`, or `name` for cluster-scoped objects."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name', '')}" if ns else meta.get("name", "")


def index_namespace(obj: dict) -> list[str]:
    return [(obj.get("metadata") or {}).get("namespace") or ""]


def index_uid(obj: dict) -> list[str]:
    uid = (obj.get("metadata") or {}).get("uid")
    return [uid] if uid else []


def index_owner(obj: dict) -> list[str]:
    owner = ((obj.get("metadata") or {}).get("labels") or {}).get(OWNER_UID_LABEL)
    return [owner] if owner else []


class Store:
    def __init__(self, indexers: dict[str, IndexFunc] | None = None) -> None:
        self._lock = threading.RLock()
        self._items: dict[str, dict] = {}
        self._indexers: dict[str, IndexFunc] = {"namespace": index_namespace}
        self._indices: dict[str, dict[str, set[str]]] = {"namespace": {}}
        if indexers:
            self.add_indexers(indexers)

    def add_indexers(self, indexers: dict[str, IndexFunc]) -> None:
        """Add named indexers (a name already present keeps its first function)."""
        with self._lock:
            for name, fn in indexers.items():
                if name in self._indexers:
                    continue
                self._indexers[name] = fn
                index: dict[str, set[str]] = {}
                for key, obj in self._items.items():
                    for value in fn(obj):
                        index.setdefault(value, set()).add(key)
                self._indices[name] = index

    def get(self, key: str) -> dict | None:
        with self._lock:
            return self._items.get(key)

    # `builtins.list` below: inside the class body `list` is this method.
    def list(self) -> list[dict]:
        with self._lock:
            return list(self._items.values())

    def keys(self) -> builtins.list[str]:
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def by_index(self, name: str, value: str) -> builtins.list[dict]:
        """Objects whose indexer `name` produced `value`. Unknown index names raise KeyError."""
        with self._lock:
            keys = self._indices[name].get(value, ())
            return [self._items[k] for k in keys]

    def index_names(self) -> builtins.list[str]:
        with self._lock:
            return list(self._indexers)

    def upsert(self, obj: dict) -> dict | None:
        """Insert or replace by key; returns the previous object (None if new)."""
        key = object_key(obj)
        with self._lock:
            old = self._items.get(key)
            if old is not None:
                self._unindex(key, old)
            self._items[key] = obj
            self._index(key, obj)
            return old

    def delete(self, key: str) -> dict | None:
        """Remove by key; returns the removed object (None if absent)."""
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._unindex(key, old)
            return old

    def replace(self, objs: Iterable[dict]) -> tuple[builtins.list[dict], builtins.list[tuple[dict, dict]], builtins.list[dict]]:
        """Swap the whole content (a relist). Returns (added, updated as (old, new), removed),
        where an object counts as updated when its resourceVersion changed."""
        fresh = {object_key(o): o for o in objs}
        with self._lock:
            old_items = self._items
            added, updated = [], []
            for key, obj in fresh.items():
                old = old_items.get(key)
                if old is None:
                    added.append(obj)
                elif _rv(old) != _rv(obj):
                    updated.append((old, obj))
            removed = [o for k, o in old_items.items() if k not in fresh]
            self._items = fresh
            for name, fn in self._indexers.items():
                index: dict[str, set[str]] = {}
                for key, obj in fresh.items():
                    for value in fn(obj):
                        index.setdefault(value, set()).add(key)
                self._indices[name] = index
            return added, updated, removed

    def _index(self, key: str, obj: dict) -> None:
        for name, fn in self._indexers.items():
            index = self._indices[name]
            for value in fn(obj):
                index.setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: dict) -> None:
        for name, fn in self._indexers.items():
            index = self._indices[name]
            for value in fn(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]


def _rv(obj: dict) -> str | None:
    return (obj.get("metadata") or {}).get("resourceVersion")
