"""A local Kubernetes control plane for tests, demos and Katalog authors (testing.md).

`LocalControlPlane` starts etcd, kube-apiserver and kube-controller-manager on loopback and writes
an admin kubeconfig; `ensure_binaries` builds or reuses the cached binaries. The e2e fixtures and
`ork local` are built on these two. Everything else in this package is internal.
"""
from orkestra.testing.build import KUBERNETES_VERSION, ensure_binaries
from orkestra.testing.controlplane import LocalControlPlane
from orkestra.testing.errors import BuildError, ControlPlaneError

__all__ = ["KUBERNETES_VERSION", "BuildError", "ControlPlaneError", "LocalControlPlane", "ensure_binaries"]
