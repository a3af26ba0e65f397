"""What the Katalog and the switches ask of the webhook layer, computed once.

`build_plan(katalog, settings)` is a pure function: it decides which paths are served
(docs/webhooks.md §1), which entries each admission path covers, the conversion groups
(docs/katalog.md#conversion), the protected CRD set and labelled resource kinds (docs/webhooks.md §6.1) and the
namespace-protection entries (§7). The handlers, the configuration builder and the runtime all
read this one plan, so "is this feature on for this entry" is answered in one place.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeGuard

from orkestra.gvk import GVK, GVR
from orkestra.katalog.children import custom_children, protected_crd_names
from orkestra.katalog.model import CrdEntry, Katalog
from orkestra.webhooks.switches import WebhookSettings

PROTECTION_LABEL = "orkestra.io/deletion-protection"
DEFAULT_SERVICE_NAME = "orkestra"
CRD_GVR = GVR("apiextensions.k8s.io", "v1", "customresourcedefinitions")
_ADMISSIONREGISTRATION = "admissionregistration.k8s.io"

# docs/webhooks.md §6.1: built-in kinds the protect.resources entry always covers (GVR, namespaced).
PROTECTED_BUILTINS: tuple[tuple[GVR, bool], ...] = (
    (GVR("", "v1", "configmaps"), True),
    (GVR("", "v1", "secrets"), True),
    (GVR("", "v1", "services"), True),
    (GVR("", "v1", "serviceaccounts"), True),
    (GVR("", "v1", "namespaces"), False),
    (GVR("apps", "v1", "deployments"), True),
    (GVR("apps", "v1", "statefulsets"), True),
    (GVR("networking.k8s.io", "v1", "ingresses"), True),
    (GVR("rbac.authorization.k8s.io", "v1", "roles"), True),
    (GVR("rbac.authorization.k8s.io", "v1", "rolebindings"), True),
    (GVR("rbac.authorization.k8s.io", "v1", "clusterroles"), False),
    (GVR("rbac.authorization.k8s.io", "v1", "clusterrolebindings"), False),
)


def _feature_on(block: Any) -> TypeGuard[dict]:
    """A security feature block: `enabled` defaults to true when the block is present."""
    return isinstance(block, dict) and bool(block.get("enabled", True))


@dataclass(frozen=True)
class ProtectedKind:
    """A kind the protection webhooks select: `scope` is Namespaced, Cluster or `*` (unknown)."""
    gvr: GVR
    scope: str


@dataclass
class ConversionGroup:
    group: str
    kind: str
    plural: str
    storage_version: str
    update_crd: bool
    versions: list[str]                       # versions of the group's enabled entries
    paths: dict[tuple[str, str], dict]        # (from, to) -> spec tree as written
    entry_keys: list[str]

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{self.group}"

    @property
    def path_names(self) -> list[str]:
        return [f"{f}→{t}" for f, t in self.paths]


@dataclass
class DeletionPlan:
    failure_policy: str
    strict_global: bool
    cleanup: bool
    protected_crds: dict[str, str]            # CRD name -> entry key
    strict_crds: set[str]
    cr_kinds: dict[tuple[str, str], str]      # (group, kind) of protected CRs -> entry key
    strict_cr_kinds: set[tuple[str, str]]
    resources: list[ProtectedKind]            # protect.resources rules
    strict_resources: list[ProtectedKind]     # strict-mode rules (besides CRDs)

    @property
    def strict(self) -> bool:
        return self.strict_global or bool(self.strict_crds or self.strict_cr_kinds)


@dataclass
class NamespacePlan:
    failure_policy: str
    cleanup: bool
    entries: list[CrdEntry]


@dataclass
class WebhookPlan:
    katalog_name: str
    service_name: str
    conversion_switch: bool
    admission_switch: bool
    validate_entries: list[CrdEntry] = field(default_factory=list)
    mutate_entries: list[CrdEntry] = field(default_factory=list)
    conversion_groups: dict[tuple[str, str], ConversionGroup] = field(default_factory=dict)
    deletion: DeletionPlan | None = None
    namespace: NamespacePlan | None = None
    declares_feature: bool = False            # any webhook feature declared, even a disabled one
    entries: dict[str, CrdEntry] = field(default_factory=dict)   # every Katalog entry, by key
    admission_failure_policy: str = "Ignore"

    @property
    def paths(self) -> set[str]:
        """The registered (served) paths; every other path answers 404."""
        out: set[str] = set()
        if self.conversion_switch and self.conversion_groups:
            out.add("/convert")
        if self.admission_switch and self.validate_entries:
            out.add("/validate")
        if self.admission_switch and self.mutate_entries:
            out.add("/mutate")
        if self.deletion is not None:
            out.add("/deletion-protection")
        if self.namespace is not None:
            out.add("/namespace-protection")
        return out

    def listener_needed(self, *, gateway: bool) -> bool:
        """docs/webhooks.md §1: conversion switch, a protection feature, or gateway mode."""
        return gateway or self.conversion_switch or self.deletion is not None or self.namespace is not None

    def conversion_group_of(self, entry: CrdEntry) -> ConversionGroup | None:
        return self.conversion_groups.get((entry.api.group, entry.api.kind))

    def admission_entries(self, path: str, gvk: GVK) -> list[CrdEntry]:
        entries = self.validate_entries if path == "/validate" else self.mutate_entries
        return [e for e in entries if e.api.gvk == gvk]


def _rules(block: dict | None) -> list[dict]:
    return list((block or {}).get("rules") or [])


def _conversion_groups(entries: list[CrdEntry]) -> dict[tuple[str, str], ConversionGroup]:
    groups: dict[tuple[str, str], ConversionGroup] = {}
    for e in entries:
        if not e.conversion:
            continue
        key = (e.api.group, e.api.kind)
        g = groups.get(key)
        if g is None:
            g = groups[key] = ConversionGroup(
                group=e.api.group, kind=e.api.kind, plural=e.api.plural,
                storage_version=str(e.conversion.get("storageVersion", "")),
                update_crd=bool(e.conversion.get("updateCRD", True)),
                versions=[], paths={}, entry_keys=[])
        g.entry_keys.append(e.key)
        g.update_crd = g.update_crd and bool(e.conversion.get("updateCRD", True))
        for p in e.conversion.get("paths") or []:
            g.paths.setdefault((str(p.get("from")), str(p.get("to"))), p.get("spec") or {})
    for e in entries:  # versions of every enabled entry of a group, with or without a conversion block
        g = groups.get((e.api.group, e.api.kind))
        if g is not None and e.api.version not in g.versions:
            g.versions.append(e.api.version)
    return groups


def _deletion_plan(katalog: Katalog, entries: list[CrdEntry]) -> DeletionPlan | None:
    block = katalog.security.get("deletionProtection")
    if not _feature_on(block):
        return None
    strict_global = bool(block.get("strictMode", False))
    plan = DeletionPlan(failure_policy=str(block.get("failurePolicy", "Fail")), strict_global=strict_global,
                        cleanup=bool(block.get("cleanupOnShutdown", False)), protected_crds={},
                        strict_crds=set(), cr_kinds={}, strict_cr_kinds=set(), resources=[],
                        strict_resources=[])
    kinds = [ProtectedKind(gvr, "Namespaced" if ns else "Cluster") for gvr, ns in PROTECTED_BUILTINS]
    strict_kinds: list[ProtectedKind] = list(kinds) if strict_global else []

    def add(target: list[ProtectedKind], kind: ProtectedKind) -> None:
        if all(k.gvr != kind.gvr for k in target):
            target.append(kind)

    for e in entries:
        dp = e.deletion_protection or {}
        if not dp.get("enabled", True):
            continue
        strict = bool(dp.get("strictMode", strict_global))
        children = custom_children(e)
        for name in protected_crd_names(e):   # the entry's own CRD, plus those of its custom children
            plan.protected_crds.setdefault(name, e.key)
            if strict:
                plan.strict_crds.add(name)
        if dp.get("protectCRs", True):
            plan.cr_kinds.setdefault((e.api.group, e.api.kind), e.key)
            own = ProtectedKind(e.api.gvr, e.api.scope)
            add(kinds, own)
            if strict:
                plan.strict_cr_kinds.add((e.api.group, e.api.kind))
                add(strict_kinds, own)
        for gvr, _ in children:
            add(kinds, ProtectedKind(gvr, "*"))
            if strict:
                add(strict_kinds, ProtectedKind(gvr, "*"))
    plan.resources = kinds
    plan.strict_resources = strict_kinds
    return plan


def _namespace_plan(katalog: Katalog, entries: list[CrdEntry]) -> NamespacePlan | None:
    block = katalog.security.get("namespaceProtection")
    if not _feature_on(block):
        return None
    covered = [e for e in entries
               if e.api.namespaced and (e.allowed_namespaces or e.restricted_namespaces)
               and e.api.group != _ADMISSIONREGISTRATION]
    if not covered:
        return None
    return NamespacePlan(failure_policy=str(block.get("failurePolicy", "Fail")),
                         cleanup=bool(block.get("cleanupOnShutdown", False)), entries=covered)


def service_name(katalog: Katalog, settings: WebhookSettings) -> str:
    """`ORK_SERVICE_NAME` > `security.serviceName` > `orkestra`."""
    return settings.service_name or str(katalog.security.get("serviceName") or DEFAULT_SERVICE_NAME)


def build_plan(katalog: Katalog, settings: WebhookSettings) -> WebhookPlan:
    entries = katalog.enabled
    admissible = [e for e in entries if e.api.group != _ADMISSIONREGISTRATION]
    security = katalog.security or {}
    plan = WebhookPlan(
        katalog_name=katalog.name,
        service_name=service_name(katalog, settings),
        conversion_switch=settings.enable_conversion,
        admission_switch=settings.enable_admission and settings.enable_conversion,
        admission_failure_policy=str((security.get("admission") or {}).get("failurePolicy", "Ignore")),
        entries=dict(katalog.crds),
    )
    plan.validate_entries = [e for e in admissible
                             if _rules(e.validation) and e.webhooks.get("validation", True) is not False]
    plan.mutate_entries = [e for e in admissible
                           if _rules(e.mutation) and e.webhooks.get("mutation", True) is not False]
    plan.conversion_groups = _conversion_groups(entries)
    plan.deletion = _deletion_plan(katalog, entries)
    plan.namespace = _namespace_plan(katalog, entries)
    plan.declares_feature = bool(
        any(_rules(e.validation) or _rules(e.mutation) or e.conversion for e in katalog.crds.values())
        or "deletionProtection" in security or "namespaceProtection" in security)
    return plan
