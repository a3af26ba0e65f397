"""`ork local up|status|down|kubeconfig`, run from a shell as a user would.

Each test gets its own XDG_CACHE_HOME (so it never touches a developer's `ork local` cluster)
whose control-plane binary directory links to the real, already built one. The point of these
tests is the process life cycle: the control plane outlives `ork local up`, `status` sees what
is running and what died, and `down` leaves no process behind.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from orkestra.testing import KUBERNETES_VERSION, ControlPlaneError, ensure_binaries
from orkestra.testing.paths import binaries_dir
from orkestra.testing.processes import runs

BIN = Path(sys.executable).parent


@pytest.fixture
def cache_home(tmp_path: Path) -> Path:
    try:
        real = ensure_binaries()
    except ControlPlaneError as err:
        pytest.fail(f"the control-plane binaries could not be built: {err}", pytrace=False)
    linked = binaries_dir(KUBERNETES_VERSION, {"XDG_CACHE_HOME": str(tmp_path)})
    linked.parent.mkdir(parents=True)
    linked.symlink_to(real)
    return tmp_path


@pytest.fixture
def shell(cache_home: Path):
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home), "PATH": f"{BIN}:{os.environ['PATH']}"}
    env.pop("KUBECONFIG", None)

    def run(script: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    yield run
    run("ork local down")


def recorded_components(cache_home: Path) -> list[dict]:
    return json.loads((cache_home / "orkestra" / "local" / "state.json").read_text())["components"]


def test_up_status_down_leave_no_process_behind(shell, cache_home):
    local = cache_home / "orkestra" / "local"
    up = shell("ork local up")
    assert up.returncode == 0, up.stderr
    assert up.stdout == f"export KUBECONFIG={local / 'kubeconfig'}\n"
    components = recorded_components(cache_home)
    assert [c["name"] for c in components] == ["etcd", "kube-apiserver", "kube-controller-manager"]
    assert all(runs(c["pid"], c["exe"]) for c in components)

    # The processes outlived `ork local up`, and its output is meant to be eval'd.
    used = shell('eval "$(ork local up)" && kubectl get namespace default -o name')
    assert used.returncode == 0, used.stderr
    assert used.stdout.strip() == "namespace/default"
    assert "already running" in used.stderr
    assert recorded_components(cache_home) == components

    assert shell("ork local kubeconfig").stdout == f"{local / 'kubeconfig'}\n"
    status = shell("ork local status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "✓ ready" in status.stdout
    for c in components:
        assert f"{c['name']:<25}{c['pid']:<9}" in status.stdout

    down = shell("ork local down")
    assert down.returncode == 0, down.stderr
    assert not [c for c in components if runs(c["pid"], c["exe"])]
    assert not (local / "state.json").exists()
    assert not (local / "kubeconfig").exists()
    after = shell("ork local status")
    assert after.returncode == 1
    assert "not running" in after.stdout
    assert shell("ork local kubeconfig").returncode == 1


def test_a_dead_etcd_is_reported_and_replaced(shell, cache_home):
    assert shell("ork local up").returncode == 0
    components = recorded_components(cache_home)
    etcd = next(c for c in components if c["name"] == "etcd")
    os.kill(etcd["pid"], signal.SIGKILL)

    status = shell("ork local status")
    assert status.returncode == 1
    assert f"etcd                     {etcd['pid']:<9}" in status.stdout
    assert "✗ dead" in status.stdout
    assert status.stderr.startswith(f"error: etcd (pid {etcd['pid']}) is not running;")

    again = shell("ork local up")
    assert again.returncode == 0, again.stderr
    assert "not healthy; replacing it" in again.stderr
    assert not [c for c in components if runs(c["pid"], c["exe"])]
    replaced = recorded_components(cache_home)
    assert all(runs(c["pid"], c["exe"]) for c in replaced)

    assert shell("ork local down").returncode == 0
    assert not [c for c in replaced if runs(c["pid"], c["exe"])]
