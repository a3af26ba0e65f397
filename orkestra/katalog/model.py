"""The loaded Katalog: one internal model for every accepted input form.

The loader (`orkestra.katalog.loader`) turns canonical and legacy YAML into these objects after
validation, with every default filled in (environment defaults included). Everything downstream
(engine, reconciler, webhooks, RBAC derivation, the HTTP API) reads only this model, never the
YAML. Resource templates, status, validation, mutation and conversion blocks stay as canonical
dicts: their interpretation belongs to the reconciler and webhooks, which compile them once per
CRD at activation (templates through `orkestra.template.compile_template`, which memoises).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from orkestra.gvk import GVK, GVR

# Resource template types, in the fixed processing order of docs/katalog.md#keys-of-every-entry.
TEMPLATE_TYPES: tuple[str, ...] = (
    "namespaces", "serviceAccounts", "roles", "clusterRoles", "roleBindings", "clusterRoleBindings",
    "configMaps", "secrets", "persistentVolumeClaims", "services", "deployments", "statefulSets",
    "jobs", "cronJobs", "ingresses", "networkPolicies", "custom",
)
PHASES: tuple[str, ...] = ("onCreate", "onReconcile", "onDelete")
# Types with a copy form: the key naming the object to copy (`fromNamespace`, `toNamespaces` go with it).
COPY_SOURCES: dict[str, str] = {"secrets": "fromSecret", "configMaps": "fromConfigMap"}
FINALIZER = "orkestra.io/finalizer"


@dataclass(frozen=True)
class ApiTypes:
    group: str                 # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool
    builtin: bool              # enriched from the built-in registry

    @property
    def gvk(self) -> GVK:
        return GVK(self.group, self.version, self.kind)

    @property
    def gvr(self) -> GVR:
        return GVR(self.group, self.version, self.plural)

    @property
    def api_version(self) -> str:
        return self.gvk.api_version

    @property
    def gvk_string(self) -> str:
        return str(self.gvk)

    @property
    def crd_name(self) -> str:
        """`plural.group`, the CustomResourceDefinition name (meaningless for built-ins)."""
        return f"{self.plural}.{self.group}"

    @property
    def scope(self) -> str:
        return "Namespaced" if self.namespaced else "Cluster"


@dataclass(frozen=True)
class Dependency:
    name: str
    condition: str             # "started" | "healthy"


@dataclass(frozen=True)
class QueueSettings:
    max_depth: int             # 0 = unlimited
    on_limit: str              # "warn" | "drop"
    failure_threshold: int


@dataclass(frozen=True)
class HookSpec:
    module: str
    function: str
    run_hooks_first: bool
    managed_resources: tuple[dict, ...]   # [{apiVersion?, kind, plural?}] as written
    args: dict                            # string values are templates
    base_dir: str                         # directory of the Katalog file that declared the hook ("" for a URL)

    @property
    def ref(self) -> str:
        return f"{self.module}:{self.function}"


@dataclass
class OperatorBoxSpec:
    workers: int
    workers_source: str                   # "configured" | "default"
    resync: float                         # seconds, 0 = disabled
    timeout: float                        # seconds, per-reconcile watchdog
    queue: QueueSettings
    hooks: HookSpec | None
    finalizers: list[str]                 # declared (Katalog spec.finalizers + operatorBox.finalizers), not Orkestra's own
    delete_timeout: float | None          # seconds; None = wait forever
    templates: dict[str, dict[str, list[dict]]]  # phase -> type -> [canonical entry dict]
    status: dict                          # canonical operatorBox.status ({conditions: bool, fields: [...]})


@dataclass
class CrdEntry:
    key: str
    enabled: bool
    description: str
    api: ApiTypes
    namespace: str
    label_selector: dict[str, str]
    field_selector: dict[str, str]
    depends_on: list[Dependency]
    labels: dict[str, str]                # templates, written onto every CR
    endpoints: dict[str, bool]            # {enabled, health, info}
    allowed_namespaces: list[str]         # effective (own, else global namespaceProtection)
    restricted_namespaces: list[str]
    validation: dict | None               # canonical {rules: [...]}
    mutation: dict | None                 # canonical {mutateFirst, rules: [...]}
    conversion: dict | None               # canonical {storageVersion, updateCRD, paths}
    webhooks: dict                        # {validation, mutation, operations}
    deletion_protection: dict             # effective {enabled, protectCRD, protectCRs, strictMode}
    force_conflict: bool
    ignore_status_patch: bool
    ignore_observed_generation: bool
    box_spec: OperatorBoxSpec
    source: str = ""                      # file the entry came from
    crd_file: str = ""                    # resolved `crdFile` path (`ork run --install-crds` applies it)

    @property
    def has_templates(self) -> bool:
        return any(self.box_spec.templates.get(p) for p in PHASES)

    @property
    def has_unique_rules(self) -> bool:
        """A validation rule (or one of its gates) uses `unique`: admission needs this CRD's cache."""
        def is_unique(cond: dict) -> bool:
            return bool(cond.get("unique")) or cond.get("operator") == "unique"
        return any(is_unique(rule) or any(is_unique(c) for k in ("when", "anyOf") for c in rule.get(k) or ())
                   for rule in (self.validation or {}).get("rules") or ())

    def template_types(self, phase: str) -> list[str]:
        return [t for t in TEMPLATE_TYPES if self.box_spec.templates.get(phase, {}).get(t)]

    def selects(self, namespace: str | None, obj: dict | None) -> bool:
        """Whether this entry's namespace and label selector take `obj` (in `namespace`): what the
        entry's informer would watch, for admission, `ork gate` and the reconciler alike."""
        if self.api.namespaced and self.namespace and namespace != self.namespace:
            return False
        labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
        return all(labels.get(k) == v for k, v in self.label_selector.items())


@dataclass
class Katalog:
    name: str
    version: str
    description: str
    author: str
    tags: list[str]
    kind: str                              # "Katalog" | "Komposer"
    security: dict                         # canonical security block, {} when absent
    finalizers: list[str]                  # spec.finalizers
    crds: dict[str, CrdEntry]              # by CRD key, alphabetical
    start_order: list[str]                 # enabled keys, docs/katalog.md#dependson (Kahn, alphabetical ties)
    sources: list[str]                     # files read, in order
    raw: dict = field(default_factory=dict)        # merged document as written (`/katalog/raw`)
    canonical: dict = field(default_factory=dict)  # canonical form, defaults not filled (bundle ConfigMap)
    enriched: dict = field(default_factory=dict)   # canonical form with every default (`/katalog/enriched`, `ork template`)
    warnings: list[str] = field(default_factory=list)

    @property
    def enabled(self) -> list[CrdEntry]:
        return [e for e in self.crds.values() if e.enabled]

    @property
    def shutdown_order(self) -> list[str]:
        return list(reversed(self.start_order))
