"""Shared pieces of the fault tests (tests/e2e/test_faults_*.py): a burst of CR writes that keeps
going through an outage, the "every CR converged, nothing lost" check, a /health watcher, and
the figures each test prints for the notes (`report`).
"""
from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from orkestra.gvk import GVR
from orkestra.kube.errors import ApiError
from orkestra.testing import LocalControlPlane
from orkestra.testing.audit import AuditEvent, parse_time, read_audit_log
from tests.e2e.ork_runtime import E2E_GROUP, OrkProcess

CONFIGMAPS = GVR("", "v1", "configmaps")


def retrying(call: Callable[[], Any], *, timeout: float = 120.0) -> int:
    """Run `call` until it succeeds (a 409 on create counts: an earlier try went through);
    returns how many tries failed. Connection errors, 5xx and 429 are what an outage looks like."""
    failures = 0
    deadline = time.monotonic() + timeout
    while True:
        try:
            call()
            return failures
        except ApiError as err:
            if err.status == 409:
                return failures
            if err.status not in (0, 429) and err.status < 500 or time.monotonic() > deadline:
                raise
        failures += 1
        time.sleep(0.2)


@dataclass
class Burst:
    """`count` CRs created, then each updated once, from a background thread, through any outage.

    CR `cr-<i>` ends with `.spec.value == "v2-<i>"`; `halfway` is set when half are created, the
    moment the tests inject their fault.
    """

    kube: Any
    kind: str
    plural: str
    namespace: str
    count: int
    halfway: threading.Event = field(default_factory=threading.Event)
    failed_tries: int = 0
    error: BaseException | None = None
    seconds: float = 0.0

    def __post_init__(self) -> None:
        self._gvr = GVR(E2E_GROUP, "v1", self.plural)
        self._thread = threading.Thread(target=self._run, name="burst", daemon=True)

    def start(self) -> Burst:
        self._thread.start()
        return self

    def join(self, timeout: float = 180.0) -> None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            pytest.fail(f"the burst of {self.count} CRs did not finish within {timeout:.0f}s")
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        began = time.monotonic()
        try:
            for i in range(self.count):
                body = {"apiVersion": f"{E2E_GROUP}/v1", "kind": self.kind,
                        "metadata": {"name": f"cr-{i}"}, "spec": {"value": f"v1-{i}"}}
                self.failed_tries += retrying(lambda: self.kube.create(self._gvr, body, self.namespace))
                if i + 1 == self.count // 2:
                    self.halfway.set()
            for i in range(self.count):
                patch = {"spec": {"value": f"v2-{i}"}}
                self.failed_tries += retrying(lambda: self.kube.patch(self._gvr, f"cr-{i}", patch, self.namespace))
        except BaseException as err:  # reported by join() on the test's thread
            self.error = err
        finally:
            self.halfway.set()
            self.seconds = time.monotonic() - began

    def not_converged(self) -> list[str]:
        """Names of CRs whose ConfigMap does not (yet) hold the final value."""
        items, _ = self.kube.list(CONFIGMAPS, self.namespace)
        values = {cm["metadata"]["name"]: (cm.get("data") or {}).get("value") for cm in items}
        return [f"cr-{i}" for i in range(self.count) if values.get(f"cr-{i}-config") != f"v2-{i}"]

    def wait_converged(self, timeout: float) -> float:
        """Seconds until every CR converged; fails naming the CRs lost when `timeout` runs out."""
        began = time.monotonic()
        while True:
            try:
                missing = self.not_converged()
            except ApiError:
                missing = ["(list failed)"]
            if not missing:
                return time.monotonic() - began
            if time.monotonic() - began > timeout:
                pytest.fail(f"{len(missing)} of {self.count} CRs not converged after {timeout:.0f}s "
                            f"(lost): {missing[:10]}")
            time.sleep(0.5)


class HealthWatch:
    """Polls `/health` of an `ork run` every 0.2 s in the background; remembers every non-200."""

    def __init__(self, ork: OrkProcess) -> None:
        self.ork = ork
        self.bad: list[tuple[float, int, Any]] = []
        self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="health-watch", daemon=True)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            status, body = self.ork.get("/health", timeout=5)
            self.polls += 1
            if status != 200:
                self.bad.append((time.monotonic(), status, body))
            self._stop.wait(0.2)


def time_until(predicate: Callable[[], Any], timeout: float, message: str, interval: float = 0.1) -> float:
    """Seconds until `predicate` is truthy (API errors count as not yet); fails after `timeout`."""
    began = time.monotonic()
    while True:
        try:
            if predicate():
                return time.monotonic() - began
        except ApiError:
            pass
        if time.monotonic() - began > timeout:
            pytest.fail(f"timed out after {timeout:.0f}s: {message}")
        time.sleep(interval)


@pytest.fixture
def local_cp(control_plane: Any) -> Iterator[LocalControlPlane]:
    """The session's control plane, which must be the local one: fault tests restart its
    processes, put proxies in front of it and read its audit log. Afterwards, whatever a failed
    test left stopped is started again, and the teardown fails if the control plane is broken."""
    if not isinstance(control_plane, LocalControlPlane):
        pytest.fail("the fault tests need the local control plane (they restart its processes and read its "
                    "audit log), not ORK_E2E_KUBECONFIG or kind", pytrace=False)
    yield control_plane
    restarted = control_plane.recover()
    control_plane.check()
    if restarted:
        pytest.fail(f"the test left {' and '.join(restarted)} stopped (started again for the next tests)",
                    pytrace=False)


@pytest.fixture
def report(request: pytest.FixtureRequest, capsys: pytest.CaptureFixture):
    """`report(**figures)`: print the test's measured figures (shown without -s) for the notes."""
    def emit(**figures: Any) -> None:
        text = ", ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
        request.node.user_properties.extend(figures.items())
        with capsys.disabled():
            print(f"\n[faults] {request.node.name}: {text}")
    return emit


def runtime_user(control_plane: Any, name: str) -> Any:
    """A kubeconfig for a runtime replica with its own user name (all rights, through
    system:masters), so the audit log tells the replicas apart."""
    return control_plane.add_user(name, groups=("system:masters",))


def audited_writes(control_plane: Any, namespace: str, resources: set[str] | None = None) -> list[AuditEvent]:
    """Successful writes to `resources` (None: to anything) in `namespace`, in the order the API
    server logged them."""
    return [e for e in read_audit_log(control_plane.audit_log)
            if e.is_write and e.succeeded and e.namespace == namespace
            and (resources is None or e.resource in resources)]


def log_time(ork: OrkProcess, message: str) -> datetime.datetime | None:
    """When `ork` first logged `message` (its JSON `time`), None if it has not."""
    for line in ork.log_lines():
        if line.get("message") == message:
            return parse_time(line["time"])
    return None
