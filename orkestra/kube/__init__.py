"""The Kubernetes I/O layer: `KubeClient` (plain dicts), `ApiError`, `Discovery` and
`EventRecorder`. One client per process; everything here is thread-safe."""
from orkestra.kube.client import KubeClient, KubeConfigError, WatchStalled
from orkestra.kube.discovery import Discovery
from orkestra.kube.errors import ApiError
from orkestra.kube.events import EventRecorder, AsyncEventSink

__all__ = ["ApiError", "AsyncEventSink", "Discovery", "EventRecorder", "KubeClient", "KubeConfigError", "WatchStalled"]
