"""`ork local up|status|down|kubeconfig`: the local control plane as a background service.

`up` starts etcd, kube-apiserver and kube-controller-manager detached (their own session, so
they outlive the command), writes the admin kubeconfig to `<cache>/orkestra/local/kubeconfig`
and the PIDs, ports and data directory to `state.json` beside it (docs/cli.md#ork-local). The other
subcommands read that file, so they work from any shell. A lock makes two concurrent `up`s
start one control plane, not two.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click

from orkestra.testing import KUBERNETES_VERSION, ControlPlaneError, LocalControlPlane
from orkestra.testing import processes
from orkestra.testing import state as local_state
from orkestra.testing.files import private_dir, write_private
from orkestra.testing.locking import exclusive_lock
from orkestra.testing.paths import local_dir


def _paths() -> tuple[Path, Path, Path]:
    home = local_dir()
    return home / "kubeconfig", home / "state.json", home / "cluster"


def _fail(err: ControlPlaneError) -> None:
    click.echo(f"error: {err.headline}", err=True)
    if err.detail:
        click.echo(err.detail, err=True)
    sys.exit(1)


def _load(state_file: Path) -> local_state.LocalState | None:
    try:
        return local_state.load(state_file)
    except ControlPlaneError as err:
        _fail(err)
        return None


def _clean(state: local_state.LocalState | None, kubeconfig: Path, state_file: Path, cluster: Path) -> None:
    if state is not None:
        state.stop()
    state_file.unlink(missing_ok=True)
    kubeconfig.unlink(missing_ok=True)
    shutil.rmtree(cluster, ignore_errors=True)


@click.group()
def local() -> None:
    """Run a local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager)."""


@local.command()
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for /readyz.")
def up(timeout: float) -> None:
    """Start the local control plane in the background and print the KUBECONFIG line."""
    kubeconfig, state_file, cluster = _paths()
    private_dir(kubeconfig.parent)
    with exclusive_lock(kubeconfig.parent / "up.lock",
                        on_wait=lambda why: click.echo(f"[controlplane] {why}", err=True)):
        state = _load(state_file)
        if state is not None:
            if all(state.running().values()) and state.readyz()[0]:
                click.echo("[controlplane] already running", err=True)
                click.echo(f"export KUBECONFIG={kubeconfig}")
                return
            click.echo("[controlplane] a previous local control plane is not healthy; replacing it", err=True)
        _clean(state, kubeconfig, state_file, cluster)
        cp = LocalControlPlane(root=cluster, detached=True, ready_timeout=timeout)
        try:
            cp.start()
        except ControlPlaneError as err:
            _fail(err)
        write_private(kubeconfig, cp.kubeconfig.read_bytes())
        local_state.save(state_file, local_state.LocalState.of(cp, version=KUBERNETES_VERSION, kubeconfig=kubeconfig))
    click.echo(f"export KUBECONFIG={kubeconfig}")


@local.command()
def status() -> None:
    """Print the component PIDs, ports and readiness (exit 1 when not running or unhealthy)."""
    _, state_file, _ = _paths()
    state = _load(state_file)
    if state is None:
        click.echo("local control plane: not running (start it with `ork local up`)")
        sys.exit(1)
    ready, why = state.readyz()
    running = state.running()
    ports = {"etcd": state.ports.get("etcd"), "kube-apiserver": state.ports.get("kube-apiserver")}
    click.echo(f"Server      {state.server}  {'✓ ready' if ready else '✗ not ready: ' + why}")
    click.echo(f"Kubeconfig  {state.kubeconfig}")
    click.echo(f"Version     v{state.version}")
    click.echo(f"Data        {state.root}")
    click.echo("")
    click.echo(f"{'COMPONENT':<25}{'PID':<9}{'PORT':<8}STATE")
    for component in state.components:
        port = ports.get(component.name) or "-"
        mark = "● running" if running[component.name] else "✗ dead"
        click.echo(f"{component.name:<25}{component.pid:<9}{port!s:<8}{mark}")
    dead = [c for c in state.components if not running[c.name]]
    if dead:
        first = dead[0]
        click.echo(f"error: {first.name} (pid {first.pid}) is not running; `ork local down` then `ork local up` "
                   f"restarts the control plane. The last lines of its log ({first.log}):", err=True)
        click.echo(processes.tail(first.log), err=True)
        sys.exit(1)
    if not ready:
        sys.exit(1)


@local.command()
def down() -> None:
    """Stop every process of the local control plane by PID and remove its files."""
    kubeconfig, state_file, cluster = _paths()
    with exclusive_lock(kubeconfig.parent / "up.lock"):
        state = _load(state_file)
        _clean(state, kubeconfig, state_file, cluster)
    if state is None:
        click.echo("local control plane: not running")
        return
    pids = ", ".join(f"{c.name} {c.pid}" for c in state.components)
    click.echo(f"local control plane stopped ({pids})")


@local.command()
def kubeconfig() -> None:
    """Print the path of the local control plane's admin kubeconfig."""
    path, state_file, _ = _paths()
    if _load(state_file) is None or not path.exists():
        click.echo("error: the local control plane is not running; start it with `ork local up`", err=True)
        sys.exit(1)
    click.echo(path)
