"""The one table of facts about each resource template type (docs/katalog.md#keys-per-type–7.3).

A row says which Kubernetes kind a type writes, its default-name suffix and the fields it
requires; group, version, plural and scope come from the built-in kind registry. The load
checks, the RBAC derivation, the engine's child informers and the reconciler's builders all
read this table, so a fact about a type is written once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orkestra.gvk import GVR, api_version_of
from orkestra.katalog.builtins import BUILTINS, BuiltinKind


@dataclass(frozen=True)
class TemplateKind:
    type: str
    kind: str                       # "" for custom (the entry names its kind)
    suffix: str                     # default name is `<cr><suffix>` (`<p><suffix>` cluster-scoped)
    required: tuple[str, ...] = ()  # fields the load checks require (builders refuse empty renders themselves)

    @property
    def builtin(self) -> BuiltinKind:
        return BUILTINS[self.kind]

    @property
    def api_version(self) -> str:
        return api_version_of(self.builtin.group, self.builtin.version)

    @property
    def gvr(self) -> GVR:
        return GVR(self.builtin.group, self.builtin.version, self.builtin.plural)

    @property
    def namespaced(self) -> bool:
        return self.kind == "" or self.builtin.namespaced


_WORKLOAD = ("image",)
TEMPLATE_KINDS: dict[str, TemplateKind] = {row.type: row for row in (
    TemplateKind("namespaces", "Namespace", ""),
    TemplateKind("serviceAccounts", "ServiceAccount", ""),
    TemplateKind("roles", "Role", "-role", ("rules",)),
    TemplateKind("clusterRoles", "ClusterRole", "-clusterrole", ("rules",)),
    TemplateKind("roleBindings", "RoleBinding", "-rolebinding", ("roleRef",)),
    TemplateKind("clusterRoleBindings", "ClusterRoleBinding", "-clusterrolebinding", ("roleRef",)),
    TemplateKind("configMaps", "ConfigMap", "-config"),
    TemplateKind("secrets", "Secret", "-secret"),
    TemplateKind("persistentVolumeClaims", "PersistentVolumeClaim", "-pvc", ("storage",)),
    TemplateKind("services", "Service", "-svc"),
    TemplateKind("deployments", "Deployment", "-deployment", _WORKLOAD),
    TemplateKind("statefulSets", "StatefulSet", "-statefulset", _WORKLOAD),
    TemplateKind("jobs", "Job", "-job", _WORKLOAD),
    TemplateKind("cronJobs", "CronJob", "-cronjob", _WORKLOAD + ("schedule",)),
    TemplateKind("ingresses", "Ingress", "-ingress"),
    TemplateKind("networkPolicies", "NetworkPolicy", "-netpol"),
    TemplateKind("custom", "", "", ("apiVersion", "kind")),
)}


def static_kind(raw: dict[str, Any]) -> tuple[str, str] | None:
    """(apiVersion, kind) of a `custom` entry when both are plain strings (no template), else None.

    Only such a kind can be resolved before a CR is rendered (finalizer need, deletion-flow GVRs)."""
    api_version, kind = raw.get("apiVersion"), raw.get("kind")
    if isinstance(api_version, str) and isinstance(kind, str) and api_version and kind \
            and "{{" not in api_version + kind:
        return api_version, kind
    return None
