"""The `kubernetes.dynamic.DynamicClient` handed to hooks as `ctx.dynamic`, with Orkestra's timeouts.

The stock client sends requests without a timeout, so one hung connection would block a worker
until the watchdog marks it stuck. Here every request that does not choose its own
`_request_timeout` gets the same connect/read timeouts as `KubeClient`; watches keep whatever
their caller chose, because a quiet watch is not a hung one.
"""
from __future__ import annotations

from kubernetes.dynamic import DynamicClient

from orkestra.kube import client


class TimedDynamicClient(DynamicClient):
    def request(self, method, path, body=None, **params):
        if not params.get("watch"):
            params.setdefault("_request_timeout", (client.CONNECT_TIMEOUT, client.READ_TIMEOUT))
        return super().request(method, path, body, **params)
