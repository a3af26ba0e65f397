"""Run `ork run` as the bundle's ServiceAccount: only the rules `ork generate bundle` grants.

`bundle_identity(kubectl, control_plane, katalog, workdir)` applies the Katalog's bundle
(runtime component) in a fresh namespace, asks the TokenRequest API for a token of the
`orkestra` ServiceAccount and writes a kubeconfig holding only that token. `drop=` removes one
rule (by index) from the ClusterRole or the Role first, for the rule-removal table
(docs/rbac.md). `forbidden_lines(log)` finds every 401/403 in a runtime log.

The bundle's ClusterRole and ClusterRoleBinding have fixed names (`orkestra`), so one identity
exists at a time: tests using it run one after the other (as the whole e2e tier does).
"""
from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from orkestra.testing.kubeconfig import read_cluster

_ORK = str(Path(sys.executable).with_name("ork"))
DOC = Path(__file__).resolve().parents[2] / "docs" / "rbac.md"
TABLE_HEADER = "| Rule | Without it | In the log | In `/katalog/website` |"
Kubectl = Callable[..., subprocess.CompletedProcess]
# What a denied request leaves in a log: the API error (`<verb> <resource>: 403 Forbidden: ...`),
# the API server's own sentence, or the reflector's `forbidden: cannot watch ...`.
FORBIDDEN = re.compile(r"\b40[13] (Forbidden|Unauthorized)\b|is forbidden: User|forbidden: cannot \w+ ")
# The ownerReference plugin's refusal while it cannot map a kind whose CRD is moments old, exactly
# as the API server words it (`<resource> "<name>" is forbidden: cannot set ...`, after the
# runtime's `403 Forbidden: `): only that sentence is set apart, never a whole line, so a real
# denial reported in the same line (one `apply failed:` lists several children) still counts.
UNMAPPED = re.compile(r'(?:\b403 Forbidden: )?[\w.-]+ \\?"[\w.-]*\\?" is forbidden: '
                      r"cannot set blockOwnerDeletion in this case because cannot find RESTMapping")


@dataclass
class Identity:
    namespace: str
    kubeconfig: Path
    docs: list[dict]

    def env(self) -> dict[str, str]:
        """What the chart sets: Orkestra's own namespace (Lease, TLS Secret) from the downward API."""
        return {"NAMESPACE": self.namespace, "POD_NAME": "orkestra-runtime-0"}

    def args(self) -> tuple[str, ...]:
        return ("--kubeconfig", str(self.kubeconfig))


def generate_bundle(katalog: Path, namespace: str) -> list[dict]:
    """`ork generate bundle --for runtime`: the documents a cluster install applies."""
    out = subprocess.run([_ORK, "generate", "bundle", "-f", str(katalog), "-n", namespace, "--for", "runtime"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def role(docs: list[dict], kind: str, name: str = "orkestra") -> dict | None:
    return next((d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name), None)


def bundle_identity(kubectl: Kubectl, control_plane, katalog: Path, workdir: Path, *,
                    drop: tuple[str, int] | None = None) -> Identity:
    """Apply the bundle (minus the rule `drop` = (kind, index), if given) and a token kubeconfig."""
    namespace = f"ork-rbac-{uuid.uuid4().hex[:6]}"
    docs = generate_bundle(katalog, namespace)
    if drop is not None:
        kind, index = drop
        holder = role(docs, kind)
        assert holder is not None, f"the bundle has no {kind} orkestra"
        del holder["rules"][index]
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
    wait_authorized(Path(control_plane.kubeconfig), namespace, docs)
    token = kubectl("create", "token", "orkestra", "-n", namespace, "--duration=1h").stdout.strip()
    server, ca = read_cluster(Path(control_plane.kubeconfig))
    (workdir / "ca.crt").write_bytes(ca)
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "orkestra",
              "clusters": [{"name": "local", "cluster": {"server": server,
                                                         "certificate-authority": str(workdir / "ca.crt")}}],
              "users": [{"name": "orkestra", "user": {"token": token}}],
              "contexts": [{"name": "orkestra", "context": {"cluster": "local", "user": "orkestra"}}]}
    path = workdir / f"{namespace}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return Identity(namespace, path, docs)


def wait_authorized(admin_kubeconfig: Path, namespace: str, docs: list[dict], timeout: float = 30.0) -> None:
    """Wait until the API server's authorizer grants every rule of the bundle to its ServiceAccount.

    The ClusterRole keeps its name from one test to the next while its rules change; on a loaded
    machine the authorizer's cache can lag the write by seconds, and a runtime started in that
    window would be refused what the bundle does grant.
    """
    import kubernetes

    user = f"system:serviceaccount:{namespace}:orkestra"
    reviews = []
    for kind, scope in (("ClusterRole", None), ("Role", namespace)):
        for rule in (role(docs, kind) or {}).get("rules", []):
            for group in rule.get("apiGroups", []):
                for resource in rule.get("resources", []):
                    plural, _, sub = resource.partition("/")
                    attrs = {"verb": rule["verbs"][0], "group": group, "resource": plural, "subresource": sub,
                             "name": (rule.get("resourceNames") or [""])[0], "namespace": scope or ""}
                    reviews.append({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                                    "spec": {"user": user, "groups": ["system:serviceaccounts", "system:authenticated"],
                                             "resourceAttributes": attrs}})
    with kubernetes.config.new_client_from_config(str(admin_kubeconfig)) as client:
        api = kubernetes.client.AuthorizationV1Api(client)
        deadline = time.monotonic() + timeout
        for review in reviews:
            while not api.create_subject_access_review(review).status.allowed:
                assert time.monotonic() < deadline, f"{user} is still refused {review['spec']['resourceAttributes']}"
                time.sleep(0.2)


def remove_identity(kubectl: Kubectl, identity: Identity) -> None:
    """Delete the bundle's objects (the namespace last, without waiting for it)."""
    docs = [d for d in identity.docs if d["kind"] != "Namespace"]
    kubectl("delete", "--ignore-not-found", "--wait=false", "-f", "-", input=yaml.safe_dump_all(docs), check=False)
    kubectl("delete", "namespace", identity.namespace, "--ignore-not-found", "--wait=false", check=False)


def forbidden_lines(log: str) -> list[str]:
    """The log lines that report a request the API server refused (401/403) for want of a permission.

    Not counted: the sentence of the API server's ownerReference admission plugin while it cannot
    yet map a kind whose CRD was created moments ago (`cannot find RESTMapping`): the bundle grants
    what it checks, and the runtime's retry succeeds once the kind is mapped. Only that sentence
    is taken out of a line before it is searched; `unmapped_lines` counts the lines that hold it.
    """
    return [line for line in log.splitlines() if FORBIDDEN.search(UNMAPPED.sub("", line))]


def unmapped_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if UNMAPPED.search(line)]


def assert_never_refused(label: str, log: str) -> None:
    """No 401/403 in the runtime log `log`, which must be this run's log: one that shows the
    runtime reached its API server, so that an empty or uncaptured log cannot pass."""
    assert "api server reachable" in log, f"{label}: the runtime's log was not captured:\n{log[-2000:]}"
    denied, unmapped = forbidden_lines(log), unmapped_lines(log)
    print(f"{label}: 403s {len(denied)}, unmapped-kind 403s {len(unmapped)}")
    assert not denied, "the bundle's ServiceAccount was refused:\n" + "\n".join(denied)


def names_denial(text: str, verbs: list[str] | tuple[str, ...], resource: str) -> bool:
    """Does `text` report a denial of `resource` for one of `verbs`?

    Accepts the API server's sentence (`cannot patch resource "websites/status"`) and the
    reflector's (`forbidden: cannot watch websites in all namespaces`).
    """
    text = text.replace('\\"', '"')   # a JSON log line escapes the server's quotes
    if not FORBIDDEN.search(text):
        return False
    verb = "|".join(re.escape(v) for v in verbs)
    return bool(re.search(rf'cannot ({verb}) (resource "{re.escape(resource)}"|{re.escape(resource)} in )', text))


def release_all(kubectl: Kubectl, resource: str, namespace: str) -> None:
    """Delete every CR of `resource` in `namespace` once no runtime runs: finalizers patched off."""
    names = kubectl("get", resource, "-n", namespace, "-o", "name", check=False).stdout.split()
    for name in names:
        kubectl("patch", name, "-n", namespace, "--type", "merge", "-p", '{"metadata":{"finalizers":null}}',
                check=False)
    kubectl("delete", resource, "--all", "-n", namespace, "--wait=false", check=False)


def case_id(kind: str, rule: dict) -> str:
    """`ClusterRole:websites/status:get,update,patch`, `Role:leases(orkestra-konductor):get,...`."""
    names = ",".join(rule.get("resourceNames", ()))
    return f"{kind}:{'/'.join(rule['resources'])}{'(' + names + ')' if names else ''}:{','.join(rule['verbs'])}"


def rbac_table(path: Path = DOC) -> dict[str, dict[str, str]]:
    """The removal table of docs/rbac.md: case id -> {"without", "log", "katalog"} (backticks off
    the first and last cells, which tests compare with `case_id` and the place the runtime shows)."""
    lines = path.read_text().splitlines()
    start = lines.index(TABLE_HEADER) + 2
    rows: dict[str, dict[str, str]] = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        assert len(cells) == 4, f"docs/rbac.md: a removal-table row needs 4 cells: {line}"
        rows[cells[0].strip("`")] = {"without": cells[1], "log": cells[2], "katalog": cells[3].strip("`")}
    return rows
