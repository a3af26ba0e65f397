"""RBAC derivation (docs/deploying.md#the-bundle-rbac-and-the-katalog-configmap) and the generated bundle documents (docs/cli.md#ork-generate). Pure functions.

Nothing here may open a path to cluster-admin (docs/security.md): rules about Orkestra's own
objects (the webhook TLS Secret, the leader Lease) go into a Role in Orkestra's namespace, and the
webhook-configuration rules name their objects wherever Kubernetes allows it.

Rules are produced step by step in the order the spec fixes; inside a step they are sorted by
group then resource, verbs are printed in one canonical order, and rules with the same group,
resource and resource names are merged into the first. Each rule may carry a `reason` that
`ork validate --full` prints after `←`; it never reaches the Kubernetes objects.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping

import yaml

from orkestra.katalog.builtins import resolve_resource
from orkestra.katalog.children import protected_crd_names
from orkestra.katalog.model import PHASES, CrdEntry, Katalog
from orkestra.katalog.template_kinds import TEMPLATE_KINDS

VERB_ORDER = ("get", "list", "watch", "create", "update", "patch", "delete", "escalate", "bind")
DEFAULT_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")
WATCH_VERBS = ("get", "list", "watch")
COMPONENTS = ("runtime", "gateway", "cc")
COMPONENT_ALIASES = {"runtime": "runtime", "run": "runtime", "gateway": "gateway", "gw": "gateway",
                     "cc": "cc", "controlcenter": "cc", "control-center": "cc"}
SERVICE_ACCOUNTS = {"runtime": "orkestra", "gateway": "orkestra-gateway", "cc": "orkestra-cc"}
DEFAULT_TLS_SECRET = "orkestra-webhook-tls"
# Fixed object names the rules are restricted to; tests check that they match the names the
# engine and the webhook controller use (this layer cannot import them).
LEADER_LEASE = "orkestra-konductor"
WEBHOOK_CONFIGURATIONS = {
    "validatingwebhookconfigurations": ("orkestra-deletion-protection", "orkestra-namespace-protection",
                                        "orkestra-validation"),
    "mutatingwebhookconfigurations": ("orkestra-mutation",),
}
ADMISSION_GROUP = "admissionregistration.k8s.io"
RBAC_GROUP = "rbac.authorization.k8s.io"


def default_namespace(env: Mapping[str, str]) -> str:
    """Orkestra's own namespace: $NAMESPACE, then $ORK_NAMESPACE, then orkestra-system."""
    return env.get("NAMESPACE") or env.get("ORK_NAMESPACE") or "orkestra-system"


def tls_secret_name(env: Mapping[str, str]) -> str:
    return env.get("TLS_SECRET_NAME") or DEFAULT_TLS_SECRET


@dataclass(frozen=True)
class Rule:
    """A resource rule, or (`urls` set, group and resource empty) a non-resource URL rule."""

    group: str
    resource: str
    verbs: tuple[str, ...]
    resource_names: tuple[str, ...] = ()
    reason: str = ""
    urls: tuple[str, ...] = ()

    def to_k8s(self) -> dict:
        if self.urls:
            return {"nonResourceURLs": list(self.urls), "verbs": list(self.verbs)}
        out: dict = {"apiGroups": [self.group], "resources": [self.resource]}
        if self.resource_names:
            out["resourceNames"] = list(self.resource_names)
        out["verbs"] = list(self.verbs)
        return out


def _ordered(verbs: Iterable[str]) -> tuple[str, ...]:
    wanted = set(verbs)
    return tuple(v for v in VERB_ORDER if v in wanted)


def _merge(steps: Iterable[list[Rule]]) -> list[Rule]:
    """Concatenate steps (each sorted by group, resource) merging same group/resource/names."""
    out: list[Rule] = []
    index: dict[tuple, int] = {}
    for step in steps:
        for rule in sorted(step, key=lambda r: (r.group, r.resource)):
            ident = (rule.group, rule.resource, rule.resource_names, rule.urls)
            if ident in index:
                old = out[index[ident]]
                out[index[ident]] = replace(old, verbs=_ordered(old.verbs + rule.verbs))
            else:
                index[ident] = len(out)
                out.append(replace(rule, verbs=_ordered(rule.verbs)))
    return out


def _crd_rules(entries: list[CrdEntry]) -> list[Rule]:
    rules: list[Rule] = []
    for e in entries:
        g, p = e.api.group, e.api.plural
        rules.append(Rule(g, p, ("get", "list", "watch", "update", "patch")))
        if not e.api.builtin and not e.ignore_status_patch:
            rules.append(Rule(g, f"{p}/status", ("get", "update", "patch")))
        if e.has_templates or e.box.hooks is not None:
            rules.append(Rule(g, f"{p}/finalizers", ("update",), reason="children get ownerReferences with blockOwnerDeletion"))
    return rules


def _release_rules(katalog: Katalog) -> list[Rule]:
    """Disabled entries: the leader lists their CRs and patches Orkestra's finalizers off them
    (`get` re-reads a CR after a conflict); docs/finalizers.md."""
    return [Rule(e.api.group, e.api.plural, ("get", "list", "patch"),
                 reason="releases Orkestra's finalizers from the CRs of a disabled entry")
            for e in katalog.crds.values() if not e.enabled]


def _template_types(entries: list[CrdEntry]) -> set[str]:
    return {t for e in entries for phase in PHASES for t in e.template_types(phase)}


def _child_rules(entries: list[CrdEntry]) -> list[Rule]:
    types = _template_types(entries)
    fixed = [TEMPLATE_KINDS[t].gvr for t in sorted(types) if t != "custom"]
    rules = [Rule(gvr.group, gvr.resource, DEFAULT_VERBS) for gvr in fixed]
    for e in entries:
        for phase in PHASES:
            for tpl in e.box.templates.get(phase, {}).get("custom", []):
                group, plural, _ = resolve_resource(tpl.get("apiVersion"), tpl.get("kind", ""))
                rules.append(Rule(group, tpl.get("plural") or plural, DEFAULT_VERBS))
    if types & {"roles", "clusterRoles"}:
        reason = "grants the permissions of the roles it manages"
        rules += [Rule(RBAC_GROUP, "roles", ("escalate", "bind"), reason=reason),
                  Rule(RBAC_GROUP, "clusterroles", ("escalate", "bind"), reason=reason)]
    elif types & {"roleBindings", "clusterRoleBindings"}:
        reason = "binds roles it does not manage"
        rules += [Rule(RBAC_GROUP, "roles", ("get", "bind"), reason=reason),
                  Rule(RBAC_GROUP, "clusterroles", ("get", "bind"), reason=reason)]
    return rules


def _managed_rules(entries: list[CrdEntry]) -> list[Rule]:
    rules = []
    for e in entries:
        if e.box.hooks is None:
            continue
        for res in e.box.hooks.managed_resources:
            group, plural, _ = resolve_resource(res.get("apiVersion"), res["kind"])
            rules.append(Rule(group, res.get("plural") or plural, DEFAULT_VERBS, reason="hook managedResources"))
    return rules


def entry_rules(entry: CrdEntry) -> list[Rule]:
    """The rules one entry contributes (its own kind, its children, its hook resources)."""
    return _merge([_crd_rules([entry]), _child_rules([entry]), _managed_rules([entry])])


def deletion_protection(katalog: Katalog) -> bool:
    dp = katalog.security.get("deletionProtection")
    return isinstance(dp, dict) and dp.get("enabled", True) is not False


def webhooks_declared(katalog: Katalog) -> bool:
    """Validation or mutation rules, conversion, or any security protection block."""
    for e in katalog.enabled:
        if (e.validation or {}).get("rules") or (e.mutation or {}).get("rules") or e.conversion:
            return True
    return "deletionProtection" in katalog.security or "namespaceProtection" in katalog.security


def webhook_rules(katalog: Katalog, *, namespace: str) -> list[Rule]:
    """The cluster-wide W rules of docs/deploying.md#the-bundle-rbac-and-the-katalog-configmap (the TLS Secret rules are in `namespace_rules`)."""
    return _merge(_webhook_steps(katalog, namespace=namespace))


def _configuration_rules(katalog: Katalog) -> list[Rule]:
    """Webhook configurations: every verb but `create` is restricted to Orkestra's own names.

    Kubernetes cannot restrict `create` by name (the name is not known when the request is
    authorised), and a new configuration can intercept writes cluster-wide (a mutating one can
    rewrite any Pod), so `create` is granted only for the kinds of configuration the Katalog
    needs: mutating ones only when some entry has mutation rules.
    """
    needed = {"validatingwebhookconfigurations": _validates(katalog),
              "mutatingwebhookconfigurations": any((e.mutation or {}).get("rules") for e in katalog.enabled)}
    rules = []
    for resource, names in WEBHOOK_CONFIGURATIONS.items():
        if needed[resource]:
            rules.append(Rule(ADMISSION_GROUP, resource, ("create",),
                              reason="registers its webhook configurations (create cannot be restricted by name)"))
        rules.append(Rule(ADMISSION_GROUP, resource, ("get", "list", "watch", "update", "patch", "delete"), names,
                          reason="keeps its own webhook configurations in shape"))
    return rules


def _validates(katalog: Katalog) -> bool:
    """Validation rules or a protection block: something registers a validating configuration."""
    return (any((e.validation or {}).get("rules") for e in katalog.enabled)
            or "deletionProtection" in katalog.security or "namespaceProtection" in katalog.security)


def _webhook_steps(katalog: Katalog, *, namespace: str) -> list[list[Rule]]:
    steps: list[list[Rule]] = [_configuration_rules(katalog)]
    protect = deletion_protection(katalog)
    crds = sorted({e.api.crd_name for e in katalog.enabled
                   if not e.api.builtin and e.conversion and e.conversion.get("updateCRD", True)}
                  | {name for e in katalog.enabled if protect for name in protected_crd_names(e)})
    if crds:
        steps.append([Rule("apiextensions.k8s.io", "customresourcedefinitions", ("get", "list", "watch", "patch"),
                           tuple(crds), reason="conversion caBundle and CRD deletion protection")])
    if protect:
        steps.append([Rule("", "namespaces", ("get", "patch"), (namespace,),
                           reason="deletion protection labels its own namespace")])
    unique = [e for e in katalog.enabled if e.has_unique_rules]
    steps.append([Rule(e.api.group, e.api.plural, WATCH_VERBS, reason="unique rules read the gateway cache")
                  for e in unique])
    return steps


def api_auth_rules(api_auth: bool) -> list[Rule]:
    """Reviews the HTTP API needs under `ORK_API_AUTH=kubernetes` (docs/security.md); none otherwise."""
    if not api_auth:
        return []
    reason = "checks HTTP API callers (ORK_API_AUTH=kubernetes)"
    return [Rule("authentication.k8s.io", "tokenreviews", ("create",), reason=reason),
            Rule("authorization.k8s.io", "subjectaccessreviews", ("create",), reason=reason)]


def reader_rules(katalog: Katalog, api_auth: bool) -> list[Rule]:
    """What the Control Center reads from runtimes and gateways under `ORK_API_AUTH=kubernetes`
    (docs/security.md); none otherwise, since it then sends no token worth granting.

    Each rule is the SubjectAccessReview one of its reads asks for: `get` on the summary paths
    `/katalog`, `/katalog/<crd>` and `/katalog/<crd>/health` (named one by one, so the raw and
    enriched Katalog stay closed), `list` and `get` on the entries' kinds (the Resources page
    lists cluster-wide) and `list events` (a CR's events). Every entry of the Katalog counts,
    enabled or not, as `/katalog` lists them all, except a Secret entry: `list secrets` would let
    the Control Center's token read every Secret's payload straight from the API server, so its
    Resources pages stay forbidden unless granted by hand.
    """
    if not api_auth:
        return []
    reason = "the Control Center reads the runtime HTTP API (ORK_API_AUTH=kubernetes)"
    paths = ["/katalog"] + [f"/katalog/{name}{tail}" for name in katalog.crds for tail in ("", "/health")]
    kinds = [Rule(e.api.group, e.api.plural, ("get", "list"), reason=reason) for e in katalog.crds.values()
             if (e.api.group, e.api.plural) != ("", "secrets")]
    return _merge([[Rule("", "", ("get",), reason=reason, urls=tuple(paths))],
                   [Rule("", "events", ("list",), reason=reason)], kinds])


def derive(katalog: Katalog, component: str, *, namespace: str = "orkestra-system",
           api_auth: bool = False) -> list[Rule]:
    """The ClusterRole rules of one component: `runtime`, `gateway` or `cc`."""
    if component == "cc":
        return reader_rules(katalog, api_auth)
    if component == "gateway":
        steps = _webhook_steps(katalog, namespace=namespace) if webhooks_declared(katalog) else []
        return _merge([*steps, api_auth_rules(api_auth)])
    if component != "runtime":
        raise ValueError(f"unknown component {component!r}")
    entries = katalog.enabled
    steps = [
        [Rule("", "events", ("list", "create", "patch"), reason="Kubernetes events")],
        _crd_rules(entries) + _release_rules(katalog), _child_rules(entries), _managed_rules(entries),
    ]
    if webhooks_declared(katalog):
        steps += _webhook_steps(katalog, namespace=namespace)
    steps.append(api_auth_rules(api_auth))
    return _merge(steps)


def namespace_rules(katalog: Katalog, component: str, *, tls_secret: str = DEFAULT_TLS_SECRET) -> list[Rule]:
    """The Role rules of one component in Orkestra's own namespace: its Lease and TLS Secret.

    In a ClusterRole these rules would hold in every namespace (a Secret of that name in
    kube-system, the control plane's leader Leases); `create` cannot be restricted by name, so
    the namespace is what confines it.
    """
    steps: list[list[Rule]] = []
    if component == "runtime":
        steps.append([Rule("coordination.k8s.io", "leases", ("create",), reason="leader election"),
                      Rule("coordination.k8s.io", "leases", ("get", "list", "watch", "update"), (LEADER_LEASE,),
                           reason="leader election")])
    if component in ("runtime", "gateway") and webhooks_declared(katalog):
        steps.append([Rule("", "secrets", ("create",), reason="creates the webhook certificate Secret"),
                      Rule("", "secrets", ("get", "update"), (tls_secret,),
                           reason="provisions and rotates the webhook certificate")])
    return _merge(steps)


def self_rules(katalog: Katalog) -> list[Rule]:
    """Role `orkestra-self` (runtime, deletion protection only): protection labels on own objects."""
    if not deletion_protection(katalog):
        return []
    reason = "deletion protection labels Orkestra's own objects"
    return _merge([[Rule("", r, ("get", "list", "patch"), reason=reason)
                    for r in ("configmaps", "secrets", "services", "serviceaccounts")]
                   + [Rule("apps", "deployments", ("get", "list", "patch"), reason=reason)]])


# -- bundle documents ------------------------------------------------------------------------------

def _labels(katalog: Katalog) -> dict:
    labels = {"app.kubernetes.io/name": "orkestra", "app.kubernetes.io/part-of": "orkestra",
              "app.kubernetes.io/managed-by": "ork"}
    if deletion_protection(katalog):
        labels["orkestra.io/deletion-protection"] = "true"
    return labels


def _meta(katalog: Katalog, name: str, namespace: str | None = None) -> dict:
    meta: dict = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = _labels(katalog)
    return meta


def rbac_documents(katalog: Katalog, *, namespace: str, components: Iterable[str],
                   tls_secret: str = DEFAULT_TLS_SECRET, api_auth: bool = False) -> list[dict]:
    """Namespace, ServiceAccounts, ClusterRoles and their bindings, then the Roles in `namespace`.

    Each component with namespaced rules gets a Role of its own name (its Lease, its TLS
    Secret); the runtime's `orkestra-self` Role follows (deletion protection).
    """
    chosen = [c for c in COMPONENTS if c in set(components)]
    docs: list[dict] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(katalog, namespace)}]
    for c in chosen:
        docs.append({"apiVersion": "v1", "kind": "ServiceAccount",
                     "metadata": _meta(katalog, SERVICE_ACCOUNTS[c], namespace)})
    with_roles = [c for c in chosen if c in ("runtime", "gateway")]
    cluster = {c: derive(katalog, c, namespace=namespace, api_auth=api_auth) for c in chosen}
    # the runtime and gateway always get their ClusterRole; the Control Center only with api auth
    cluster_roles = [c for c in chosen if c in with_roles or cluster[c]]
    for c in cluster_roles:
        docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                     "metadata": _meta(katalog, SERVICE_ACCOUNTS[c]), "rules": [r.to_k8s() for r in cluster[c]]})
    for c in cluster_roles:
        docs.append(_binding(katalog, "ClusterRoleBinding", "ClusterRole", SERVICE_ACCOUNTS[c], namespace, None))
    local = {c: namespace_rules(katalog, c, tls_secret=tls_secret) for c in with_roles}
    for c in (c for c in with_roles if local[c]):
        docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                     "metadata": _meta(katalog, SERVICE_ACCOUNTS[c], namespace),
                     "rules": [r.to_k8s() for r in local[c]]})
        docs.append(_binding(katalog, "RoleBinding", "Role", SERVICE_ACCOUNTS[c], namespace, namespace))
    own = self_rules(katalog)
    if "runtime" in chosen and own:
        docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                     "metadata": _meta(katalog, "orkestra-self", namespace), "rules": [r.to_k8s() for r in own]})
        docs.append(_binding(katalog, "RoleBinding", "Role", "orkestra-self", namespace, namespace,
                             service_account="orkestra"))
    return docs


def _binding(katalog: Katalog, kind: str, role_kind: str, name: str, namespace: str, in_namespace: str | None,
             *, service_account: str | None = None) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
            "metadata": _meta(katalog, name, in_namespace),
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": role_kind, "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": service_account or name, "namespace": namespace}]}


def configmap_document(katalog: Katalog, *, namespace: str) -> dict:
    """ConfigMap `orkestra-config`: the merged canonical Katalog, defaults not filled, as kind: Katalog."""
    canonical = dict(katalog.canonical)
    canonical["kind"] = "Katalog"
    text = yaml.safe_dump(canonical, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(katalog, "orkestra-config", namespace),
            "data": {"katalog.yaml": text}}


def bundle(katalog: Katalog, *, namespace: str, components: Iterable[str] = COMPONENTS,
           tls_secret: str = DEFAULT_TLS_SECRET, api_auth: bool = False) -> list[dict]:
    """Every document of `ork generate bundle`, in order: the RBAC objects, then the ConfigMap."""
    return (rbac_documents(katalog, namespace=namespace, components=components, tls_secret=tls_secret,
                           api_auth=api_auth)
            + [configmap_document(katalog, namespace=namespace)])


def render_stream(docs: list[dict], *, header: str) -> str:
    """A YAML stream with a comment header; byte-for-byte stable for the same input."""
    body = "---\n".join(yaml.safe_dump(d, sort_keys=False, allow_unicode=True, default_flow_style=False) for d in docs)
    return "".join(f"# {line}\n" for line in header.splitlines()) + "---\n" + body
