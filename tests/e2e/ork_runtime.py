"""The `ork_runtime` fixture: start real `ork run` processes against the test control plane.

Each call starts `ork run` as a subprocess (the same console script a user runs) on free loopback
ports, with `--kubeconfig` from the `control_plane` fixture, and waits until `/startup` answers
200. A process that exits early or never becomes ready fails the test with the tail of its log.
Every process started through the factory is stopped at teardown (SIGTERM, then SIGKILL).

Test modules import the fixture explicitly:
`from tests.e2e.ork_runtime import ork_runtime  # noqa: F401`.
"""
from __future__ import annotations

import json
import os
import signal as _signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import pytest
import yaml

_ORK = str(Path(sys.executable).with_name("ork"))
_STARTUP_TIMEOUT = 90.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OrkProcess:
    """One running `ork run`: its URL, its log and its process."""

    def __init__(self, proc: subprocess.Popen, *, url: str, log_path: Path, webhook_port: int):
        self.proc = proc
        self.url = url
        self.webhook_port = webhook_port
        self._log_path = log_path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def get(self, path: str, *, timeout: float = 5.0) -> tuple[int, Any]:
        """(HTTP status, decoded JSON body or raw text); status 0 when the server is unreachable."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as resp:
                return resp.status, _decode(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, _decode(err.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError, socket.timeout) as err:
            return 0, str(err)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 30.0, *, interval: float = 0.2,
                 message: str = "") -> Any:
        """Poll `predicate` until it returns a truthy value; fail the test with the log tail on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {message or predicate!r}\n"
                            f"--- ork run log tail ---\n{self.log_tail()}")
            time.sleep(interval)

    def logs(self) -> str:
        return self._log_path.read_text(errors="replace") if self._log_path.exists() else ""

    def log_lines(self) -> list[dict]:
        """The JSON log lines written so far (other lines are skipped)."""
        out = []
        for line in self.logs().splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
        return out

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.logs().splitlines()[-lines:])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, signal: int = _signal.SIGTERM, timeout: float = 60.0) -> int | None:
        """Send `signal` and wait for exit; SIGKILL after `timeout`. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def kill(self) -> int | None:
        """SIGKILL the arbiter and its gunicorn worker (the worker would otherwise outlive it)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, _signal.SIGKILL)  # own session: arbiter and worker
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)
        return self.proc.returncode


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")


@pytest.fixture
def ork_runtime(control_plane, tmp_path_factory) -> Iterator[Callable[..., OrkProcess]]:
    """Factory: `ork_runtime(katalog_path_or_dict, *, env=None, port=None, leader_election=False,
    server="gunicorn", extra_args=(), wait=True, kubeconfig=True) -> OrkProcess`.

    `kubeconfig=False` passes no `--kubeconfig`: the process then finds its API server the way a
    pod does (the caller's `env` provides the ServiceAccount files and KUBERNETES_SERVICE_*); a
    path uses that kubeconfig instead of the admin one (another user, or a proxy in front)."""
    started: list[OrkProcess] = []
    workdir = tmp_path_factory.mktemp("ork-run")

    def start(katalog: str | os.PathLike | Mapping, *, env: Mapping[str, str] | None = None,
              port: int | None = None, leader_election: bool = False, server: str = "gunicorn",
              extra_args: tuple[str, ...] | list[str] = (), wait: bool = True,
              kubeconfig: bool | os.PathLike = True) -> OrkProcess:
        n = len(started)
        if isinstance(katalog, Mapping):
            path = workdir / f"katalog-{n}.yaml"
            path.write_text(yaml.safe_dump(dict(katalog), sort_keys=False))
        else:
            path = Path(katalog)
        http_port = port or free_port()
        webhook_port = free_port()
        proc_env = {k: v for k, v in os.environ.items() if not k.startswith(("ORK_", "KUBECONFIG"))}
        proc_env.update({
            "ORK_PORT": str(http_port),
            "ORK_WEBHOOK_PORT": str(webhook_port),
            "ORK_BIND_ADDRESS": "127.0.0.1",
            "LEADER_ELECTION": "true" if leader_election else "false",
            "PYTHONUNBUFFERED": "1",
        })
        proc_env.update(env or {})
        log_path = workdir / f"ork-run-{n}.log"
        chosen = control_plane.kubeconfig if kubeconfig is True else kubeconfig
        cluster = ["--kubeconfig", str(chosen)] if chosen else []
        cmd = [_ORK, "run", "-f", str(path), *cluster, "--server", server, *extra_args]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=proc_env,
                                    cwd=str(workdir), start_new_session=True)
        handle = OrkProcess(proc, url=f"http://127.0.0.1:{http_port}", log_path=log_path,
                            webhook_port=webhook_port)
        started.append(handle)
        if wait:
            _wait_started(handle)
        return handle

    yield start
    for handle in reversed(started):
        if handle.stop(timeout=30) is None:
            handle.kill()


def _wait_started(handle: OrkProcess) -> None:
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if not handle.alive():
            pytest.fail(f"ork run exited with code {handle.proc.returncode} before /startup answered 200\n"
                        f"--- ork run log tail ---\n{handle.log_tail()}")
        status, _ = handle.get("/startup", timeout=2)
        if status == 200:
            return
        time.sleep(0.2)
    pytest.fail(f"ork run did not answer 200 on /startup within {_STARTUP_TIMEOUT}s\n"
                f"--- ork run log tail ---\n{handle.log_tail()}")


# --------------------------------------------------------------------------- Katalog/CRD helpers
E2E_GROUP = "rt.e2e.orkestra.io"


def new_kind(prefix: str = "Widget") -> tuple[str, str]:
    """A fresh (kind, plural) so concurrent tests never share a CRD."""
    import uuid
    suffix = uuid.uuid4().hex[:6]
    return f"{prefix}{suffix}", f"{prefix.lower()}{suffix}s"


def crd_manifest(kind: str, plural: str, *, group: str = E2E_GROUP, version: str = "v1") -> dict:
    """A namespaced CRD with a status subresource and a free-form schema."""
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List"},
                     "versions": [{"name": version, "served": True, "storage": True, "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}]}}


def crd_entry(kind: str, plural: str, *, group: str = E2E_GROUP, workers: int = 2, threshold: int = 3,
              hooks: Mapping | None = None, config_map: bool = True, **reconciler: Any) -> dict:
    """A Katalog entry for `kind`: one ConfigMap `<name>-config` per CR holding `.spec.value`."""
    box: dict = {"reconciler": {"workers": workers, "queue": {"failureThreshold": threshold}, **reconciler}}
    if hooks:
        box["reconciler"]["hooks"] = dict(hooks)
    if config_map:
        box["onReconcile"] = {"configMaps": [{"data": {"value": "{{ .spec.value | default \"none\" }}"}}]}
    return {"apiTypes": {"group": group, "version": "v1", "kind": kind, "plural": plural}, "operatorBox": box}


def katalog_doc(name: str, crds: Mapping[str, dict]) -> dict:
    return {"apiVersion": "orkestra.orkspace.io/v1", "kind": "Katalog",
            "metadata": {"name": name, "version": "0.1.0"}, "spec": {"crds": dict(crds)}}


def create_cr(kube: Any, kind: str, plural: str, name: str, namespace: str, spec: Mapping | None = None,
              *, group: str = E2E_GROUP) -> dict:
    from orkestra.gvk import GVR
    return kube.create(GVR(group, "v1", plural), {"apiVersion": f"{group}/v1", "kind": kind,
                                                  "metadata": {"name": name}, "spec": dict(spec or {})}, namespace)


def write_katalog(tmp_path: Path, doc: dict, **modules: str) -> Path:
    """`doc` as tmp_path/katalog.yaml, beside the hook modules given as name=source."""
    for name, text in modules.items():
        (tmp_path / f"{name}.py").write_text(text)
    path = tmp_path / "katalog.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def config_value(kube, name: str, namespace: str) -> str | None:
    """`data.value` of the `<name>-config` ConfigMap the test entries render, or None."""
    from orkestra.gvk import GVR
    cm = kube.get(GVR("", "v1", "configmaps"), f"{name}-config", namespace)
    return (cm or {}).get("data", {}).get("value")
