"""`Store`: the thread-safe cache of an informer, keyed `namespace/name` (or `name`), with indexes.

Objects are the plain dicts decoded from the API response (managedFields already stripped by the
reflector). A plain store never copies them, so callers must treat what they get as read-only.

A `compact` store (what the child informers ask the factory for) keeps each object as its JSON
text instead (ASCII, no spaces) and decodes it on every read, so readers get an equal but fresh
dict each time. A Deployment costs 9.2 KB as decoded dicts and 1.8 KB as text; a read costs one
`json.loads` (about 20 µs), which is why CR caches, read by every resync and again by the
reconcile it queues, stay plain (docs/runtime.md §1). Indexes are computed on the dict before it is
encoded.

Indexers are named functions `obj -> list of index values`. `namespace` is always present; CRD
informers add `uid`, child informers add `owner` (the `orkestra.io/owner-uid` label). Consumers
sharing one informer may each bring indexers: `add_indexers` builds a new index over what is
already cached.
"""
from __future__ import annotations

import builtins
import json
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


_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


class _Index:
    """Index value -> keys. A value with a single key holds the key itself: most `uid` and
    `owner` values name one object, and a one-element set would cost 216 bytes per object."""

    __slots__ = ("_keys",)

    def __init__(self) -> None:
        self._keys: dict[str, str | set[str]] = {}

    def add(self, value: str, key: str) -> None:
        found = self._keys.get(value)
        if found is None:
            self._keys[value] = key
        elif isinstance(found, str):
            if found != key:
                self._keys[value] = {found, key}
        else:
            found.add(key)

    def discard(self, value: str, key: str) -> None:
        found = self._keys.get(value)
        if found is None:
            return
        if isinstance(found, str):
            if found == key:
                del self._keys[value]
            return
        found.discard(key)
        if len(found) == 1:
            self._keys[value] = next(iter(found))

    def keys(self, value: str) -> tuple[str, ...] | set[str]:
        found = self._keys.get(value)
        return () if found is None else (found,) if isinstance(found, str) else found


class Store:
    def __init__(self, indexers: dict[str, IndexFunc] | None = None, *, compact: bool = False) -> None:
        self._lock = threading.RLock()
        self.compact = compact
        self._items: dict[str, dict | str] = {}
        self._indexers: dict[str, IndexFunc] = {"namespace": index_namespace}
        self._indices: dict[str, _Index] = {"namespace": _Index()}
        if indexers:
            self.add_indexers(indexers)

    def add_indexers(self, indexers: dict[str, IndexFunc]) -> None:
        """Add named indexers (a name already present keeps its first function)."""
        with self._lock:
            for name, fn in indexers.items():
                if name in self._indexers:
                    continue
                self._indexers[name] = fn
                index = _Index()
                for key, stored in self._items.items():
                    for value in fn(self._load(stored)):
                        index.add(value, key)
                self._indices[name] = index

    def get(self, key: str) -> dict | None:
        with self._lock:
            stored = self._items.get(key)
            return None if stored is None else self._load(stored)

    # `builtins.list` below: inside the class body `list` is this method.
    def list(self) -> list[dict]:
        with self._lock:
            return [self._load(stored) for stored in self._items.values()]

    def keys(self) -> builtins.list[str]:
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def by_index(self, name: str, value: str) -> builtins.list[dict]:
        """Objects whose indexer `name` produced `value`. Unknown index names raise KeyError."""
        with self._lock:
            keys = self._indices[name].keys(value)
            return [self._load(self._items[k]) for k in keys]

    def index_names(self) -> builtins.list[str]:
        with self._lock:
            return list(self._indexers)

    def upsert(self, obj: dict) -> dict | None:
        """Insert or replace by key; returns the previous object (None if new)."""
        key = object_key(obj)
        stored = self._dump(obj)
        with self._lock:
            previous = self._items.get(key)
            old = None if previous is None else self._load(previous)
            if old is not None:
                self._unindex(key, old)
            self._items[key] = stored
            self._index(key, obj)
            return old

    def delete(self, key: str) -> dict | None:
        """Remove by key; returns the removed object (None if absent)."""
        with self._lock:
            previous = self._items.pop(key, None)
            old = None if previous is None else self._load(previous)
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
                previous = old_items.get(key)
                if previous is None:
                    added.append(obj)
                    continue
                old = self._load(previous)
                if _rv(old) != _rv(obj):
                    updated.append((old, obj))
            removed = [self._load(o) for k, o in old_items.items() if k not in fresh]
            self._items = {key: self._dump(obj) for key, obj in fresh.items()}
            for name, fn in self._indexers.items():
                index = _Index()
                for key, obj in fresh.items():
                    for value in fn(obj):
                        index.add(value, key)
                self._indices[name] = index
            return added, updated, removed

    def _dump(self, obj: dict) -> dict | str:
        return _encode(obj) if self.compact else obj

    @staticmethod
    def _load(stored: dict | str) -> dict:
        return json.loads(stored) if isinstance(stored, str) else stored

    def _index(self, key: str, obj: dict) -> None:
        for name, fn in self._indexers.items():
            index = self._indices[name]
            for value in fn(obj):
                index.add(value, key)

    def _unindex(self, key: str, obj: dict) -> None:
        for name, fn in self._indexers.items():
            index = self._indices[name]
            for value in fn(obj):
                index.discard(value, key)


def _rv(obj: dict) -> str | None:
    return (obj.get("metadata") or {}).get("resourceVersion")
