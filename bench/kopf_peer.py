"""The kopf peer of the memory and throughput benches: one kopf operator for one bench kind,
doing the raw client's writes (the three children by server-side apply, Ready status through
kopf's status patch) in an `on.create` handler, with `max_workers` workers. kopf adds its own
bookkeeping writes (the last-handled-configuration annotation) and a Normal Event per handler,
as it does by default.

    python bench/kopf_peer.py KUBECONFIG PLURAL NAMESPACE WORKERS
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness import GROUP, owner_of, raw_children, ready_status

from orkestra.kube import KubeClient


def start(kubeconfig: str, plural: str, namespace: str, workers: int, log: Path) -> subprocess.Popen:
    """This module as a subprocess in its own session (stop it with harness.stop_process)."""
    return subprocess.Popen([sys.executable, __file__, kubeconfig, plural, namespace, str(workers)],
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "KUBECONFIG": kubeconfig})


def run(kubeconfig: str, plural: str, namespace: str, workers: int) -> None:
    import kopf

    kube = KubeClient.from_config(kubeconfig)

    @kopf.on.startup()
    def configure(settings: kopf.OperatorSettings, **_) -> None:
        settings.execution.max_workers = workers
        settings.posting.level = 20  # INFO: kopf's own "Handler succeeded" events, as by default

    @kopf.on.create(GROUP, "v1", plural)
    def create(body, spec, patch, **_) -> None:
        obj = {"apiVersion": body["apiVersion"], "kind": body["kind"], "metadata": dict(body["metadata"])}
        for child_gvr, child in raw_children(obj["metadata"]["name"], owner_of(obj), spec):
            kube.apply(child_gvr, child, namespace, force=True)
        patch.status.update(ready_status(body["metadata"]["generation"]))

    kopf.run(standalone=True, namespaces=[namespace])


if __name__ == "__main__":
    config, plural_, namespace_, workers_ = sys.argv[1:5]
    run(config, plural_, namespace_, int(workers_))
