"""The `kubernetes` package objects handed to hooks: `ctx.api_client` and `ctx.dynamic` (a
`kubernetes.dynamic.DynamicClient` with Orkestra's timeouts).

This is the only runtime module that imports `kubernetes` (~30 MB of RSS for its generated
models), and only when a hook first touches `ctx.api_client` or `ctx.dynamic`. The `ApiClient`
built here sends through the `KubeClient`'s own connection pool and credentials, so hooks reach
the same server with the same identity and TLS settings.

The stock client sends requests without a timeout, so one hung connection would block a worker
until the watchdog marks it stuck. Here every request that does not choose its own
`_request_timeout` gets the same connect/read timeouts as `KubeClient`; watches keep whatever
their caller chose, because a quiet watch is not a hung one.
"""
from __future__ import annotations

from typing import Any

from kubernetes import client as k8s_client
from kubernetes.dynamic import DynamicClient

from orkestra.kube import client


class TimedDynamicClient(DynamicClient):
    def request(self, method, path, body=None, **params):
        if not params.get("watch"):
            params.setdefault("_request_timeout", (client.CONNECT_TIMEOUT, client.READ_TIMEOUT))
        return super().request(method, path, body, **params)


class _KubePool:
    """Stands in for the `ApiClient`'s own urllib3 pool: the `KubeClient`'s current one."""

    def __init__(self, kube: client.KubeClient) -> None:
        self._kube = kube

    def request(self, *args: Any, **kwargs: Any) -> Any:
        return self._kube._pool.request(*args, **kwargs)

    def clear(self) -> None:
        """The pool belongs to the `KubeClient`; closing the `ApiClient` leaves it open."""


def api_client_over(kube: client.KubeClient) -> k8s_client.ApiClient:
    """A `kubernetes.client.ApiClient` whose requests go through `kube`'s pool with its credentials."""
    config = k8s_client.Configuration(host=kube.server)
    credentials = kube.access.credentials
    if credentials.authorization() is not None:  # certificate users send no header at all
        config.api_key = {"authorization": ""}

        def refresh(cfg: k8s_client.Configuration) -> None:  # called before every request
            cfg.api_key["authorization"] = credentials.authorization() or ""

        config.refresh_api_key_hook = refresh  # type: ignore[assignment]  # typed None there, called when set
    api = k8s_client.ApiClient(config)
    api.user_agent = client.USER_AGENT
    api.rest_client.pool_manager = _KubePool(kube)  # type: ignore[assignment]  # duck-types PoolManager.request
    return api
