"""The Kubernetes I/O layer: `KubeClient` (plain dicts), `ApiError`, `Discovery` and
`EventRecorder`. One client per process; everything here is thread-safe."""
from orkestra.kube.client import KubeClient, KubeConfigError, WatchStalled
from orkestra.kube.errors import ApiError

__all__ = ["ApiError", "KubeClient", "KubeConfigError", "WatchStalled"]
