"""`KubeClient`: the one Kubernetes API client of the process, speaking plain dicts.

Kubeconfig and the in-cluster ServiceAccount are read by `orkestra.kube.kubeconfig`; requests go
through one urllib3 pool of our own and the bodies are decoded once with `decode.loads` (`json.loads`
that also survives objects nested too deep for it). The
`kubernetes` package is never imported here: importing any part of it loads every generated model
class (~30 MB of RSS), and the rest of Orkestra works on the same dicts the API server sent. Only
a hook that asks for `ctx.api_client` or `ctx.dynamic` loads it (`orkestra.kube.dynamic`).

Timeouts: connect 5 s, read 30 s for ordinary calls; a watch uses the caller's read timeout, which
is how a silent connection is detected (the reflector's stall timeout); after a stall, later requests
open fresh connections instead of reusing idle ones that may be just as dead. A 429 answer is retried
after its `Retry-After` (capped at 30 s); every other failure is raised as `ApiError`, and callers
decide how to retry (informers and the leader elector back off, reconcile fails and is requeued).
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlencode, urlsplit

import urllib3

from orkestra import __version__
from orkestra.errors import OrkestraError
from orkestra.gvk import GVR
from orkestra.kube import decode
from orkestra.kube.errors import ApiError
from orkestra.kube.kubeconfig import ClusterAccess, CredentialError, KubeConfigError
from orkestra.kube.kubeconfig import load as load_access
from orkestra.kube.paths import describe, resource_path
from orkestra.netaddr import is_loopback_host

if TYPE_CHECKING:
    from kubernetes import client as k8s_client

log = logging.getLogger("orkestra.kube")

FIELD_MANAGER = "orkestra"
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
RETRY_AFTER_CAP = 30.0
MAX_THROTTLED_ATTEMPTS = 10
LIST_PAGE_SIZE = 500
_POOL_SIZE = 64  # informers hold one connection each for their watch; workers share the rest
# Where Kubernetes mounts a pod's ServiceAccount (token, ca.crt, namespace). ORK_SERVICE_ACCOUNT_DIR
# points elsewhere: for tests that simulate the mount, and for unusual mounts (docs/operating.md).
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

USER_AGENT = f"orkestra/{__version__}"

PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}


class WatchStalled(OrkestraError):
    """A watch delivered no bytes within its read timeout."""


class KubeClient:
    """Plain-dict access to the Kubernetes API. Thread-safe: share one per process.

    `sleep` is injectable so tests of the 429 path need no real sleep.
    """

    def __init__(self, access: ClusterAccess, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.access = access
        self._sleep = sleep
        self.server = access.server.rstrip("/")
        self._pool_lock = threading.Lock()
        self._pool_cert: tuple[bytes, bytes] | None = None
        self._current_pool: urllib3.PoolManager | None = None
        self._api_client: k8s_client.ApiClient | None = None

    @classmethod
    def from_config(cls, kubeconfig: str | None = None, context: str | None = None, *,
                    account_dir: str = SERVICE_ACCOUNT_DIR, service_host: str = "",
                    service_port: str = "") -> "KubeClient":
        """Kubeconfig (`kubeconfig`: the flag, else `KUBECONFIG` as `orkestra.config` read it; else
        ~/.kube/config; several files separated by os.pathsep are merged as kubectl does) with
        `context`; the in-cluster ServiceAccount in `account_dir` (ORK_SERVICE_ACCOUNT_DIR), at
        `service_host`:`service_port` (KUBERNETES_SERVICE_HOST/PORT), when no kubeconfig is given or
        found and the token file exists.

        Raises `KubeConfigError` naming the file or context that could not be used.
        """
        access = load_access(kubeconfig or None, context, account_dir=account_dir,
                             service_host=service_host, service_port=service_port)
        kube = cls(access)
        try:
            kube._pool  # builds the TLS context: an unusable exec certificate fails here
        except (CredentialError, OSError, ValueError) as exc:
            raise KubeConfigError(f"cannot load {access.source}: {exc}") from None
        return kube

    @property
    def _pool(self) -> urllib3.PoolManager:
        """The connection pool; rebuilt when an exec plugin hands out a new client certificate."""
        cert = self.access.credentials.client_certificate()
        with self._pool_lock:
            if self._current_pool is None or cert != self._pool_cert:
                if self._current_pool is not None:
                    self._current_pool.clear()  # idle connections only: open watches run on
                self._current_pool = _new_pool(self.access, cert)
                self._pool_cert = cert
            return self._current_pool

    @property
    def api_client(self) -> k8s_client.ApiClient:
        """A `kubernetes.client.ApiClient` over this client's pool and credentials, for hooks
        (`ctx.api_client`, `ctx.dynamic`). Built on first use: only then is `kubernetes` imported."""
        if self._api_client is None:  # a race builds two, one is dropped: harmless
            from orkestra.kube.dynamic import api_client_over
            self._api_client = api_client_over(self)
        return self._api_client

    @property
    def is_loopback(self) -> bool:
        """True when the API server is on this machine (the local control plane)."""
        return is_loopback_host(urlsplit(self.server).hostname or "")

    # --- raw requests -------------------------------------------------------------------------

    def request(self, method: str, path: str, query: dict[str, Any] | None = None,
                body: Any = None, content_type: str | None = None, timeout: float | None = None,
                *, resource: str | None = None) -> dict:
        """One API call; returns the decoded JSON body ({} when empty).

        429 is retried after `Retry-After` (capped at 30 s, at most 10 attempts). Any other
        non-2xx answer or a connection failure raises `ApiError` (status 0 for connection errors).
        A given `timeout` bounds the whole call, retries included (a leader's Lease renewal relies
        on it): a 429 whose wait would not fit is raised.
        """
        ends = None if timeout is None else time.monotonic() + timeout
        for attempt in range(1, MAX_THROTTLED_ATTEMPTS + 1):
            left = READ_TIMEOUT if ends is None else max(ends - time.monotonic(), 0.001)
            resp = self._send(method, path, query, body, content_type,
                              timeout=left, stream=False, resource=resource)
            if resp.status == 401 and attempt == 1 and self.access.credentials.expire():
                continue  # a rotated token or an expired exec credential: fetch it again, once
            wait = retry_after_seconds(resp.headers.get("Retry-After")) if resp.status == 429 else 0.0
            if resp.status == 429 and attempt < MAX_THROTTLED_ATTEMPTS and (
                    ends is None or time.monotonic() + wait < ends):
                log.info("throttled by the API server, retrying",
                         extra={"verb": method, "resource": resource or path, "retry_after": wait})
                self._sleep(wait)
                continue
            if not 200 <= resp.status < 300:
                raise _error(resp, method, resource or path)
            return decode.loads(resp.data) if resp.data else {}
        raise AssertionError("unreachable")  # the loop always returns or raises

    def watch(self, path: str, query: dict[str, Any] | None, timeout: float) -> "WatchStream":
        """Open a watch; iterate the result for event dicts `{"type", "object"}`.

        `timeout` is the socket read timeout: if no byte arrives for that long, iteration raises
        `WatchStalled`. A dropped connection raises `ApiError` with status 0. The connection is
        closed when iteration ends; `sever()` ends it from another thread.
        """
        resp = self._send("GET", path, {**(query or {}), "watch": "true"}, None, None,
                          timeout=timeout, stream=True, resource=path)
        if not 200 <= resp.status < 300:
            if resp.status == 401:
                self.access.credentials.expire()  # the informer's next attempt fetches them again
            try:
                raise _error(resp, "watch", path)
            finally:
                resp.close()
        return WatchStream(resp, path, on_stall=self._renew_connections)

    def _renew_connections(self) -> None:
        """Send later requests over fresh connections. Called when a watch stalled: the idle
        pooled connections most likely went through the same dead path, and each would otherwise
        cost a request its full read timeout before failing. Requests in flight keep theirs: the
        old pool's idle connections are closed now, and each busy one when its request ends."""
        with self._pool_lock:       # two watches stalling at once: each pool is closed exactly once
            old, self._current_pool = self._current_pool, None      # the next request builds one
        if old is not None:
            old.clear()

    def _send(self, method: str, path: str, query: dict[str, Any] | None, body: Any,
              content_type: str | None, *, timeout: float, stream: bool,
              resource: str | None) -> urllib3.BaseHTTPResponse:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        params = [(k, _query_value(v)) for k, v in (query or {}).items() if v is not None]
        data = None
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        url = self.server + path + (f"?{urlencode(params)}" if params else "")
        try:
            authorization = self.access.credentials.authorization()
            if authorization:
                headers["Authorization"] = authorization
            return self._pool.request(
                method, url, body=data, headers=headers, preload_content=not stream,
                timeout=urllib3.Timeout(connect=min(CONNECT_TIMEOUT, timeout), read=timeout), retries=False)
        except CredentialError as exc:
            raise ApiError(status=0, reason="CredentialError", message=str(exc),
                           verb=method.lower() if not stream else "watch",
                           resource=resource or path) from None
        except urllib3.exceptions.HTTPError as exc:
            raise ApiError(status=0, reason="ConnectionError", message=_connection_message(exc),
                           verb=method.lower() if not stream else "watch",
                           resource=resource or path) from None

    # --- typed helpers over request() ----------------------------------------------------------

    def get_raw(self, path: str, timeout: float | None = None) -> bytes:
        """The body of a GET of a path that does not answer JSON (the API server's /metrics)."""
        resp = self._send("GET", path, None, None, None, timeout=timeout or READ_TIMEOUT,
                          stream=False, resource=path)
        if not 200 <= resp.status < 300:
            raise _error(resp, "GET", path)
        return resp.data

    def get(self, gvr: GVR, name: str, namespace: str | None = None) -> dict | None:
        """The object, or None when it does not exist."""
        try:
            return self.request("GET", resource_path(gvr, namespace, name),
                                resource=describe(gvr, namespace, name))
        except ApiError as exc:
            if exc.not_found:
                return None
            raise

    def list(self, gvr: GVR, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> tuple[list[dict], str]:
        """Every object (pages of 500), and the list's resourceVersion.

        If a continue token expires (410) the list restarts once without pagination. Items get
        `apiVersion` and `kind` filled in (the server omits them for built-in kinds).
        """
        path = resource_path(gvr, namespace)
        what = describe(gvr, namespace)
        query: dict[str, Any] = {"labelSelector": label_selector, "fieldSelector": field_selector}
        items: list[dict] = []
        token = None
        while True:
            try:
                page = self.request("GET", path, {**query, "limit": LIST_PAGE_SIZE, "continue": token},
                                    resource=what)
            except ApiError as exc:
                if not (exc.gone and token):
                    raise
                log.info("list continue token expired, listing without pagination",
                         extra={"resource": what})
                page = self.request("GET", path, query, resource=what)
                items = []
                token = None
            items.extend(_with_type(page))
            token = page.get("metadata", {}).get("continue")
            if not token:
                return items, page.get("metadata", {}).get("resourceVersion", "")

    def create(self, gvr: GVR, obj: dict, namespace: str | None = None) -> dict:
        """POST the object with field manager `orkestra`; returns the created object."""
        ns = _namespace_of(obj, namespace)
        return self.request("POST", resource_path(gvr, ns), {"fieldManager": FIELD_MANAGER}, obj,
                            resource=describe(gvr, ns, obj.get("metadata", {}).get("name")))

    def replace(self, gvr: GVR, obj: dict, namespace: str | None = None) -> dict:
        """PUT the whole object; `metadata.resourceVersion` in `obj` makes it an optimistic update
        (409 Conflict when the object changed meanwhile)."""
        ns = _namespace_of(obj, namespace)
        name = obj["metadata"]["name"]
        return self.request("PUT", resource_path(gvr, ns, name), {"fieldManager": FIELD_MANAGER},
                            obj, resource=describe(gvr, ns, name))

    def apply(self, gvr: GVR, obj: dict, namespace: str | None = None, force: bool = True) -> dict:
        """Server-side apply with field manager `orkestra` (`force` takes over conflicting fields)."""
        ns = _namespace_of(obj, namespace)
        name = obj["metadata"]["name"]
        query = {"fieldManager": FIELD_MANAGER, "force": "true" if force else None}
        return self.request("PATCH", resource_path(gvr, ns, name), query, obj,
                            PATCH_TYPES["apply"], resource=describe(gvr, ns, name))

    def patch(self, gvr: GVR, name: str, body: Any, namespace: str | None = None,
              patch_type: str = "merge", subresource: str | None = None) -> dict:
        """Merge, JSON or strategic patch, optionally of a subresource (`status`)."""
        if patch_type not in PATCH_TYPES:
            raise ValueError(f"unknown patch type {patch_type!r}; expected one of {sorted(PATCH_TYPES)}")
        return self.request("PATCH", resource_path(gvr, namespace, name, subresource),
                            {"fieldManager": FIELD_MANAGER}, body, PATCH_TYPES[patch_type],
                            resource=describe(gvr, namespace, name))

    def delete(self, gvr: GVR, name: str, namespace: str | None = None,
               propagation: str = "Background", preconditions: dict | None = None) -> bool:
        """Delete with `propagationPolicy` (Background by default). False when already gone."""
        body: dict[str, Any] = {"propagationPolicy": propagation}
        if preconditions:
            body["preconditions"] = preconditions
        try:
            self.request("DELETE", resource_path(gvr, namespace, name), body=body,
                         resource=describe(gvr, namespace, name))
        except ApiError as exc:
            if exc.not_found:
                return False
            raise
        return True


class WatchStream:
    """The events of one watch response, decoded line by line as they arrive."""

    def __init__(self, response: urllib3.BaseHTTPResponse, path: str, *,
                 on_stall: Callable[[], None] = lambda: None) -> None:
        self.response = response
        self._path = path
        self._on_stall = on_stall

    def __iter__(self) -> Iterator[dict]:
        pending = b""
        try:
            for chunk in self.response.stream(None, decode_content=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield decode.loads(line)
        except urllib3.exceptions.ReadTimeoutError:
            self._on_stall()
            raise WatchStalled(f"watch {self._path}: no data received") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ApiError(status=0, reason="ConnectionError", message=_connection_message(exc),
                           verb="watch", resource=self._path) from None
        finally:
            self.close()  # also when the caller stops iterating early
        if pending.strip():
            yield decode.loads(pending)

    def sever(self) -> None:
        """Shut the socket down; safe from another thread. A blocked read wakes up with a
        connection error, and the reading thread then closes the stream."""
        sock = getattr(self.response.connection, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed

    def close(self) -> None:
        """Close the connection; a half-read stream is never reused. Call from the reading
        thread (use `sever` from others)."""
        self.sever()
        self.response.close()

    def __enter__(self) -> "WatchStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()



def _new_pool(access: ClusterAccess, cert: tuple[bytes, bytes] | None) -> urllib3.PoolManager:
    options: dict[str, Any] = {"maxsize": _POOL_SIZE}
    if access.server.startswith("https:"):
        options["ssl_context"] = access.tls.context(cert)
        options["cert_reqs"] = "CERT_REQUIRED" if access.tls.verify else "CERT_NONE"
        if access.tls.server_name:
            options["server_hostname"] = access.tls.server_name
    if access.proxy_url:
        return urllib3.ProxyManager(access.proxy_url, proxy_headers=_proxy_auth(access.proxy_url), **options)
    return urllib3.PoolManager(**options)


def _proxy_auth(proxy_url: str) -> dict[str, str] | None:
    """`Proxy-Authorization` from the user:password of a proxy-url, as kubectl sends it (urllib3
    ignores them)."""
    auth = urllib3.util.parse_url(proxy_url).auth
    if not auth:
        return None
    user, _, password = auth.partition(":")
    return urllib3.make_headers(proxy_basic_auth=f"{unquote(user)}:{unquote(password)}")


def retry_after_seconds(header: str | None, default: float = 1.0) -> float:
    """Seconds to wait from a `Retry-After` header (delta-seconds form), capped at 30 s."""
    try:
        value = float(header) if header else default
    except ValueError:
        value = default
    return max(0.0, min(value, RETRY_AFTER_CAP))


def _error(resp: urllib3.BaseHTTPResponse, verb: str, resource: str) -> ApiError:
    retry = resp.headers.get("Retry-After")
    return ApiError.from_response(status=resp.status, data=resp.data, verb=verb.lower(),
                                  resource=resource,
                                  retry_after=retry_after_seconds(retry) if retry else None)


def _with_type(page: dict) -> list[dict]:
    items = page.get("items") or []
    list_kind = page.get("kind", "")
    kind = list_kind[:-4] if list_kind.endswith("List") else ""
    api_version = page.get("apiVersion", "")
    for item in items:
        item.setdefault("apiVersion", api_version)
        if kind:
            item.setdefault("kind", kind)
    return items


def _namespace_of(obj: dict, namespace: str | None) -> str | None:
    return namespace or obj.get("metadata", {}).get("namespace") or None


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _connection_message(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc) or type(exc).__name__
