"""Informers modeled on client-go (docs/runtime.md §4): `reflector` (list+watch into a store),
`store` (thread-safe cache with indexers), `shared` (handlers, resync), `factory` (one informer
per key, reference counted)."""
from orkestra.informers.factory import SharedInformerFactory
from orkestra.informers.reflector import InformerStatus, Tombstone
from orkestra.informers.shared import Handler, SharedInformer
from orkestra.informers.store import (OWNER_UID_LABEL, Store, index_namespace, index_owner, index_uid,
                                      object_key)

__all__ = ["Handler", "InformerStatus", "OWNER_UID_LABEL", "SharedInformer", "SharedInformerFactory", "Store",
           "Tombstone", "index_namespace", "index_owner", "index_uid", "object_key"]
