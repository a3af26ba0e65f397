"""The kopf peer of the memory and throughput benches: one kopf operator for one bench kind,
doing the raw client's writes (the three children by server-side apply, Ready status through
kopf's status patch) in an `on.create` handler, at kopf's default settings (issue 15: every
contender as shipped): its default worker pool (`max_workers` unset: Python's default thread
pool, min(32, cores + 4) threads) and its bookkeeping writes (the last-handled-configuration
annotation); kopf 1.45 posts no Event for a handler's log lines unless `posting.loggers` is set.

    python bench/kopf_peer.py KUBECONFIG PLURAL NAMESPACE
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness import GROUP, owner_of, raw_children, ready_status

from orkestra.kube import KubeClient


SETTINGS = "kopf defaults (max_workers unset: min(32, cores + 4) threads)"


def start(kubeconfig: str, plural: str, namespace: str, log: Path) -> subprocess.Popen:
    """This module as a subprocess in its own session (stop it with harness.stop_process)."""
    return subprocess.Popen([sys.executable, __file__, kubeconfig, plural, namespace],
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "KUBECONFIG": kubeconfig})


def run(kubeconfig: str, plural: str, namespace: str) -> None:
    import kopf

    kube = KubeClient.from_config(kubeconfig)

    @kopf.on.create(GROUP, "v1", plural)
    def create(body, spec, patch, **_) -> None:
        obj = {"apiVersion": body["apiVersion"], "kind": body["kind"], "metadata": dict(body["metadata"])}
        for child_gvr, child in raw_children(obj["metadata"]["name"], owner_of(obj), spec):
            kube.apply(child_gvr, child, namespace, force=True)
        patch.status.update(ready_status(body["metadata"]["generation"]))

    kopf.run(standalone=True, namespaces=[namespace])


if __name__ == "__main__":
    config, plural_, namespace_ = sys.argv[1:4]
    run(config, plural_, namespace_)
