"""Desired state: one template entry + the CR -> the complete manifests of its children.

Pure. Templates are compiled when the CRD's entries are compiled (`compile_entries`, once per
CRD at build time; `compile_template` memoises, so rendering is a lookup). Every type goes
through the same steps, with the per-type differences read from `orkestra.reconcile.kinds`:
conditions -> forEach expansion -> render every string leaf (§9.3 native types) -> coerce the
typed fields -> namespace and default name -> type builder -> standard labels and ownership.
The two lookups that need the cluster (a custom kind's scope, a Secret or ConfigMap to copy) are
injected.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from orkestra.conditions import ConditionSet, compile_conditions, lookup
from orkestra.gvk import GVR
from orkestra.katalog.model import COPY_SOURCES, PHASES, TEMPLATE_TYPES, CrdEntry
from orkestra.katalog.template_kinds import static_kind
from orkestra.reconcile.errors import RenderError
from orkestra.reconcile.kinds import (CONTROL_KEYS, INT_OR_STRING, KINDS, SELECTOR_FIELDS, BuildContext, KindSpec,
                                      text_map)
from orkestra.reconcile.naming import default_name, stamp_identity
from orkestra.template import TemplateEvalError, compile_template, is_template

ResolveKind = Callable[[str, str], "tuple[GVR, bool] | None"]   # (apiVersion, kind) -> (gvr, namespaced)
ReadSource = Callable[[GVR, str, str], "dict | None"]           # (resource, namespace, name) -> object

_OMIT = object()


@dataclass(frozen=True)
class TemplateEntry:
    """One compiled entry of `operatorBox.<phase>.<type>[index]`."""

    crd_key: str
    phase: str
    type: str
    index: int
    raw: dict
    conditions: ConditionSet | None

    @property
    def id(self) -> str:
        return f"{self.phase}.{self.type}.{self.index}"

    @property
    def path(self) -> str:
        return f"spec.crds.{self.crd_key}.operatorBox.{self.phase}.{self.type}[{self.index}]"

    @property
    def spec(self) -> KindSpec:
        return KINDS[self.type]

    @property
    def mode(self) -> str:
        """`apply` (SSA every reconcile), `create` (create when missing) or `delete` (onDelete action)."""
        if self.phase == "onDelete" and self.raw.get("action") == "delete":
            return "delete"
        if self.spec.create_only or self.raw.get("once"):
            return "create"
        if self.phase == "onCreate" and not self.raw.get("reconcile"):
            return "create"
        return "apply"

    def resolved_kind(self, resolve_kind: "ResolveKind") -> "tuple[GVR, bool] | None":
        """(GVR, namespaced) of a `custom` entry whose kind is not a template; None otherwise."""
        static = static_kind(self.raw)
        return resolve_kind(*static) if static is not None else None

    def static_gvr(self, resolve_kind: "ResolveKind") -> "tuple[str, GVR] | None":
        """(kind, GVR) this entry writes, known before rendering; None for an unresolved custom kind."""
        if self.type != "custom":
            return self.spec.kind, self.spec.facts.gvr
        resolved = self.resolved_kind(resolve_kind)
        return (str(self.raw["kind"]), resolved[0]) if resolved is not None else None

    @property
    def desired_state(self) -> bool:
        """Children of desired-state entries are pruned when their condition or forEach item goes away."""
        return self.phase != "onDelete" and self.mode == "apply"


@dataclass
class DesiredChild:
    template_id: str
    type: str
    gvr: GVR
    kind: str
    namespaced: bool
    name: str
    namespace: str | None
    manifest: dict
    mode: str                  # apply | create | delete
    label_tracked: bool

    @property
    def ref(self) -> str:
        """`Deployment default/web-deployment` (events and error messages)."""
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


def _walk_strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _walk_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk_strings(v)


def compile_entries(entry: CrdEntry, phases: tuple[str, ...] = PHASES) -> list[TemplateEntry]:
    """Every template entry of `phases`, in phase, type and declaration order, templates compiled."""
    out = []
    for phase in phases:
        for type_ in TEMPLATE_TYPES:
            for i, raw in enumerate(entry.box_spec.templates.get(phase, {}).get(type_) or []):
                for s in _walk_strings({k: v for k, v in raw.items() if k not in ("when", "anyOf", "or")}):
                    if "{{" in s:
                        compile_template(s)
                when, any_of = raw.get("when"), raw.get("anyOf") or raw.get("or")
                conds = compile_conditions(when, any_of) if (when or any_of) else None
                out.append(TemplateEntry(entry.key, phase, type_, i, raw, conds))
    return out


def render_value(value: Any, root: dict, extra: dict, path: str) -> Any:
    """Render every string leaf; a template giving nil or `""` is dropped from its parent."""
    if isinstance(value, str):
        if "{{" not in value:
            return value
        try:
            result = compile_template(value).render_value(root, **extra)
        except TemplateEvalError as err:
            raise RenderError(f"template error at {path}: {err}") from None
        return _OMIT if result is None or result == "" else result
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            r = render_value(v, root, extra, f"{path}.{k}")
            if r is not _OMIT:
                out[k] = r
        return out
    if isinstance(value, list):
        return [r for i, v in enumerate(value)
                if (r := render_value(v, root, extra, f"{path}[{i}]")) is not _OMIT]
    return value


def coerce_int(value: Any, path: str) -> int:
    if isinstance(value, bool):
        raise RenderError(f"{path}: expected an integer, got {str(value).lower()}")
    if isinstance(value, int):
        return value
    try:
        number = float(str(value).strip())
    except ValueError:
        raise RenderError(f'{path}: expected an integer, got "{value}"') from None
    if not number.is_integer():
        raise RenderError(f'{path}: expected an integer, got "{value}"')
    return int(number)


def coerce_bool(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise RenderError(f'{path}: expected a boolean, got "{value}"')


def _coerce(fields: dict, spec: KindSpec, path: str) -> dict:
    for key in spec.int_fields:
        if key in fields:
            fields[key] = coerce_int(fields[key], f"{path}.{key}")
    for key in INT_OR_STRING:
        if key in fields:
            try:
                fields[key] = coerce_int(fields[key], f"{path}.{key}")
            except RenderError:
                fields[key] = str(fields[key])
    for key in spec.bool_fields:
        if key in fields:
            fields[key] = coerce_bool(fields[key], f"{path}.{key}")
    return fields


def for_each_items(tpl: TemplateEntry, cr: dict) -> list[dict] | None:
    """The template names bound per forEach element, or None without forEach. As in the Go
    Orkestra (issue 13 C11): `.item` is the list element, or the map key (sorted order) with
    `.value` its value; `.index` counts from 0; `.<as>` is `.item` again."""
    spec = tpl.raw.get("forEach")
    if not spec:
        return None
    value = lookup(cr, spec["field"])
    if isinstance(value, dict):
        bound = [{"item": k, "value": value[k]} for k in sorted(value)]
    elif isinstance(value, list):
        bound = [{"item": v} for v in value]
    else:
        return []
    alias = spec.get("as")
    for i, names in enumerate(bound):
        names["index"] = i
        if alias:
            names[alias] = names["item"]
    return bound


def _kind_of(tpl: TemplateEntry, fields: dict, resolve_kind: ResolveKind) -> tuple[str, str, GVR, bool]:
    spec = tpl.spec
    if spec.type != "custom":
        return spec.api_version, spec.kind, spec.facts.gvr, spec.namespaced
    api_version, kind = fields.get("apiVersion"), fields.get("kind")
    if not api_version or not kind:
        raise RenderError(f"{tpl.path}: apiVersion and kind are required")
    resolved = resolve_kind(str(api_version), str(kind))
    if resolved is None:
        raise RenderError(f"{tpl.path}: the API server does not serve {kind} in {api_version}")
    return str(api_version), str(kind), resolved[0], resolved[1]


def render_entry(tpl: TemplateEntry, cr: dict, *, children: dict, resolve_kind: ResolveKind,
                 read_source: ReadSource) -> list[DesiredChild]:
    """The children this entry declares for `cr` now (none when its conditions are false)."""
    items = for_each_items(tpl, cr)
    out: list[DesiredChild] = []
    for names in ([{}] if items is None else items):
        extra: dict = {"children": children, **names}
        if tpl.conditions is not None and not tpl.conditions.evaluate(cr, extra=extra):
            continue
        out += _render_one(tpl, cr, extra, resolve_kind, read_source)
    return out


def _render_one(tpl: TemplateEntry, cr: dict, extra: dict, resolve_kind: ResolveKind,
                read_source: ReadSource) -> list[DesiredChild]:
    raw = {k: v for k, v in tpl.raw.items() if k not in ("when", "anyOf", "or", "forEach")}
    fields = render_value(raw, cr, extra, tpl.path)
    for key in SELECTOR_FIELDS:   # a selector whose values all rendered empty is absent, not "every pod"
        if fields.get(key) == {} and raw.get(key):
            del fields[key]
    fields = _coerce(fields, tpl.spec, tpl.path)
    api_version, kind, gvr, namespaced = _kind_of(tpl, fields, resolve_kind)
    cr_ns = cr["metadata"].get("namespace")
    namespace = None
    if namespaced:
        namespace = str(fields.get("namespace") or cr_ns or "")
        if not namespace:
            raise RenderError(f"{tpl.path}.namespace: required for a namespaced child of a cluster-scoped CR")
    suffix = "-" + kind.lower() if tpl.type == "custom" else tpl.spec.suffix
    name = str(fields.get("name") or "")
    namespaces = [namespace]
    copy_key = COPY_SOURCES.get(tpl.type)
    if copy_key and fields.get(copy_key):
        name = name or str(fields[copy_key])
        src_name, source_ns = str(fields[copy_key]), _source_namespace(tpl, fields, cr_ns)
        namespaces = [str(n) for n in fields.get("toNamespaces") or []] or namespaces
        # A copy onto its own source would adopt (and later delete) the user's object: skip that target.
        namespaces = [ns for ns in namespaces if (ns, name) != (source_ns, src_name)]
        if not namespaces:
            return []
        fields.update(_copied(tpl, copy_key, source_ns, src_name, read_source))
    if not name:
        name = default_name(cr, suffix, cluster_scoped=not namespaced)
    children = []
    for ns in namespaces:
        ctx = BuildContext(cr=cr, crd_key=tpl.crd_key, name=name, namespace=ns, path=tpl.path)
        meta: dict = {"name": name}
        if ns:
            meta["namespace"] = ns
        if fields.get("labels"):
            meta["labels"] = text_map(fields["labels"])
        if fields.get("annotations"):
            meta["annotations"] = text_map(fields["annotations"])
        manifest = {"apiVersion": api_version, "kind": kind, "metadata": meta}
        if tpl.mode != "delete":
            body = {k: v for k, v in fields.items() if k not in CONTROL_KEYS}
            manifest.update(tpl.spec.build(body, ctx))
        tracked = stamp_identity(manifest, cr, tpl.crd_key, tpl.id)
        children.append(DesiredChild(template_id=tpl.id, type=tpl.type, gvr=gvr, kind=kind,
                                     namespaced=namespaced, name=name, namespace=ns, manifest=manifest,
                                     mode=tpl.mode, label_tracked=tracked))
    return children


def _source_namespace(tpl: TemplateEntry, fields: dict, cr_ns: str | None) -> str:
    src_ns = str(fields.get("fromNamespace") or cr_ns or "")
    if not src_ns:
        raise RenderError(f"{tpl.path}.fromNamespace: required when the CR is cluster-scoped")
    _guard_copy_source(tpl, fields, src_ns, cr_ns)
    return src_ns


def _copied(tpl: TemplateEntry, copy_key: str, src_ns: str, src_name: str, read_source: ReadSource) -> dict:
    """The copy form of Secrets (`fromSecret`) and ConfigMaps (`fromConfigMap`): the source's data."""
    kind = tpl.spec.kind
    source = read_source(tpl.spec.facts.gvr, src_ns, src_name)
    if source is None:
        raise RenderError(f"{tpl.path}.{copy_key}: {kind} {src_ns}/{src_name} not found")
    return {"copiedType": source.get("type") or "Opaque", "copiedData": dict(source.get("data") or {}),
            "copiedBinaryData": dict(source.get("binaryData") or {})}


def _guard_copy_source(tpl: TemplateEntry, fields: dict, src_ns: str, cr_ns: str | None) -> None:
    """A copy source built from CR data stays inside the CR's own namespace (docs/security.md).

    The runtime can read Secrets its CR authors cannot: a `fromNamespace`/`fromSecret` templated
    from the CR would let them copy any Secret into a namespace they read. Sources in other
    namespaces must be named literally in the Katalog, where its author chose them; so must the
    namespaces such a copy goes to (a target built from the CR stays in the CR's namespace).
    """
    from_cr = [key for key in (COPY_SOURCES[tpl.type], "fromNamespace") if is_template(str(tpl.raw.get(key) or ""))]
    if not from_cr:
        return
    if src_ns != cr_ns:
        raise RenderError(f"{tpl.path}.fromNamespace: the copy source is built from the CR ({', '.join(from_cr)}), "
                          f"so it must be in the CR's own namespace, not {src_ns!r}; name sources in other "
                          f"namespaces literally in the Katalog")
    key = "toNamespaces" if tpl.raw.get("toNamespaces") else "namespace"
    raw_targets = tpl.raw.get(key)
    raw_targets = raw_targets if isinstance(raw_targets, list) else [raw_targets]
    if key == "toNamespaces":
        targets = [str(n) for n in fields.get("toNamespaces") or []]
    else:   # without toNamespaces the copy goes to the entry's `namespace`
        targets = [str(fields.get("namespace") or cr_ns or "")]
    built = [t for raw, t in zip(raw_targets, targets) if is_template(str(raw or ""))] if key == "toNamespaces" \
        else (targets if is_template(str(raw_targets[0] or "")) else [])
    if any(t != cr_ns for t in built):
        raise RenderError(f"{tpl.path}.{key}: a {tpl.spec.kind} copied from a source built from the CR "
                          f"({', '.join(from_cr)}) goes only to namespaces named literally in the Katalog or "
                          "to the CR's own namespace")


def may_label_track(entries: list[TemplateEntry], *, cr_namespaced: bool,
                    resolve_kind: ResolveKind) -> bool:
    """Can these entries produce a child that cannot be owned (§7.1 finalizer rule)? Conservative."""
    if not cr_namespaced:
        return False
    for tpl in entries:
        if tpl.mode == "delete":
            continue
        if tpl.raw.get("namespace") or tpl.raw.get("toNamespaces"):
            return True
        if tpl.type == "custom":
            resolved = tpl.resolved_kind(resolve_kind)
            if resolved is not None and not resolved[1]:
                return True
        elif not tpl.spec.namespaced:
            return True
    return False


def tracked_gvrs(entries: list[TemplateEntry], resolve_kind: ResolveKind) -> list[GVR]:
    """GVRs this CRD's templates can write (where the deletion flow looks for label-tracked children)."""
    gvrs: list[GVR] = []
    for tpl in entries:
        found = tpl.static_gvr(resolve_kind)
        if found is not None and found[1] not in gvrs:
            gvrs.append(found[1])
    return gvrs


__all__ = ["DesiredChild", "TemplateEntry", "compile_entries", "render_entry", "render_value",
           "coerce_int", "coerce_bool", "for_each_items", "may_label_track", "tracked_gvrs"]
