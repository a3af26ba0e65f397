"""Issue 14 "Hook crash, hook hang", in a real `ork run` against the real API server.

Three CRDs in one process: `steady` has no hook, `crashing` has a hook that raises on every
reconcile, `hanging` has a hook that never returns (it ignores cancellation, and keeps running
after `ctx.cancelled` is set). The crash degrades only its CRD; the hang is bounded by the
reconcile timeout, shown in `/katalog/hanging` (stuck workers, the timeout as last error, the
CRD degraded), `ctx.cancelled` is set when the timeout fires, and `steady` keeps its workers:
every one of its CRs converges through creates and updates while the other two are broken.
"""
from __future__ import annotations

import time

from orkestra.gvk import GVR
from tests.e2e.ork_runtime import (E2E_GROUP, config_value, create_cr, crd_entry, crd_manifest, katalog_doc, new_kind,
                                   ork_runtime, write_katalog)  # noqa: F401

CONFIGMAPS = GVR("", "v1", "configmaps")

CRASHING_HOOK = '''
def make_hooks():
    def on_reconcile(ctx, obj):
        raise RuntimeError("hook crashed on " + obj["metadata"]["name"])
    return {"on_reconcile": on_reconcile}
'''

# Blocks for ever: it notes when it started and when it saw ctx.cancelled, and never returns.
HANGING_HOOK = '''
import os, time


def make_hooks():
    def on_reconcile(ctx, obj):
        base = os.path.join(ctx.args["dir"], obj["metadata"]["name"])
        open(base + ".started", "w").close()
        noted = False
        while True:
            time.sleep(0.05)
            if ctx.cancelled.is_set() and not noted:
                open(base + ".cancelled", "w").close()
                noted = True
    return {"on_reconcile": on_reconcile}
'''


def test_a_crash_degrades_only_its_crd_and_a_hang_is_bounded_without_starving_the_others(
        ork_runtime, apply_crd, kube, namespace, tmp_path):
    kinds = {key: new_kind(key.capitalize()) for key in ("steady", "crashing", "hanging")}
    for kind, plural in kinds.values():
        apply_crd(crd_manifest(kind, plural))
    marks = tmp_path / "marks"
    marks.mkdir()
    doc = katalog_doc("hook-faults", {
        "steady": crd_entry(*kinds["steady"], workers=2),
        "crashing": crd_entry(*kinds["crashing"], workers=1, threshold=2, config_map=False,
                              hooks={"module": "crashing_hook", "function": "make_hooks"}),
        "hanging": crd_entry(*kinds["hanging"], workers=1, threshold=2, config_map=False, timeout="2s",
                             hooks={"module": "hanging_hook", "function": "make_hooks",
                                    "args": {"dir": str(marks)}}),
    })
    # the hung calls never return, so shutdown would wait out the whole drain budget (30s)
    ork = ork_runtime(write_katalog(tmp_path, doc, crashing_hook=CRASHING_HOOK, hanging_hook=HANGING_HOOK),
                      env={"WATCH_NAMESPACE": namespace, "DRAIN_TIMEOUT": "2s"})

    # one worker and one replacement: two hung calls use up the hanging CRD's threads; the third
    # CR waits in its queue
    for i in range(3):
        create_cr(kube, *kinds["hanging"], f"hang-{i}", namespace, {"value": "h"})
    create_cr(kube, *kinds["crashing"], "crash-0", namespace, {"value": "c"})
    started = time.monotonic()
    steady_gvr = GVR(E2E_GROUP, "v1", kinds["steady"][1])
    for i in range(20):
        create_cr(kube, *kinds["steady"], f"steady-{i}", namespace, {"value": f"v{i}"})

    detail = ork.wait_for(lambda: (lambda d: d["workers"]["stuck"] == 2 and d)(ork.get("/katalog/hanging")[1]),
                          timeout=30, message="both hanging workers marked stuck")
    bounded_after = time.monotonic() - started
    assert detail["workers"]["active"] == 0 and detail["workers"]["processing"] == 0
    stuck_keys = sorted(s["key"] for s in detail["workers"]["states"] if s["state"] == "stuck")
    assert detail["reconcile"]["lastError"] == "reconcile timed out after 2s"
    assert detail["timeout"] == "2s" and detail["queue"]["depth"] == 1, "the third CR still waits: not lost"
    hung = sorted(p.stem for p in marks.glob("*.started"))
    assert stuck_keys == [f"{namespace}/{name}" for name in hung] and len(hung) == 2
    ork.wait_for(lambda: sorted(p.stem for p in marks.glob("*.cancelled")) == hung, timeout=10,
                 message="ctx.cancelled set on both timed-out calls")
    ork.wait_for(lambda: ork.get("/katalog/hanging/health")[0] == 503, timeout=10, message="hanging degraded")
    ork.wait_for(lambda: ork.get("/katalog/crashing/health")[0] == 503, timeout=30, message="crashing degraded")
    assert ork.get("/katalog/crashing/health")[1]["lastError"] == \
        "reconciler panic: RuntimeError: hook crashed on crash-0"

    # the steady CRD keeps both its workers and converges, creates then updates
    for i in range(20):
        ork.wait_for(lambda i=i: config_value(kube, f"steady-{i}", namespace) == f"v{i}", timeout=30,
                     message=f"steady-{i} reconciled")
    for i in range(20):
        kube.patch(steady_gvr, f"steady-{i}", {"spec": {"value": f"w{i}"}}, namespace)
    for i in range(20):
        ork.wait_for(lambda i=i: config_value(kube, f"steady-{i}", namespace) == f"w{i}", timeout=30,
                     message=f"steady-{i} updated")
    steady = ork.get("/katalog/steady")[1]
    assert steady["workers"]["stuck"] == 0 and steady["workers"]["active"] == 2
    status, health = ork.get("/katalog/steady/health")
    assert status == 200 and health["state"] == "healthy"
    _, summary = ork.get("/katalog")
    assert summary["statusCounts"]["degraded"] == 2 and summary["statusCounts"]["healthy"] == 1
    assert ork.get("/health")[0] == 200 and ork.alive()
    print(f"hang bounded: both workers stuck {bounded_after:.1f}s after the first create (timeout 2s)")
    # every steady CR converged, nothing lost: one ConfigMap per CR, each with the last value
    cms = [cm for cm in kube.list(CONFIGMAPS, namespace)[0] if cm["metadata"]["name"].startswith("steady-")]
    assert sorted(cm["data"]["value"] for cm in cms) == sorted(f"w{i}" for i in range(20))
