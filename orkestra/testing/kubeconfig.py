"""Kubeconfig files with embedded certificates: writing one (as text) and reading its cluster.

Everything is inlined as `*-data` so a kubeconfig can be copied anywhere and still work; the
cluster and context are named `orkestra-local` so they never collide with a user's own entries.
"""
from __future__ import annotations

import base64
from pathlib import Path

import yaml

CONTEXT = "orkestra-local"


def _b64(pem: bytes) -> str:
    return base64.b64encode(pem).decode("ascii")


def client_kubeconfig(*, server: str, ca_pem: bytes, user: str, cert_pem: bytes, key_pem: bytes) -> str:
    """A kubeconfig for `user` authenticating with a client certificate against `server`."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": server,
                                                   "certificate-authority-data": _b64(ca_pem)}}],
        "users": [{"name": user, "user": {"client-certificate-data": _b64(cert_pem),
                                          "client-key-data": _b64(key_pem)}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": user}}],
        "current-context": CONTEXT,
        "preferences": {},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def read_cluster(path: Path) -> tuple[str, bytes]:
    """(server URL, CA certificate PEM) of the current context's cluster in the kubeconfig at `path`."""
    doc = yaml.safe_load(path.read_text())
    context = next(c["context"] for c in doc["contexts"] if c["name"] == doc["current-context"])
    cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == context["cluster"])
    if "certificate-authority-data" in cluster:
        return cluster["server"], base64.b64decode(cluster["certificate-authority-data"])
    return cluster["server"], Path(cluster["certificate-authority"]).read_bytes()


def with_server(text: str, server: str) -> str:
    """The kubeconfig `text` with every cluster pointed at `server` (e.g. a proxy in front of it)."""
    doc = yaml.safe_load(text)
    for cluster in doc.get("clusters") or []:
        cluster["cluster"]["server"] = server
    return yaml.safe_dump(doc, sort_keys=False)
