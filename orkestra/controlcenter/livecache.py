"""Live reads for the Resources and CR Detail views, behind a 2-second micro-cache.

Those views are not in the poller's snapshots (CR lists can be large); they are read when a page
asks. Several browsers refreshing the same page after one poll share one request. The cache is
bounded, so no sequence of URLs can grow it without limit.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from orkestra.controlcenter.fetch import Fetcher
from orkestra.ttlcache import TtlCache

TTL = 2.0
MAX_ENTRIES = 256


class LiveReader:
    def __init__(self, fetcher: Fetcher, *, clock: Callable[[], float] = time.monotonic, ttl: float = TTL,
                 max_entries: int = MAX_ENTRIES) -> None:
        self._fetcher = fetcher
        self._cache = TtlCache(ttl, max_entries, clock)

    def get_json(self, url: str) -> tuple[int, Any]:
        """(status, body) for `url`, at most `ttl` seconds old; FetchError propagates uncached."""
        return self._cache.get(url, lambda: self._fetcher.get_json(url))
