"""`LocalControlPlane`: etcd, kube-apiserver and kube-controller-manager as local processes.

This is the real Kubernetes API the e2e tests run on and the cluster behind `ork local up`:
no kubelet and no scheduler, so Pods never run, but CRDs, watches, RBAC, admission, server-side
apply, garbage collection and namespace deletion are the genuine article.

Start-up, step by step, each with a clear error when it fails:

1. the binaries (built and cached by `orkestra.testing.build` unless a `bin_dir` is given);
2. free loopback ports (or the ones asked for, refused with a clear line when taken);
3. certificates (`orkestra.testing.certs`) and an admin kubeconfig (CN=admin, O=system:masters);
4. etcd, until its `/health` says true; kube-apiserver, until `/readyz` answers 200 (allow about
   60 s on a cold 2-core machine); kube-controller-manager, until it has stayed up a moment.

If a component dies on the way, everything started so far is stopped and the error names the
component, with the tail of its log. `stop()` stops every process by PID (SIGTERM, then SIGKILL)
in reverse order and removes the temporary directory when it created one.

For fault tests, `restart("kube-apiserver" | "etcd")` SIGKILLs one component and starts it again
with the same command line (same ports, certificates and data directory), and `audit=True`
makes kube-apiserver write an audit log of every write (`orkestra.testing.audit` reads it).

Usage::

    with LocalControlPlane() as cp:
        client = kubernetes.config.new_client_from_config(str(cp.kubeconfig))
"""
from __future__ import annotations

import atexit
import json
import logging
import re
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orkestra.testing import certs, flags, processes
from orkestra.testing.build import KUBERNETES_VERSION, BINARIES, ensure_binaries, stderr_progress
from orkestra.testing.errors import ControlPlaneError
from orkestra.testing.files import private_dir, write_private
from orkestra.testing.kubeconfig import client_kubeconfig
from orkestra.testing.ports import LOOPBACK, free_ports, port_in_use

log = logging.getLogger("orkestra.testing")

ETCD_TIMEOUT = 30.0
READY_TIMEOUT = 60.0
CONTROLLER_MANAGER_SETTLE = 1.0
_POLL = 0.2


def _route_table() -> str:
    try:
        return Path("/proc/net/route").read_text()
    except OSError:
        return ""


_ADDRESS_IN_USE = re.compile(r"listen tcp (\S+): bind: address already in use")


def explain_death(name: str, log_tail: str) -> str:
    """The one-line headline for a component that exited during start-up."""
    if "address already in use" in log_tail:
        match = _ADDRESS_IN_USE.search(log_tail)
        where = match.group(1) if match else "one of its ports"
        return (f"{name} could not listen: {where} is already in use; "
                f"stop what holds it or let the port be chosen freely")
    return f"{name} exited during start-up; the last lines of its log follow"


def admin_ssl_context(ca: Path, cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    context.load_cert_chain(str(cert), str(key))
    return context


def probe_readyz(server: str, context: ssl.SSLContext, timeout: float = 2.0) -> tuple[bool, str]:
    """(ready, why) from GET <server>/readyz."""
    try:
        with urllib.request.urlopen(f"{server}/readyz", context=context, timeout=timeout) as resp:
            return resp.status == 200, resp.read().decode(errors="replace").strip()
    except urllib.error.HTTPError as err:
        return False, f"HTTP {err.code}"
    except (urllib.error.URLError, OSError) as err:
        return False, str(getattr(err, "reason", err))


def probe_etcd(url: str, context: ssl.SSLContext | None = None, timeout: float = 2.0) -> bool:
    """etcd's /health; `context` carries the CA and the client certificate etcd requires."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout, context=context) as resp:
            return json.loads(resp.read()).get("health") == "true"
    except (urllib.error.URLError, OSError, ValueError):
        return False


RESTARTABLE = ("etcd", "kube-apiserver")


@dataclass(frozen=True)
class _Launch:
    """How one component is started and when it counts as up: reused as is by `restart`."""

    command: list[str]
    ready: Callable[[], bool]
    timeout: float
    what: str


def etcd_call(url: str, path: str, body: dict, context: ssl.SSLContext, timeout: float = 10.0) -> dict:
    """One call to etcd's JSON gateway (`/v3/...`); raises `ControlPlaneError` when it fails."""
    request = urllib.request.Request(f"{url}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=timeout) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise ControlPlaneError(f"etcd {path} failed: {err}") from None


class LocalControlPlane:
    """A local Kubernetes control plane; see the module docstring."""

    def __init__(self, *, root: Path | None = None, bin_dir: Path | None = None,
                 version: str = KUBERNETES_VERSION, detached: bool = False,
                 etcd_port: int | None = None, apiserver_port: int | None = None,
                 ready_timeout: float = READY_TIMEOUT, audit: bool = False,
                 progress: Callable[[str], None] = stderr_progress) -> None:
        self._root_arg = root
        self._bin_dir_arg = bin_dir
        self._version = version
        self._detached = detached
        self._etcd_port = etcd_port
        self._apiserver_port = apiserver_port
        self._ready_timeout = ready_timeout
        self._progress = progress
        self._audit = audit
        self._launches: dict[str, _Launch] = {}
        self._layout: flags.Layout | None = None
        self._client_ca: certs.KeyPair | None = None
        self._started: list[tuple[processes.Component, subprocess.Popen]] = []
        self.startup_seconds: float | None = None

    # -- public surface -------------------------------------------------------------------

    @property
    def layout(self) -> flags.Layout:
        if self._layout is None:
            raise ControlPlaneError("the local control plane has not been started")
        return self._layout

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (CN=admin, O=system:masters)."""
        return self.layout.kubeconfig

    @property
    def server(self) -> str:
        return self.layout.server

    @property
    def components(self) -> list[processes.Component]:
        return [component for component, _ in self._started]

    @property
    def audit_log(self) -> Path:
        """kube-apiserver's audit log (JSON lines); only written when started with `audit=True`."""
        if not self._audit:
            raise ControlPlaneError("this control plane was started without audit=True: it writes no audit log")
        return self.layout.audit_log

    def start(self) -> LocalControlPlane:
        began = time.monotonic()
        bin_dir = self._binaries()
        self._check_requested_ports()
        root = Path(tempfile.mkdtemp(prefix="orkestra-cp-")) if self._root_arg is None else self._root_arg
        private_dir(root)
        self._layout = layout = self._choose_ports(bin_dir, root)
        self._write_certs(layout)
        if not self._detached:
            atexit.register(self.stop)
        try:
            self._start_etcd(layout)
            self._start_apiserver(layout)
            self._start_controller_manager(layout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        self._progress(f"control plane ready at {layout.server} in {self.startup_seconds:.1f}s "
                       f"(kubeconfig {layout.kubeconfig})")
        return self

    def stop(self) -> None:
        """Stop every process by PID, newest first; remove the temp dir if this object made it."""
        while self._started:
            component, proc = self._started.pop()
            processes.stop(component, proc=proc)
        if self._root_arg is None and self._layout is not None:
            shutil.rmtree(self._layout.root, ignore_errors=True)
            self._layout = None
        atexit.unregister(self.stop)

    def check(self) -> None:
        """Raise `ControlPlaneError` naming the first component that has exited (with its log tail)."""
        for component, proc in self._started:
            if proc.poll() is not None:
                raise ControlPlaneError(f"{component.name} (pid {component.pid}) exited with code {proc.returncode}; "
                                        f"the local control plane is broken, the last lines of its log follow",
                                        processes.tail(component.log))

    def restart(self, name: str) -> float:
        """SIGKILL `name` ("etcd" or "kube-apiserver"), start it again with the same command line,
        and wait until it and the API server are ready again.

        Returns the seconds from the kill until the API server answered /readyz 200 again.
        """
        index = self._restartable_index(name)
        component, proc = self._started[index]
        killed_at = time.monotonic()
        proc.kill()
        proc.wait()
        log.debug("killed %s", name, extra={"pid": component.pid, "component": name})
        launch = self._launches[name]
        started = processes.spawn(name, launch.command, component.log, detached=self._detached)
        self._started[index] = started
        self._wait(started, launch.ready, launch.timeout, launch.what)
        self._wait_apiserver_ready()
        return time.monotonic() - killed_at

    def recover(self) -> list[str]:
        """Start again whichever of etcd and kube-apiserver is no longer running (a fault test that
        failed between a kill and its restart), then wait for the API server to be ready, so one
        failed fault test cannot break the control plane for the tests after it.

        Returns the names started again (empty when all was well)."""
        dead = [name for name in RESTARTABLE if self._started[self._restartable_index(name)][1].poll() is not None]
        for name in dead:
            self.restart(name)
        self._wait_apiserver_ready()
        return dead

    def compact_etcd(self) -> int:
        """Compact etcd's history up to its current revision (what kube-apiserver does every
        5 minutes), so a watch from an older resourceVersion can only be answered with 410.
        Returns the revision compacted to."""
        layout = self.layout
        context = admin_ssl_context(layout.cert("etcd-ca.crt"), layout.cert("apiserver-etcd-client.crt"),
                                    layout.cert("apiserver-etcd-client.key"))
        revision = etcd_call(layout.etcd_url, "/v3/kv/range", {"key": "AA=="}, context)["header"]["revision"]
        etcd_call(layout.etcd_url, "/v3/kv/compaction", {"revision": revision, "physical": True}, context)
        return int(revision)

    def _restartable_index(self, name: str) -> int:
        if name not in RESTARTABLE:
            raise ControlPlaneError(f"cannot restart {name!r}: only {' and '.join(RESTARTABLE)} can be restarted")
        for index, (component, _) in enumerate(self._started):
            if component.name == name:
                return index
        raise ControlPlaneError(f"cannot restart {name}: the local control plane has not started it")

    def add_user(self, name: str, groups: tuple[str, ...] | list[str] = ()) -> Path:
        """Write and return a kubeconfig for a non-admin user (client cert signed by the client CA).

        The user starts with no permissions beyond what RBAC grants every authenticated user.
        """
        if self._client_ca is None:
            raise ControlPlaneError("add_user needs a started local control plane")
        pair = certs.make_client_cert(self._client_ca, name, tuple(groups))
        path = private_dir(self.layout.root / "users") / f"{name}.kubeconfig"
        return write_private(path, client_kubeconfig(server=self.server,
                                                     ca_pem=self.layout.cert("serving-ca.crt").read_bytes(),
                                                     user=name, cert_pem=pair.cert_pem, key_pem=pair.key_pem))

    def __enter__(self) -> LocalControlPlane:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- steps ----------------------------------------------------------------------------

    def _binaries(self) -> Path:
        if self._bin_dir_arg is None:
            return ensure_binaries(self._version, progress=self._progress)
        for name in BINARIES:
            path = self._bin_dir_arg / name
            if not path.is_file():
                raise ControlPlaneError(f"{name} binary not found at {path}: build the control plane with "
                                        f"`make controlplane` (python -m orkestra.testing.build)")
        return self._bin_dir_arg

    def _check_requested_ports(self) -> None:
        for port, who in ((self._etcd_port, "etcd"), (self._apiserver_port, "kube-apiserver")):
            if port is not None and port_in_use(port):
                raise ControlPlaneError(f"port {LOOPBACK}:{port} asked for {who} is already in use: "
                                        f"stop what listens there or leave the port unset to pick a free one")

    def _choose_ports(self, bin_dir: Path, root: Path) -> flags.Layout:
        etcd_client, etcd_peer, apiserver = free_ports(3)
        return flags.Layout(bin_dir=bin_dir, root=root,
                            etcd_client_port=self._etcd_port or etcd_client, etcd_peer_port=etcd_peer,
                            apiserver_port=self._apiserver_port or apiserver)

    def _write_certs(self, layout: flags.Layout) -> None:
        private_dir(layout.certs)
        serving_ca = certs.make_ca("orkestra-local-serving-ca")
        serving = certs.make_serving_cert(serving_ca)
        self._client_ca = client_ca = certs.make_ca("orkestra-local-client-ca")
        admin = certs.make_client_cert(client_ca, "admin", ("system:masters",))
        sa = certs.make_service_account_keys()
        etcd_ca = certs.make_ca("orkestra-local-etcd-ca")
        etcd = certs.make_serving_cert(etcd_ca, client_too=True)
        etcd_client = certs.make_client_cert(etcd_ca, "kube-apiserver-etcd-client")
        files = {
            "serving-ca.crt": serving_ca.cert_pem, "serving.crt": serving.cert_pem, "serving.key": serving.key_pem,
            "client-ca.crt": client_ca.cert_pem, "client-ca.key": client_ca.key_pem,
            "admin.crt": admin.cert_pem, "admin.key": admin.key_pem,
            "sa.pub": sa.public_pem, "sa.key": sa.private_pem,
            "etcd-ca.crt": etcd_ca.cert_pem, "etcd.crt": etcd.cert_pem, "etcd.key": etcd.key_pem,
            "apiserver-etcd-client.crt": etcd_client.cert_pem, "apiserver-etcd-client.key": etcd_client.key_pem,
        }
        for name, data in files.items():
            write_private(layout.cert(name), data)
        write_private(layout.kubeconfig, client_kubeconfig(server=layout.server, ca_pem=serving_ca.cert_pem,
                                                           user="admin", cert_pem=admin.cert_pem,
                                                           key_pem=admin.key_pem))

    def _spawn(self, name: str, command: list[str]) -> tuple[processes.Component, subprocess.Popen]:
        started = processes.spawn(name, command, self.layout.logs / f"{name}.log", detached=self._detached)
        self._started.append(started)
        log.debug("started %s", name, extra={"pid": started[0].pid, "component": name})
        return started

    def _wait(self, started: tuple[processes.Component, subprocess.Popen], ready: Callable[[], bool],
              timeout: float, what: str) -> None:
        component, proc = started
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                tail = processes.tail(component.log)
                raise ControlPlaneError(explain_death(component.name, tail), tail)
            if ready():
                return
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"{component.name} did not become {what} within {timeout:.0f}s; "
                                        f"the last lines of its log follow", processes.tail(component.log))
            time.sleep(_POLL)

    def _launch(self, name: str, launch: _Launch) -> None:
        self._launches[name] = launch
        self._wait(self._spawn(name, launch.command), launch.ready, launch.timeout, launch.what)

    def _apiserver_ready(self) -> bool:
        layout = self.layout
        context = admin_ssl_context(layout.cert("serving-ca.crt"), layout.cert("admin.crt"), layout.cert("admin.key"))
        return probe_readyz(layout.server, context)[0]

    def _wait_apiserver_ready(self) -> None:
        index = self._restartable_index("kube-apiserver")
        self._wait(self._started[index], self._apiserver_ready, self._ready_timeout, "ready (/readyz)")

    def _start_etcd(self, layout: flags.Layout) -> None:
        self._progress(f"starting etcd on {layout.etcd_url}")
        context = admin_ssl_context(layout.cert("etcd-ca.crt"), layout.cert("apiserver-etcd-client.crt"),
                                    layout.cert("apiserver-etcd-client.key"))
        self._launch("etcd", _Launch(flags.etcd_command(layout), lambda: probe_etcd(layout.etcd_url, context),
                                     ETCD_TIMEOUT, "healthy"))

    def _start_apiserver(self, layout: flags.Layout) -> None:
        self._progress(f"starting kube-apiserver on {layout.server} (waiting for /readyz)")
        if self._audit:
            write_private(layout.audit_policy, flags.AUDIT_POLICY)
        command = flags.apiserver_command(layout, has_default_route=flags.has_default_route(_route_table()),
                                          audit=self._audit)
        self._launch("kube-apiserver", _Launch(command, self._apiserver_ready, self._ready_timeout,
                                               "ready (/readyz)"))

    def _start_controller_manager(self, layout: flags.Layout) -> None:
        self._progress("starting kube-controller-manager (garbage collector, namespace controller)")
        manager = self._spawn("kube-controller-manager", flags.controller_manager_command(layout))
        settle_until = time.monotonic() + CONTROLLER_MANAGER_SETTLE
        self._wait(manager, lambda: time.monotonic() >= settle_until, CONTROLLER_MANAGER_SETTLE + 5, "settled")
