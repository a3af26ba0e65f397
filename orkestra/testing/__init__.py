"""A local Kubernetes control plane for tests, demos and Katalog authors (docs/architecture.md).

`LocalControlPlane` starts etcd, kube-apiserver and kube-controller-manager on loopback and writes
an admin kubeconfig; `ensure_binaries` builds or reuses the cached binaries. The e2e fixtures and
`ork local` are built on these two. Everything else in this package is internal.

The names are resolved lazily (PEP 562) so that `python -m orkestra.testing.build` does not
import its own module twice, and `import orkestra.testing` stays cheap.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "KUBERNETES_VERSION": "orkestra.testing.build",
    "ensure_binaries": "orkestra.testing.build",
    "LocalControlPlane": "orkestra.testing.controlplane",
    "BuildError": "orkestra.testing.errors",
    "ControlPlaneError": "orkestra.testing.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'orkestra.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
