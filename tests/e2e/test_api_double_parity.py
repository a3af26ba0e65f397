"""The unit tier's API double answers like the real API server for the rules it claims.

Each scenario runs the same calls against the local control plane and against `ApiDouble`, and
compares what a reconciler can observe: the HTTP status of each call, and the facts of the
object afterwards (present, finalizers, deletionTimestamp set, generation moved).
"""
from __future__ import annotations

from collections.abc import Callable

import pytest

from orkestra.gvk import GVR
from orkestra.kube.errors import ApiError
from tests.unit.reconcile.api_double import ApiDouble

CM = GVR("", "v1", "configmaps")


def _status(call: Callable[[], object]) -> int:
    try:
        call()
    except ApiError as err:
        return err.status
    return 200


def _facts(obj: dict | None) -> dict:
    if obj is None:
        return {"present": False}
    meta = obj["metadata"]
    return {"present": True, "finalizers": meta.get("finalizers") or [], "deleting": bool(meta.get("deletionTimestamp")),
            "data": obj.get("data")}


def _run(api, ns: str, steps) -> list:
    api.create(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": ns,
                                                                        "finalizers": ["a.io/x"]},
                    "data": {"k": "v"}})
    out = []
    for step in steps:
        live = api.get(CM, "c", ns)
        out.append(_status(lambda: step(api, ns, live)))
        out.append(_facts(api.get(CM, "c", ns)))
    return out


def rv(live: dict) -> str:
    return live["metadata"]["resourceVersion"]


SCENARIOS = {
    "stale resourceVersion in a merge patch is 409": [
        lambda api, ns, live: api.patch(CM, "c", {"data": {"k": "1"}}, ns),
        lambda api, ns, live: api.patch(CM, "c", {"metadata": {"resourceVersion": str(int(rv(live)) - 1)},
                                                  "data": {"k": "2"}}, ns),
    ],
    "a failed JSON patch test is 422 and writes nothing": [
        lambda api, ns, live: api.patch(CM, "c", [{"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
                                                  {"op": "replace", "path": "/data/k", "value": "x"}], ns,
                                        patch_type="json"),
        lambda api, ns, live: api.patch(CM, "c", [{"op": "remove", "path": "/data/missing"}], ns, patch_type="json"),
        lambda api, ns, live: api.patch(CM, "c", [{"op": "test", "path": "/metadata/resourceVersion", "value": rv(live)},
                                                  {"op": "add", "path": "/data/n", "value": "1"}], ns,
                                        patch_type="json"),
    ],
    "deletion with finalizers, no new finalizers, the last removal deletes": [
        lambda api, ns, live: api.delete(CM, "c", ns),
        lambda api, ns, live: api.patch(CM, "c", [{"op": "add", "path": "/metadata/finalizers/-", "value": "b.io/y"}],
                                        ns, patch_type="json"),
        lambda api, ns, live: api.patch(CM, "c", {"metadata": {"finalizers": None}}, ns),
        lambda api, ns, live: api.patch(CM, "c", {"data": {"k": "gone"}}, ns),
    ],
    "merge patch null deletes a key; create of an existing name is 409": [
        lambda api, ns, live: api.patch(CM, "c", {"data": {"k": None, "n": "1"}}, ns),
        lambda api, ns, live: api.create(CM, {"metadata": {"name": "c", "namespace": ns}}),
        lambda api, ns, live: api.patch(CM, "c", {"metadata": {"finalizers": None}}, ns),
    ],
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_double_answers_like_the_api_server(name, kube, namespace):
    real = _run(kube, namespace, SCENARIOS[name])
    if kube.get(CM, "c", namespace) is not None:     # let the namespace go at teardown
        kube.patch(CM, "c", {"metadata": {"finalizers": None}}, namespace)
    assert _run(ApiDouble(status_subresource=lambda gvr: gvr != CM), namespace, SCENARIOS[name]) == real
