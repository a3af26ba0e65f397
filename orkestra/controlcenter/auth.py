"""Login rules: credential check, brute-force throttling, CSRF tokens and safe redirects (pure).

* Five failed logins from one client address within 5 minutes lock that address out for
  5 minutes; the throttle keeps a bounded number of addresses, so a flood of addresses cannot
  grow it without limit. (The 0.5 s delay per failure is applied by the login view, to at
  most `MAX_DELAYED` failures at once: each delay holds one of the server's threads.)
* Credentials are compared in constant time.
* After login, only a local path (`/k/x`, never `//host` or `https://host`) is followed.
"""
from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from typing import Callable
from urllib.parse import urlsplit

MAX_FAILURES = 5
WINDOW = 300.0
LOCKOUT = 300.0
MAX_TRACKED = 10_000
FAILURE_DELAY = 0.5
MAX_DELAYED = 4      # failed logins waiting out their delay at once; 32 threads, 24 kept by streams


def credentials_match(username: str, password: str, *, expected_user: str, expected_password: str) -> bool:
    user_ok = hmac.compare_digest(username.encode(), expected_user.encode())
    password_ok = hmac.compare_digest(password.encode(), expected_password.encode())
    return user_ok and password_ok


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_valid(expected: object, given: object) -> bool:
    return isinstance(expected, str) and isinstance(given, str) and bool(expected) \
        and hmac.compare_digest(expected.encode(), given.encode())


def safe_next(target: str | None) -> str:
    """`target` when it is a path on this site, otherwise `/`."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ord(ch) < 32 or ch == "\\" for ch in target):
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


class LoginThrottle:
    """Failed logins per client address, with an injected clock."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_failures: int = MAX_FAILURES,
                 window: float = WINDOW, lockout: float = LOCKOUT, max_tracked: int = MAX_TRACKED) -> None:
        self._clock, self._max, self._window, self._lockout = clock, max_failures, window, lockout
        self._max_tracked = max_tracked
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def _wait(self, address: str, now: float) -> int:
        until = self._locked_until.get(address)
        if until is None:
            return 0
        if until - now <= 0:
            del self._locked_until[address]
            return 0
        return max(1, int(until - now + 0.999))

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again; 0 when it is not locked out."""
        with self._lock:
            return self._wait(address, self._clock())

    def begin(self, address: str) -> int:
        """Admit one login attempt from `address`: 0 to go ahead, else the seconds to wait.

        The attempt is counted as a failure before its password is even checked (`succeeded`
        takes it back), in the same lock as the lockout check: concurrent attempts from one
        address therefore get five guesses in all, not one per thread of the server.
        """
        now = self._clock()
        with self._lock:
            wait = self._wait(address, now)
            if not wait:
                self._count_failure(address, now)
            return wait

    def _count_failure(self, address: str, now: float) -> None:
        times = self._failures.pop(address, None) or deque()
        times.append(now)
        while times and now - times[0] > self._window:
            times.popleft()
        if len(times) >= self._max:
            self._locked_until[address] = now + self._lockout
            times.clear()
        else:
            self._failures[address] = times
        while len(self._failures) > self._max_tracked:
            self._failures.popitem(last=False)
        if len(self._locked_until) > self._max_tracked:
            self._locked_until = {a: t for a, t in self._locked_until.items() if t > now}

    def succeeded(self, address: str) -> None:
        """The attempt admitted by `begin` was right: forget the failures of `address`."""
        with self._lock:
            self._failures.pop(address, None)
            self._locked_until.pop(address, None)
