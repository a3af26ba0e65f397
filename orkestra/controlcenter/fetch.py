"""Reading a runtime's HTTP API: one GET, decoded JSON, a timeout, an optional bearer token.

`Fetcher` is the seam the poller and the live views depend on; tests hand them a fake.
`HttpFetcher` uses the standard library: every request is a fresh connection
(`Connection: close`), which is also what lets retries land on another replica behind a Service.
The token file is re-read on every request because Kubernetes rotates projected tokens.
Redirects are not followed and only http(s) URLs are read: the token must never travel to a
host named by an answer (a `Location`, a `gatewayEndpoint`) rather than by the operator.
"""
from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Protocol

DEFAULT_TIMEOUT = 5.0
MAX_BODY = 32 * 1024 * 1024   # a runtime document larger than this is refused, not buffered
CHUNK = 64 * 1024


class FetchError(Exception):
    """The runtime could not be read; the message is shown to the user as is."""


class Fetcher(Protocol):
    def get_json(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> tuple[int, Any]:
        """(HTTP status, decoded JSON body); raises FetchError when unreachable or not JSON."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None     # the 3xx is then raised as an HTTPError, shown as "HTTP 302 from …"


class HttpFetcher:
    def __init__(self, *, token_file: Path | None = None) -> None:
        self._token_file = token_file
        self._opener = urllib.request.build_opener(_NoRedirects)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "Connection": "close", "User-Agent": "orkestra-control-center"}
        if self._token_file is not None:
            try:
                token = self._token_file.read_text().strip()
            except OSError as err:
                raise FetchError(f"cannot read the token file {self._token_file}: {err.strerror}") from None
            if token:
                headers["Authorization"] = f"Bearer {token}"
        return headers

    def get_json(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> tuple[int, Any]:
        if not url.startswith(("http://", "https://")):
            raise FetchError(f"{url}: not an http(s) URL")
        req = urllib.request.Request(url, headers=self._headers())
        try:
            with self._opener.open(req, timeout=timeout) as resp:
                return resp.status, _decode(_read(resp, url, time.monotonic() + timeout), url)
        except urllib.error.HTTPError as err:
            # 503 carries a meaningful body (a degraded CRD's health); other errors may not be JSON
            try:
                return err.code, _decode(_read(err, url, time.monotonic() + timeout), url)
            except FetchError:
                raise FetchError(f"HTTP {err.code} from {url}") from None
        except (urllib.error.URLError, OSError, socket.timeout) as err:
            reason = getattr(err, "reason", err)
            raise FetchError(f"{url}: {reason}") from None


def _read(resp: Any, url: str, deadline: float) -> bytes:
    """The body, within `deadline`: the socket timeout alone bounds each read, not the whole
    answer, and a runtime trickling bytes would otherwise hold the poll cycle for ever."""
    body = bytearray()
    while len(body) <= MAX_BODY:
        if time.monotonic() > deadline:
            raise FetchError(f"{url}: the answer did not arrive in time")
        chunk = resp.read1(CHUNK)
        if not chunk:
            break
        body += chunk
    return bytes(body)


def _decode(body: bytes, url: str) -> Any:
    if len(body) > MAX_BODY:
        raise FetchError(f"{url}: answer larger than {MAX_BODY // (1024 * 1024)} MiB")
    try:
        return json.loads(body, parse_constant=_not_json)
    except ValueError:
        raise FetchError(f"{url}: the answer is not JSON") from None


def _not_json(constant: str) -> Any:
    # NaN and Infinity are not JSON; passed on, they would make the view models' JSON unreadable
    raise ValueError(f"{constant} is not JSON")
