"""The e2e least-privilege tests fail on any denial in the runtime's log (tests/e2e/rbac_identity.py):
only the ownerReference plugin's unmapped-kind sentence is set apart, never a whole line that
holds it, and an empty log cannot pass."""
from __future__ import annotations

import json

import pytest

from tests.e2e.rbac_identity import assert_never_refused, forbidden_lines, unmapped_lines

UNMAPPED = ('403 Forbidden: deployments.apps "hello-deployment" is forbidden: cannot set blockOwnerDeletion in this '
            'case because cannot find RESTMapping for APIVersion beginner.demo.orkestra.io/v1 Kind Website: no matches '
            'for kind "Website" in version "beginner.demo.orkestra.io/v1"')
DENIED = ('403 Forbidden: services is forbidden: User "system:serviceaccount:ork-rbac-1:orkestra" cannot create '
          'resource "services" in API group "" in the namespace "default"')


def line(error: str) -> str:
    """A runtime log line as `ork run` writes it (JSON: the server's quotes escaped)."""
    return json.dumps({"level": "error", "msg": "reconcile failed", "error": error})


def test_the_unmapped_kind_refusal_alone_is_counted_apart():
    log = line(f"apply failed: Deployment default/hello-deployment: {UNMAPPED}")
    assert forbidden_lines(log) == []
    assert unmapped_lines(log) == [log]


@pytest.mark.parametrize("error", [
    f"apply failed: Deployment default/hello-deployment: {UNMAPPED}; Service default/hello-svc: {DENIED}",
    f"apply failed: Service default/hello-svc: {DENIED}; Deployment default/hello-deployment: {UNMAPPED}",
    f"{UNMAPPED} (cannot update resource \"websites/finalizers\") forbidden: cannot watch websites in all namespaces",
])
def test_a_real_denial_in_the_same_line_still_counts(error):
    assert forbidden_lines(line(error)) == [line(error)]


def test_a_log_without_the_runtime_start_cannot_pass():
    with pytest.raises(AssertionError, match="not captured"):
        assert_never_refused("empty", "")
    assert_never_refused("ok", json.dumps({"level": "info", "msg": "api server reachable"}))
    with pytest.raises(AssertionError, match="refused"):
        assert_never_refused("denied", json.dumps({"msg": "api server reachable"}) + "\n" + line(DENIED))
