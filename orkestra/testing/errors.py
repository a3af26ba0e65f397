"""Errors of the local control plane (build and run).

Every failure here is something a user can act on: a missing Go toolchain, a module the proxy
refused, a port in use, a component that died. So each error carries a one-line headline (what
failed and what to do) and, separately, the detail that explains it (the tail of a build or
component log). The CLI prints the headline on its own line and the detail below it; nothing
here is ever shown as a traceback.
"""
from __future__ import annotations

from orkestra.errors import OrkestraError


class ControlPlaneError(OrkestraError):
    """The local control plane could not be built, started or reached."""

    def __init__(self, headline: str, detail: str = "") -> None:
        super().__init__(headline)
        self.headline = headline
        self.detail = detail.rstrip()

    def __str__(self) -> str:
        if not self.detail:
            return self.headline
        return f"{self.headline}\n{self.detail}"


class BuildError(ControlPlaneError):
    """Building the control-plane binaries from Go modules failed."""
