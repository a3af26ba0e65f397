"""The on-disk record of the control plane that `ork local up` left running.

`ork local up` returns while its processes keep running, so every later command (`status`,
`down`, `kubeconfig`, from any shell) learns about them from `state.json`, written beside the
kubeconfig: the PIDs with the binary each runs, the ports, the data directory. PIDs are only
trusted together with their binary (`processes.runs`), so a stale file whose PIDs were reused
never leads to signalling a stranger.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from orkestra.testing import processes
from orkestra.testing.controlplane import LocalControlPlane, admin_ssl_context, probe_readyz
from orkestra.testing.errors import ControlPlaneError
from orkestra.testing.files import write_private


@dataclass(frozen=True)
class LocalState:
    """What `state.json` holds."""

    version: str
    server: str
    kubeconfig: str
    root: str
    ports: dict[str, int]
    components: list[processes.Component] = field(default_factory=list)

    @classmethod
    def of(cls, cp: LocalControlPlane, *, version: str, kubeconfig: Path) -> LocalState:
        layout = cp.layout
        return cls(version=version, server=layout.server, kubeconfig=str(kubeconfig), root=str(layout.root),
                   ports={"etcd": layout.etcd_client_port, "etcd-peer": layout.etcd_peer_port,
                          "kube-apiserver": layout.apiserver_port},
                   components=cp.components)

    def to_json(self) -> str:
        doc = asdict(self)
        doc["components"] = [{**asdict(c), "log": str(c.log)} for c in self.components]
        return json.dumps(doc, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: Path) -> LocalState:
        try:
            doc = json.loads(text)
            components = [processes.Component(name=c["name"], pid=int(c["pid"]), exe=c["exe"], log=Path(c["log"]))
                          for c in doc.pop("components")]
            return cls(**doc, components=components)
        except (ValueError, KeyError, TypeError) as err:
            raise ControlPlaneError(f"{source}: unreadable local control-plane state ({err}); "
                                    f"stop any leftover etcd/kube-apiserver processes and delete the file") from None

    def running(self) -> dict[str, bool]:
        """Component name -> whether its PID still runs its binary."""
        return {c.name: processes.runs(c.pid, c.exe) for c in self.components}

    def readyz(self) -> tuple[bool, str]:
        certs = Path(self.root) / "certs"
        try:
            context = admin_ssl_context(certs / "serving-ca.crt", certs / "admin.crt", certs / "admin.key")
        except OSError as err:
            return False, f"cannot read the admin certificates in {certs}: {err}"
        return probe_readyz(self.server, context)

    def stop(self) -> None:
        """Stop every recorded process by PID, newest first."""
        for component in reversed(self.components):
            processes.stop(component)


def load(path: Path) -> LocalState | None:
    """The recorded state, or None when there is no state file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return LocalState.from_json(text, source=path)


def save(path: Path, state: LocalState) -> None:
    tmp = path.with_suffix(".tmp")
    write_private(tmp, state.to_json())
    tmp.replace(path)
