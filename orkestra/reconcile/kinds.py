"""How each of the 17 resource template types builds its object (docs/katalog.md#keys-per-type–7.3).

One row per type adds to the type's facts (kind, suffix, required fields: the Katalog layer's
`TEMPLATE_KINDS`) which fields are integers, booleans or strings, and a small `build` function
that turns the *rendered* entry fields into the object's body. Everything the types share (template rendering, conditions,
forEach, names, namespaces, labels, ownership) lives once in `orkestra.reconcile.render`.
`custom` has no fixed kind: its apiVersion/kind come from the entry and its scope from discovery.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Callable

from orkestra.katalog.template_kinds import TEMPLATE_KINDS, TemplateKind
from orkestra.reconcile.errors import RenderError
from orkestra.reconcile.naming import (LABEL_APP_INSTANCE, LABEL_APP_NAME, LABEL_CRD, LABEL_OWNER,
                                       cut_name)
from orkestra.template.values import to_text

# Selector fields where a literal `{}` means "every pod" and only an absent key gets the default.
SELECTOR_FIELDS = frozenset({"podSelector", "selector"})
# Entry keys that steer rendering and never reach a manifest.
CONTROL_KEYS = frozenset({"name", "namespace", "labels", "annotations", "reconcile", "action", "once",
                          "when", "anyOf", "or", "forEach"})


@dataclass(frozen=True)
class BuildContext:
    """What a builder may read besides the rendered fields."""

    cr: dict
    crd_key: str
    name: str                  # the child's name (also the workload name)
    namespace: str | None      # the child's namespace (None for cluster-scoped children)
    path: str                  # `spec.crds.<key>.operatorBox.<phase>.<type>[i]`, for error messages


@dataclass(frozen=True)
class KindSpec:
    type: str
    build: Callable[[dict, BuildContext], dict]
    int_fields: frozenset[str] = field(default_factory=frozenset)
    bool_fields: frozenset[str] = field(default_factory=frozenset)
    create_only: bool = False               # jobs: never updated

    @property
    def facts(self) -> TemplateKind:
        return TEMPLATE_KINDS[self.type]

    @property
    def kind(self) -> str:
        return self.facts.kind

    @property
    def api_version(self) -> str:
        return self.facts.api_version

    @property
    def namespaced(self) -> bool:
        return self.facts.namespaced

    @property
    def suffix(self) -> str:
        return self.facts.suffix


def _put(target: dict, key: str, value) -> None:
    if value is not None and value != "" and value != [] and value != {}:
        target[key] = value


def _named(names) -> list[dict]:
    return [{"name": str(n)} for n in names or []]


def selector_labels(ctx: BuildContext) -> dict[str, str]:
    """Default Service selector and NetworkPolicy podSelector."""
    return {LABEL_CRD: ctx.crd_key, LABEL_APP_INSTANCE: cut_name(ctx.cr["metadata"]["name"])}


def workload_selector(ctx: BuildContext) -> dict[str, str]:
    return {LABEL_APP_NAME: ctx.name, LABEL_APP_INSTANCE: cut_name(ctx.cr["metadata"]["name"])}


def as_text(value) -> str:
    """A rendered value in a string field, printed as docs/katalog.md#templates says (maps and lists as JSON)."""
    return to_text(value)


def _texts(values) -> list[str] | None:
    """A typed list of strings (`command`, `args`): native numbers and booleans become text."""
    return None if values is None else [as_text(v) for v in values]


def text_map(values) -> dict[str, str]:
    """A typed map of strings (labels, annotations, `nodeSelector`)."""
    return {str(k): as_text(v) for k, v in (values or {}).items()}


def require(f: dict, key: str, ctx: BuildContext):
    """A required field after rendering; empty is a reconcile error naming the field and the CR."""
    value = f.get(key)
    if value is None or value == "":
        meta = ctx.cr["metadata"]
        who = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
        raise RenderError(f"{ctx.path}.{key}: required, but rendered empty for {ctx.cr.get('kind')} {who}")
    return value


def _env(env) -> list[dict]:
    if isinstance(env, dict):
        return [{"name": str(k), "value": as_text(v)} for k, v in env.items()]
    return [{**e, "value": as_text(e["value"])} if isinstance(e, dict) and "value" in e else e for e in env or []]


def _env_from(env_from) -> list[dict]:
    out = []
    for ref_key in ("configMapRef", "secretRef"):
        out += [{ref_key: {"name": str(n)}} for n in (env_from or {}).get(ref_key) or []]
    return out


_PROBES = {"liveness": "livenessProbe", "readiness": "readinessProbe", "startup": "startupProbe"}


def _container(f: dict, ctx: BuildContext) -> dict:
    c: dict = {"name": as_text(f.get("containerName") or ctx.name), "image": as_text(require(f, "image", ctx))}
    if f.get("port") is not None:
        c["ports"] = [{"containerPort": f["port"]}]
    _put(c, "command", _texts(f.get("command")))
    _put(c, "args", _texts(f.get("args")))
    for key in ("imagePullPolicy", "resources", "volumeMounts", "securityContext"):
        _put(c, key, f.get(key))
    _put(c, "env", _env(f.get("env")))
    _put(c, "envFrom", _env_from(f.get("envFrom")))
    for short, long in _PROBES.items():
        _put(c, long, (f.get("probes") or {}).get(short))
    return c


def _pod_spec(f: dict, ctx: BuildContext) -> dict:
    spec: dict = {"containers": [_container(f, ctx)]}
    _put(spec, "imagePullSecrets", _named(f.get("imagePullSecrets")))
    _put(spec, "nodeSelector", text_map(f.get("nodeSelector")))
    for key in ("serviceAccountName", "tolerations", "affinity", "volumes"):
        _put(spec, key, f.get(key))
    _put(spec, "securityContext", f.get("podSecurityContext"))
    return spec


def _pod_template(f: dict, ctx: BuildContext) -> dict:
    labels = {**workload_selector(ctx), LABEL_CRD: ctx.crd_key,
              LABEL_OWNER: cut_name(ctx.cr["metadata"]["name"])}
    labels.update(text_map(f.get("podLabels")))
    meta: dict = {"labels": labels}
    _put(meta, "annotations", text_map(f.get("podAnnotations")))
    return {"metadata": meta, "spec": _pod_spec(f, ctx)}


def _deployment(f: dict, ctx: BuildContext) -> dict:
    spec = {"replicas": f.get("replicas", 1), "selector": {"matchLabels": workload_selector(ctx)},
            "template": _pod_template(f, ctx)}
    _put(spec, "strategy", f.get("strategy"))
    return {"spec": spec}


def _statefulset(f: dict, ctx: BuildContext) -> dict:
    spec = {"replicas": f.get("replicas", 1), "serviceName": f.get("serviceName") or ctx.name,
            "selector": {"matchLabels": workload_selector(ctx)}, "template": _pod_template(f, ctx)}
    _put(spec, "volumeClaimTemplates", f.get("volumeClaimTemplates"))
    return {"spec": spec}


def _job_spec(f: dict, ctx: BuildContext) -> dict:
    template = _pod_template(f, ctx)
    template["spec"]["restartPolicy"] = f.get("restartPolicy") or "Never"
    spec = {"backoffLimit": f.get("backoffLimit", 3), "template": template}
    for key in ("ttlSecondsAfterFinished", "activeDeadlineSeconds"):
        _put(spec, key, f.get(key))
    return spec


def _job(f: dict, ctx: BuildContext) -> dict:
    return {"spec": _job_spec(f, ctx)}


def _cronjob(f: dict, ctx: BuildContext) -> dict:
    spec: dict = {"schedule": as_text(require(f, "schedule", ctx)), "jobTemplate": {"spec": _job_spec(f, ctx)}}
    for key in ("timeZone", "suspend", "concurrencyPolicy", "startingDeadlineSeconds",
                "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        if f.get(key) is not None:
            spec[key] = f[key]
    return {"spec": spec}


# Typed Service fields copied as written when set (`clusterIP: None` makes a headless Service).
_SERVICE_FIELDS = ("clusterIP", "sessionAffinity", "externalTrafficPolicy", "internalTrafficPolicy",
                   "ipFamilyPolicy", "ipFamilies", "loadBalancerClass", "loadBalancerSourceRanges",
                   "externalName", "publishNotReadyAddresses")


def _service(f: dict, ctx: BuildContext) -> dict:
    if f.get("ports"):
        ports = f["ports"]
    else:
        port_number = require(f, "port", ctx)
        port: dict = {"port": port_number, "targetPort": f.get("targetPort", port_number),
                      "protocol": f.get("protocol") or "TCP"}
        _put(port, "nodePort", f.get("nodePort"))
        ports = [port]
    selector = text_map(f["selector"]) if "selector" in f else selector_labels(ctx)
    spec = {"type": f.get("type") or "ClusterIP", "selector": selector, "ports": ports}
    for key in _SERVICE_FIELDS:
        if key in f and f[key] is not None:
            spec[key] = f[key]
    return {"spec": spec}


def _ingress(f: dict, ctx: BuildContext) -> dict:
    spec: dict = {}
    _put(spec, "ingressClassName", f.get("ingressClassName"))
    if f.get("rules"):
        spec["rules"] = f["rules"]
    else:
        port = f.get("servicePort", 80)
        backend = {"service": {"name": f.get("serviceName") or cut_name(ctx.cr["metadata"]["name"] + "-svc"),
                               "port": {"number": port} if isinstance(port, int) else {"name": str(port)}}}
        rule: dict = {"http": {"paths": [{"path": f.get("path") or "/", "pathType": f.get("pathType") or "Prefix",
                                          "backend": backend}]}}
        _put(rule, "host", f.get("host"))
        spec["rules"] = [rule]
    tls = f.get("tls")
    if tls:
        entry: dict = {}
        _put(entry, "secretName", tls.get("secretName"))
        _put(entry, "hosts", tls.get("hosts"))
        spec["tls"] = [entry]
    return {"spec": spec}


def _network_policy(f: dict, ctx: BuildContext) -> dict:
    if "podSelector" not in f:
        spec: dict = {"podSelector": {"matchLabels": selector_labels(ctx)}}
    else:   # `{}` selects every pod in the namespace
        spec = {"podSelector": {"matchLabels": text_map(f["podSelector"])} if f["podSelector"] else {}}
    for key in ("policyTypes", "ingress", "egress"):
        _put(spec, key, f.get(key))
    return {"spec": spec}


def _config_map(f: dict, ctx: BuildContext) -> dict:
    if "copiedData" in f:  # the copy form: the source's data as it is
        body = {"data": f["copiedData"]}
        _put(body, "binaryData", f["copiedBinaryData"])
        return body
    return {"data": text_map({k: v for k, v in (f.get("data") or {}).items() if v is not None})}


def _secret(f: dict, ctx: BuildContext) -> dict:
    if "copiedData" in f:  # the copy form: the source's type and already-encoded data
        return {"type": f["copiedType"], "data": f["copiedData"]}
    data = {str(k): base64.b64encode(as_text(v).encode()).decode()
            for k, v in (f.get("data") or {}).items() if v is not None}
    return {"type": f.get("type") or "Opaque", "data": data}


def _empty(f: dict, ctx: BuildContext) -> dict:
    return {}


def _pvc(f: dict, ctx: BuildContext) -> dict:
    spec: dict = {"accessModes": f.get("accessModes") or ["ReadWriteOnce"],
                  "resources": {"requests": {"storage": as_text(require(f, "storage", ctx))}}}
    _put(spec, "storageClassName", f.get("storageClassName"))
    _put(spec, "volumeMode", f.get("volumeMode"))
    return {"spec": spec}


def _service_account(f: dict, ctx: BuildContext) -> dict:
    body: dict = {}
    if f.get("automountServiceAccountToken") is not None:
        body["automountServiceAccountToken"] = f["automountServiceAccountToken"]
    _put(body, "imagePullSecrets", _named(f.get("imagePullSecrets")))
    return body


def _role(f: dict, ctx: BuildContext) -> dict:
    return {"rules": f.get("rules") or []}


def _binding(f: dict, ctx: BuildContext) -> dict:
    ref = require(f, "roleRef", ctx)
    subjects = []
    for i, subject in enumerate(f.get("subjects") or []):
        subject = dict(subject)
        if subject.get("kind") == "ServiceAccount" and not subject.get("namespace"):
            ns = ctx.cr["metadata"].get("namespace") or ctx.namespace
            if not ns:
                raise RenderError(f"{ctx.path}.subjects[{i}].namespace: a ServiceAccount subject of a "
                                  "cluster-scoped CR needs a namespace in a ClusterRoleBinding")
            subject["namespace"] = ns
        subjects.append(subject)
    body: dict = {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": ref.get("kind"),
                              "name": ref.get("name")}}
    _put(body, "subjects", subjects)
    return body


def _custom(f: dict, ctx: BuildContext) -> dict:
    body = dict(f.get("fields") or {})
    if f.get("spec") is not None:
        body["spec"] = f["spec"]
    return body


_WORKLOAD_INTS = frozenset({"replicas", "port"})
_JOB_INTS = frozenset({"backoffLimit", "ttlSecondsAfterFinished", "activeDeadlineSeconds"})

_ROWS = (
    KindSpec("namespaces", _empty),
    KindSpec("serviceAccounts", _service_account, bool_fields=frozenset({"automountServiceAccountToken"})),
    KindSpec("roles", _role),
    KindSpec("clusterRoles", _role),
    KindSpec("roleBindings", _binding),
    KindSpec("clusterRoleBindings", _binding),
    KindSpec("configMaps", _config_map),
    KindSpec("secrets", _secret),
    KindSpec("persistentVolumeClaims", _pvc),
    KindSpec("services", _service, int_fields=frozenset({"port", "nodePort"}),
             bool_fields=frozenset({"publishNotReadyAddresses"})),
    KindSpec("deployments", _deployment, int_fields=_WORKLOAD_INTS),
    KindSpec("statefulSets", _statefulset, int_fields=_WORKLOAD_INTS),
    KindSpec("jobs", _job, int_fields=_JOB_INTS, create_only=True),
    KindSpec("cronJobs", _cronjob, int_fields=_JOB_INTS | {"startingDeadlineSeconds", "successfulJobsHistoryLimit",
                                                          "failedJobsHistoryLimit"},
             bool_fields=frozenset({"suspend"})),
    KindSpec("ingresses", _ingress),
    KindSpec("networkPolicies", _network_policy),
    KindSpec("custom", _custom),
)
KINDS: dict[str, KindSpec] = {row.type: row for row in _ROWS}

# Fields that may hold an integer or a named port: coerced to int only when they look numeric.
INT_OR_STRING = frozenset({"targetPort", "servicePort"})
