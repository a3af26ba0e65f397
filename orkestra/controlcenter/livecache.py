"""Live reads for the Resources and CR Detail views, behind a 2-second micro-cache.

Those views are not in the poller's snapshots (CR lists can be large); they are read when a page
asks. Several browsers refreshing the same page after one poll share one request. The cache is
bounded, so no sequence of URLs can grow it without limit.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Callable

from orkestra.controlcenter.fetch import Fetcher

TTL = 2.0
MAX_ENTRIES = 256


class LiveReader:
    def __init__(self, fetcher: Fetcher, *, clock: Callable[[], float] = time.monotonic, ttl: float = TTL,
                 max_entries: int = MAX_ENTRIES) -> None:
        self._fetcher, self._clock, self._ttl, self._max = fetcher, clock, ttl, max_entries
        self._entries: OrderedDict[str, tuple[float, tuple[int, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get_json(self, url: str) -> tuple[int, Any]:
        """(status, body) for `url`, at most `ttl` seconds old; FetchError propagates uncached."""
        now = self._clock()
        with self._lock:
            hit = self._entries.get(url)
            if hit is not None and now - hit[0] < self._ttl:
                return hit[1]
        result = self._fetcher.get_json(url)
        with self._lock:
            self._entries[url] = (now, result)
            self._entries.move_to_end(url)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return result
