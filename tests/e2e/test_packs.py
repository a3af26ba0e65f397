"""Every pack example on the real local control plane, as its README runs it (docs/packs.md).

For each example: `ork init` unpacks it, `kubectl apply -f crd.yaml`, `ork run` on its
katalog.yaml, `kubectl apply -f cr.yaml`, then the example's expect.yaml is checked: CR Ready
conditions, status and fields, children, Events, `/katalog/<crd>/health` states, metrics and log
lines, and the `steps` (a kubectl command, then what must follow). Examples run one after the
other on the session's one control plane, each cleaned up before the next (CRs deleted while
`ork run` still runs, so finalizers are honoured; then the CRDs). Pods never run here: no
expectation depends on them.

`ork run` runs as the `orkestra` ServiceAccount of the pack's own `ork generate bundle` (a
TokenRequest token, nothing else granted), as a cluster install runs it: every pack working, with
no 401/403 in the runtime's log, is the proof that the generated RBAC is enough (issue 14, "Least
privilege, proven"; docs/rbac.md). kubectl keeps the admin identity, as a user's would.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from orkestra import packs
from orkestra.conditions.paths import MISSING, lookup
from tests.e2e.ork_runtime import OrkProcess, ork_runtime  # noqa: F401
from tests.e2e.rbac_identity import assert_never_refused, bundle_identity, remove_identity
from tests.e2e.webhook_helpers import drop_webhook_configurations

EXAMPLES = [f"{p.name}/{e}" for p in packs.index() for e in p.examples]
TIMEOUT = 45.0
_ORK = str(Path(sys.executable).with_name("ork"))
Kubectl = Callable[..., subprocess.CompletedProcess]


def eventually(check: Callable[[], str | None], what: str, ork: OrkProcess, timeout: float = TIMEOUT) -> None:
    """Poll `check` (None = satisfied, else the reason it is not) until it holds; fail with the reason."""
    deadline = time.monotonic() + timeout
    while True:
        reason = check()
        if reason is None:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: {reason} (after {timeout}s)\n--- ork run log tail ---\n{ork.log_tail(30)}",
                        pytrace=False)
        time.sleep(0.5)


def resource(api_version: str, kind: str) -> str:
    """kubectl's fully qualified `Kind.version.group` (plain `Kind` for the core group)."""
    group, _, version = api_version.rpartition("/")
    return f"{kind}.{version}.{group}" if group else kind


def get(kubectl: Kubectl, spec: dict) -> dict | None:
    namespace = spec.get("namespace", "default")
    args = ["get", resource(spec["apiVersion"], spec["kind"]), spec["name"], "-o", "json"]
    proc = kubectl(*args, *(["-n", namespace] if namespace else []), check=False)
    if proc.returncode != 0:
        if "NotFound" in proc.stderr:
            return None
        raise AssertionError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def _field_mismatch(obj: dict, fields: dict, prefix: str = "") -> str | None:
    for path, want in fields.items():
        got = lookup(obj, path)
        if got is MISSING or got != want:
            return f"{prefix}{path} is {'absent' if got is MISSING else repr(got)}, want {want!r}"
    return None


def object_problem(kubectl: Kubectl, spec: dict) -> str | None:
    label = f"{spec['kind']} {spec.get('namespace', 'default')}/{spec['name']}"
    obj = get(kubectl, spec)
    if spec.get("absent"):
        return None if obj is None else f"{label} exists"
    if obj is None:
        return f"{label} not found"
    for path in spec.get("present", ()):
        if lookup(obj, path) in (MISSING, None, ""):
            return f"{label}: {path} is not set"
    problem = _field_mismatch(obj, spec.get("fields", {}))
    if problem is None and "status" in spec:
        problem = _field_mismatch(obj.get("status") or {}, spec["status"], "status.")
    if problem is None and "ready" in spec:
        ready = next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), {})
        got = (ready.get("status"), ready.get("reason"))
        if got != (spec["ready"], spec.get("reason", got[1])):
            problem = f"Ready is {got[0]}/{got[1]}, want {spec['ready']}/{spec.get('reason', 'any reason')}"
    return None if problem is None else f"{label}: {problem}"


def katalog_problem(ork: OrkProcess, states: dict) -> str | None:
    for crd, want in states.items():
        status, body = ork.get(f"/katalog/{crd}/health")
        got = body.get("state") if isinstance(body, dict) else f"HTTP {status}"
        if got != want:
            return f"/katalog/{crd}/health state is {got!r}, want {want!r}"
    return None


def event_problem(kubectl: Kubectl, spec: dict) -> str | None:
    items = json.loads(kubectl("get", "events", "-A", "-o", "json").stdout)["items"]
    if any(e["involvedObject"].get("name") == spec["name"] and e.get("type") == spec["type"]
           and e.get("reason") == spec["reason"] for e in items):
        return None
    return f"no {spec['type']} Event {spec['reason']} for {spec['name']}"


def metric_problem(ork: OrkProcess, series: str) -> str | None:
    _, text = ork.get("/metrics")
    for line in str(text).splitlines():
        if line.startswith(series[:-1]) and series.endswith("}"):
            value = float(line.rsplit(" ", 1)[1])
            return None if value > 0 else f"{line} is not above 0"
    return f"no series {series} in /metrics"


def check_block(block: dict, kubectl: Kubectl, ork: OrkProcess) -> None:
    """Wait until everything one expect block (the top level, or a step) states holds."""
    for spec in block.get("crs", []) + block.get("objects", []):
        eventually(lambda: object_problem(kubectl, spec), f"{spec['kind']} {spec['name']}", ork)
    if "katalog" in block:
        eventually(lambda: katalog_problem(ork, block["katalog"]), "CRD states", ork)
    for spec in block.get("events", []):
        eventually(lambda: event_problem(kubectl, spec), "Event", ork)
    for series in block.get("metrics", []):
        eventually(lambda: metric_problem(ork, series), "metric", ork)


def run_step(step: dict, directory: Path, kubectl: Kubectl, ork: OrkProcess) -> None:
    """Run the step's kubectl command (file arguments are the example's, as in its README), then
    wait for what the step expects."""
    wanted_error = step.get("fails_with")
    args = [str(directory / a) if (directory / a).is_file() else a for a in step["kubectl"]]

    def attempt() -> str | None:
        proc = kubectl(*args, check=False)
        if wanted_error is None:
            if proc.returncode != 0:
                return f"kubectl failed: {proc.stderr.strip()}"
            if step.get("stderr_has") and step["stderr_has"] not in proc.stderr:
                return f"stderr has no {step['stderr_has']!r}: {proc.stderr.strip()!r}"
            return None
        return None if proc.returncode != 0 and wanted_error in proc.stderr else \
            f"exit {proc.returncode}, stderr {proc.stderr.strip()!r}"

    eventually(attempt, f"step {step['say']!r}: kubectl {' '.join(step['kubectl'])}", ork, timeout=20)
    check_block(step, kubectl, ork)


def wait_ready_to_admit(expect: dict, kube: Any, kubectl: Kubectl, ork: OrkProcess) -> None:
    from tests.e2e.webhook_helpers import MUTATING, VALIDATING
    for name in expect.get("wait_for_webhooks", []):
        gvr = MUTATING if name == "orkestra-mutation" else VALIDATING
        eventually(lambda: None if kube.get(gvr, name) else f"{name} not registered", "webhooks", ork)
    if "wait_for_crd_conversion" in expect:
        crd = expect["wait_for_crd_conversion"]
        eventually(lambda: None if kubectl("get", "crd", crd, "-o", "jsonpath={.spec.conversion.strategy}").stdout
                   == "Webhook" else "conversion strategy is not Webhook yet", "conversion webhook", ork)
    if expect.get("wait_for_webhooks") or "wait_for_crd_conversion" in expect:
        time.sleep(2)   # the API server picks up new webhook configurations asynchronously


def check_logs(expect: dict, ork: OrkProcess) -> None:
    lines = ork.log_lines()
    if "log_has" in expect:
        want = expect["log_has"]
        matching = [ln for ln in lines if ln.get("message") == want["message"]]
        assert matching, f"no log line {want['message']!r}"
        assert {ln.get("crd") for ln in matching} == {want["crd"]}, matching[:3]
    if "log_order" in expect:
        want = expect["log_order"]
        seen: list[str] = []
        for ln in lines:
            value = ln.get(want["field"])
            if ln.get("message") == want["message"] and value not in seen:
                seen.append(value)
        assert seen == want["values"]


def crd_names(directory: Path) -> list[str]:
    return [d["metadata"]["name"] for f in directory.glob("*crd.yaml") for d in yaml.safe_load_all(f.read_text())
            if d["kind"] == "CustomResourceDefinition"]


LEFTOVER_KINDS = ("configmaps,secrets,services,deployments,statefulsets,jobs,cronjobs,persistentvolumeclaims,"
                  "serviceaccounts,ingresses,networkpolicies,roles,rolebindings,clusterroles,clusterrolebindings,"
                  "namespaces")


def clean_up(directory: Path, kubectl: Kubectl, kube: Any, ork: OrkProcess) -> None:
    """Delete the CRs while ork run still handles their finalizers, then stop it and drop the rest.

    A file whose delete is refused (deletion protection) is not waited for: it cannot go while
    ork runs, and the finalizer pass below removes it once ork has stopped.
    """
    cr_files = [str(f) for f in sorted(directory.glob("*cr.yaml"))]
    deleting = [f for f in cr_files
                if kubectl("delete", "-f", f, "--ignore-not-found", "--wait=false", check=False).returncode == 0]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(
            kubectl("get", "-f", f, "--ignore-not-found", "-o", "name", check=False).stdout.strip() for f in deleting):
        time.sleep(0.5)
    ork.stop(timeout=30)
    drop_webhook_configurations(kube)
    for f in cr_files:   # whatever protection or a stopped runtime left behind
        for name in kubectl("get", "-f", f, "--ignore-not-found", "-o", "name", check=False).stdout.split():
            kubectl("patch", name, "--type", "merge", "-p", '{"metadata":{"finalizers":null}}', check=False)
        kubectl("delete", "-f", f, "--ignore-not-found", "--wait=false", check=False)
    for f in sorted(directory.glob("*crd.yaml")):
        kubectl("delete", "-f", str(f), "--ignore-not-found", "--wait=false", check=False)
    for name in crd_names(directory):
        kubectl("wait", "--for=delete", f"crd/{name}", "--timeout=30s", check=False)
    # Children whose owner is gone wait for the garbage collector, which can lag well behind; the
    # next example must not meet them (Orkestra rightly refuses a child another CR controls).
    kubectl("delete", LEFTOVER_KINDS, "-A", "-l", "app.kubernetes.io/managed-by=orkestra", "--wait=true",
            "--timeout=60s", check=False)


@pytest.mark.parametrize("name", EXAMPLES)
def test_pack_example(name, tmp_path, control_plane, ork_runtime, kubectl, kube):  # noqa: F811 - the fixture
    directory = tmp_path / name.split("/")[1]
    unpacked = subprocess.run([_ORK, "init", str(directory), "--pack", name], capture_output=True, text=True)
    assert unpacked.returncode == 0, unpacked.stderr
    validated = subprocess.run([_ORK, "validate"], cwd=directory, capture_output=True, text=True)
    assert validated.returncode == 0 and "warning" not in validated.stdout.lower(), validated.stdout
    expect = yaml.safe_load(packs.example_dir(*name.split("/")).joinpath("expect.yaml").read_text())

    kubectl("apply", "-f", str(directory / "crd.yaml"))
    for crd in crd_names(directory):
        if crd in (directory / "crd.yaml").read_text():
            kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=30s")
    identity = bundle_identity(kubectl, control_plane, directory / "katalog.yaml", tmp_path)
    ork = ork_runtime(directory / "katalog.yaml", env={**identity.env(), **expect.get("env", {})},
                      leader_election=bool(expect.get("leader_election")), kubeconfig=False,
                      extra_args=identity.args())
    try:
        wait_ready_to_admit(expect, kube, kubectl, ork)
        applied = kubectl("apply", "-f", str(directory / "cr.yaml"), check=False)
        if "apply_fails_with" in expect:
            assert applied.returncode != 0 and expect["apply_fails_with"] in applied.stderr, applied.stderr
        else:
            assert applied.returncode == 0, applied.stderr
        check_block(expect, kubectl, ork)
        check_logs(expect, ork)
        for step in expect.get("steps", []):
            run_step(step, directory, kubectl, ork)
        assert ork.alive(), "ork run exited"
        assert_never_refused(name, ork.logs())
    finally:
        clean_up(directory, kubectl, kube, ork)
        remove_identity(kubectl, identity)
