"""The built-in kind registry (docs/katalog.md#apitypes): what Orkestra knows offline about Kubernetes kinds.

A built-in entry needs only `kind`; group, version, plural and scope come from here. The same
table resolves `custom` template kinds and hook `managedResources` for offline RBAC derivation.
"""
from __future__ import annotations

from typing import NamedTuple

from orkestra.gvk import split_api_version


class BuiltinKind(NamedTuple):
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool


def _table() -> dict[str, BuiltinKind]:
    rows = [
        ("", "v1", [("Pod", "pods", True), ("Service", "services", True), ("ConfigMap", "configmaps", True),
                    ("Secret", "secrets", True), ("ServiceAccount", "serviceaccounts", True),
                    ("PersistentVolumeClaim", "persistentvolumeclaims", True), ("Endpoints", "endpoints", True),
                    ("Event", "events", True), ("LimitRange", "limitranges", True),
                    ("ResourceQuota", "resourcequotas", True), ("Namespace", "namespaces", False),
                    ("Node", "nodes", False), ("PersistentVolume", "persistentvolumes", False)]),
        ("apps", "v1", [("Deployment", "deployments", True), ("StatefulSet", "statefulsets", True),
                        ("DaemonSet", "daemonsets", True), ("ReplicaSet", "replicasets", True)]),
        ("batch", "v1", [("Job", "jobs", True), ("CronJob", "cronjobs", True)]),
        ("networking.k8s.io", "v1", [("Ingress", "ingresses", True), ("NetworkPolicy", "networkpolicies", True),
                                     ("IngressClass", "ingressclasses", False)]),
        ("rbac.authorization.k8s.io", "v1", [("Role", "roles", True), ("RoleBinding", "rolebindings", True),
                                             ("ClusterRole", "clusterroles", False),
                                             ("ClusterRoleBinding", "clusterrolebindings", False)]),
        ("autoscaling", "v2", [("HorizontalPodAutoscaler", "horizontalpodautoscalers", True)]),
        ("policy", "v1", [("PodDisruptionBudget", "poddisruptionbudgets", True)]),
        ("storage.k8s.io", "v1", [("StorageClass", "storageclasses", False)]),
        ("coordination.k8s.io", "v1", [("Lease", "leases", True)]),
        ("scheduling.k8s.io", "v1", [("PriorityClass", "priorityclasses", False)]),
        ("discovery.k8s.io", "v1", [("EndpointSlice", "endpointslices", True)]),
        ("apiextensions.k8s.io", "v1", [("CustomResourceDefinition", "customresourcedefinitions", False)]),
        ("admissionregistration.k8s.io", "v1", [("ValidatingWebhookConfiguration", "validatingwebhookconfigurations", False),
                                                ("MutatingWebhookConfiguration", "mutatingwebhookconfigurations", False)]),
    ]
    return {kind: BuiltinKind(group, version, kind, plural, ns)
            for group, version, kinds in rows for kind, plural, ns in kinds}


BUILTINS: dict[str, BuiltinKind] = _table()


def lookup(kind: str, group: str | None = None) -> BuiltinKind | None:
    """The registry entry for `kind`; when `group` is given it must match (`core` means "")."""
    found = BUILTINS.get(kind)
    if found is None:
        return None
    if group is not None and (group if group != "core" else "") != found.group:
        return None
    return found


def resolve_resource(api_version: str | None, kind: str) -> tuple[str, str, bool]:
    """(group, plural, namespaced) offline: the registry, else lowercase kind + `s`, namespaced."""
    group = split_api_version(api_version)[0] if api_version else None
    found = lookup(kind, group)
    if found is not None:
        return found.group, found.plural, found.namespaced
    return (group or ""), kind.lower() + "s", True


def plural_is_guessed(api_version: str | None, kind: str) -> bool:
    """True when `resolve_resource` falls back to lowercase kind + `s` (validate warns then)."""
    group = split_api_version(api_version)[0] if api_version else None
    return lookup(kind, group) is None


def resolve_kind(api_version: str | None, kind: str) -> tuple[str, bool]:
    """(plural, namespaced) resolved offline (the architecture contract for other layers)."""
    _, plural, namespaced = resolve_resource(api_version, kind)
    return plural, namespaced
