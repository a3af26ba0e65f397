"""A small thread-safe LRU whose entries expire (no Orkestra imports, so every layer may use it).

Used where many concurrent requests ask the same question within seconds: the HTTP API's token and
access reviews, and the Control Center's live reads. The value is computed outside the lock, so one
slow computation never holds up the other callers; the size bound keeps any sequence of keys from
growing it without limit.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


class TtlCache:
    def __init__(self, ttl: float, size: int, clock: Callable[[], float]) -> None:
        self._ttl, self._size, self._clock = ttl, size, clock
        self._items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        """The cached value of `key` while younger than the ttl, else `compute()` (an exception
        propagates and nothing is cached)."""
        now = self._clock()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] > now:
                self._items.move_to_end(key)
                return hit[1]
        value = compute()
        with self._lock:
            self._items[key] = (now + self._ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value
