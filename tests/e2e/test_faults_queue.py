"""Issue 14 "Queue limits", in a real `ork run` against the real API server (docs/runtime.md §3.5).

Two CRDs with `queue.maxDepth: 3`, one worker and a slow hook, flooded with 30 CR creates each:
`onLimit` left unset (warn, the default) adds past the limit, counts it and logs it; `onLimit: drop` refuses adds
past the limit, counts them in `/katalog/{crd}` and `controller_queue_dropped_total`, and the
resyncs that follow reconcile every dropped CR. Every CR converged, nothing lost.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import yaml

from orkestra.gvk import GVR
from tests.e2e.ork_runtime import create_cr, crd_entry, crd_manifest, katalog_doc, new_kind, ork_runtime  # noqa: F401

CONFIGMAPS = GVR("", "v1", "configmaps")
CRS = 30

SLOW_HOOK = '''
import time


def make_hooks():
    def on_reconcile(ctx, obj):
        time.sleep(0.1)
    return {"on_reconcile": on_reconcile}
'''


def _limited_entry(kind: str, plural: str, on_limit: str | None) -> dict:
    """`on_limit` None leaves `onLimit` unset: warn is the default."""
    entry = crd_entry(kind, plural, workers=1, resync="2s", hooks={"module": "slow_hook", "function": "make_hooks"})
    entry["operatorBox"]["reconciler"]["queue"].update({"maxDepth": 3} | ({"onLimit": on_limit} if on_limit else {}))
    return entry


def _converged(kube, namespace: str, prefix: str) -> int:
    items, _ = kube.list(CONFIGMAPS, namespace)
    return sum(1 for cm in items if cm["metadata"]["name"].startswith(prefix)
               and cm.get("data", {}).get("value") == prefix.rstrip("-"))


def test_a_flood_past_max_depth_warns_or_drops_and_resync_reconciles_the_dropped(
        ork_runtime, apply_crd, kube, namespace, tmp_path: Path):
    kinds = {key: new_kind(key.capitalize()) for key in ("warned", "dropped")}
    for kind, plural in kinds.values():
        apply_crd(crd_manifest(kind, plural))
    (tmp_path / "slow_hook.py").write_text(SLOW_HOOK)
    path = tmp_path / "katalog.yaml"
    path.write_text(yaml.safe_dump(katalog_doc("queue-limits", {
        key: _limited_entry(*kinds[key], None if key == "warned" else "drop") for key in kinds}), sort_keys=False))
    ork = ork_runtime(path, env={"WATCH_NAMESPACE": namespace})

    started = time.monotonic()
    for i in range(CRS):
        for key, (kind, plural) in kinds.items():
            create_cr(kube, kind, plural, f"{key}-{i}", namespace, {"value": key})
    ork.wait_for(lambda: ork.get("/katalog/dropped")[1]["queue"]["dropped"] > 0, timeout=30,
                 message="the drop CRD refusing adds past maxDepth")
    ork.wait_for(lambda: _converged(kube, namespace, "warned-") == CRS, timeout=60, message="warned CRs converged")
    warned_after = time.monotonic() - started
    ork.wait_for(lambda: _converged(kube, namespace, "dropped-") == CRS, timeout=90,
                 message="every dropped CR reconciled by a later resync")
    dropped_after = time.monotonic() - started

    warned, dropped = ork.get("/katalog/warned")[1]["queue"], ork.get("/katalog/dropped")[1]["queue"]
    assert warned["onLimit"] == "warn" and warned["maxDepth"] == 3
    assert warned["dropped"] == 0 and warned["limitReached"] > 0, warned
    assert dropped["onLimit"] == "drop" and dropped["dropped"] > 0, dropped
    _, metrics = ork.get("/metrics")
    count = re.search(r'controller_queue_dropped_total\{[^}]*"dropped"[^}]*\} (\d+)', metrics)
    assert count and int(float(count.group(1))) == dropped["dropped"], metrics[:2000]
    lines = ork.log_lines()
    drop_lines = [line for line in lines if line.get("message") == "enqueue: queue depth limit reached — item dropped"]
    assert drop_lines and drop_lines[0].get("limit") == 3
    warn_lines = [line for line in lines if line.get("message") == "queue depth limit reached"]
    assert warn_lines and {line.get("crd") for line in warn_lines} == {"warned"}, warn_lines
    assert warn_lines[0].get("limit") == 3 and warn_lines[0]["level"] == "warn", warn_lines[0]
    print(f"warn: {warned['limitReached']} adds past the limit, all {CRS} converged in {warned_after:.1f}s; "
          f"drop: {dropped['dropped']} adds dropped, all {CRS} converged in {dropped_after:.1f}s (resync 2s)")
    assert ork.alive() and ork.get("/health")[0] == 200
