"""The Katalog load pipeline (docs/cli.md#ork-validate) and its two entry points.

`load_report(paths)` runs every step and always returns: the per-entry models that are valid,
every error and warning located in the source, and the Katalog model when nothing is wrong (for
`ork validate`). `load_katalog(paths)` returns the model or raises `KatalogErrors` (for
everything else). Stages, one function each: read + parse with marks, legacy normalisation,
imports and `-f` merge (`_read`) → strict schema, once per document (`_schema`) → semantic checks
(`_check`) → enrichment of the entries without errors (`_enrich`) → the model (`_model`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from orkestra.katalog import builtins, checks, cross_checks, resource_checks
from orkestra.katalog.build import build_entry, enrich_entry, enrich_security
from orkestra.katalog.children import fill_declared_plurals
from orkestra.katalog.crdfile import expand_crd_files
from orkestra.katalog.defaults import KatalogDefaults
from orkestra.katalog.deps import start_order
from orkestra.katalog.hookcheck import hook_base_dir
from orkestra.katalog.imports import Composed, compose, merge_files, read_document
from orkestra.katalog.inputs import LoadInputs
from orkestra.katalog.issues import IssueSink, KatalogErrors, KatalogIssue
from orkestra.katalog.legacy import normalise
from orkestra.katalog.model import CrdEntry, Katalog
from orkestra.katalog.schema import check_schema
from orkestra.katalog.source import MarkedMap, map_at, plain


@dataclass
class LoadReport:
    files: list[str]
    kind: str = ""
    name: str = ""
    katalog: Katalog | None = None
    entries: dict[str, CrdEntry] = field(default_factory=dict)   # entries without errors
    crd_keys: list[str] = field(default_factory=list)             # every declared key, alphabetical
    builtin_keys: set[str] = field(default_factory=set)            # entries naming a built-in kind
    enriched: dict[str, dict] = field(default_factory=dict)         # enriched form of valid entries
    errors: list[KatalogIssue] = field(default_factory=list)
    warnings: list[KatalogIssue] = field(default_factory=list)
    hook_callbacks: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def errors_for(self, crd: str | None) -> list[KatalogIssue]:
        return [i for i in self.errors if i.crd == crd]

    def warnings_for(self, crd: str | None) -> list[KatalogIssue]:
        return [i for i in self.warnings if i.crd == crd]


def _without_crds(doc: dict) -> dict:
    """A shallow view of a Komposer document for the schema: overrides are partial entries."""
    view = MarkedMap(doc)
    view.mark, view.key_marks = getattr(doc, "mark", None), getattr(doc, "key_marks", {})
    spec = doc.get("spec")
    if isinstance(spec, dict):
        spec_view = MarkedMap(spec)
        spec_view.mark, spec_view.key_marks = getattr(spec, "mark", None), getattr(spec, "key_marks", {})
        spec_view["crds"] = {}
        view["spec"] = spec_view
    return view


def _read(paths: list[str], inputs: LoadInputs, sink: IssueSink) -> Composed | None:
    parts: list[Composed] = []
    for path in paths:
        doc = read_document(path, sink)
        if doc is None:
            continue
        raw = plain(doc)
        normalise(doc, sink)
        expand_crd_files(doc, path, sink)
        composed = compose(doc, path, inputs, sink)
        composed.raw = raw
        parts.append(composed)
    return merge_files(parts, sink) if parts else None


def _schema(composed: Composed, sink: IssueSink) -> None:
    for doc in composed.parsed:
        if doc is composed.doc:
            continue
        view = _without_crds(doc) if doc.get("kind") == "Komposer" else doc
        sink.doc = view
        check_schema(view, sink)
    sink.doc = composed.doc
    check_schema(composed.doc, sink)


def _group(api: dict) -> str | None:
    group = api.get("group")
    return group if isinstance(group, str) else None


def load_report(paths: list[str], inputs: LoadInputs | None = None, *, exec_hooks: bool = False) -> LoadReport:
    """Run the whole pipeline; never raises for bad input. Hook modules are located and their
    source inspected, never executed, unless `exec_hooks` (then imported, factories still not called).
    `inputs` carries what the environment contributes (`orkestra.config.katalog_inputs`); without
    it, none of it applies: no hook path, no registry, the built-in defaults."""
    inputs = LoadInputs() if inputs is None else inputs
    report = LoadReport(files=list(paths))
    sink = IssueSink(default_file=paths[0] if paths else "")
    for problem in inputs.problems:         # a bad default is an error and the built-in applies
        sink.error((), problem, with_path=False)
    composed = _read(paths, inputs, sink)
    if composed is None:
        report.errors, report.warnings = sink.errors, sink.warnings
        return report
    _describe(report, composed.doc)
    _schema(composed, sink)
    crds = _crds(composed.doc)
    _list_entries(report, crds)
    ctx = _check(report, composed, crds, inputs.hooks_path, sink, exec_hooks)
    shared = _shared(composed.doc, sink.shape_errors)
    _enrich(report, composed, crds, ctx, shared, inputs.defaults, sink)
    report.errors, report.warnings = sink.errors, sink.warnings
    if not report.errors:
        report.katalog = _model(report, composed, shared, sink)
    return report


def _describe(report: LoadReport, doc: dict) -> None:
    """The document's kind and name, for the report header, whatever else is wrong."""
    kind, name = doc.get("kind"), _metadata(doc).get("name")
    report.kind = kind if isinstance(kind, str) else ""
    report.name = name if isinstance(name, str) else ""


def _metadata(doc: dict) -> dict:
    return map_at(doc, "metadata")


def _spec(doc: dict) -> dict:
    return map_at(doc, "spec")


def _crds(doc: dict) -> dict:
    return map_at(_spec(doc), "crds")


def _list_entries(report: LoadReport, crds: dict) -> None:
    """Every declared key, and which of them name a built-in kind (read before any check)."""
    report.crd_keys = sorted(crds)
    report.builtin_keys = {k for k, e in crds.items() if isinstance(e, dict) and isinstance(e.get("apiTypes"), dict)
                           and isinstance(e["apiTypes"].get("kind"), str)
                           and builtins.lookup(e["apiTypes"]["kind"], _group(e["apiTypes"])) is not None}


def _check(report: LoadReport, composed: Composed, crds: dict, hooks_path: tuple[str, ...], sink: IssueSink,
           exec_hooks: bool) -> checks.CheckContext:
    """The semantic checks: the top level, each entry whose shape passed the schema, then the
    checks across entries. Returns the context holding each entry's resolved API."""
    schema_bad = sink.shape_errors
    fill_declared_plurals(crds)
    hook_dirs = {k: hook_base_dir(s) for k, s in composed.crd_sources.items()}
    ctx = checks.CheckContext(sink=sink, hooks_path=hooks_path, hook_dirs=hook_dirs, exec_hooks=exec_hooks)
    checks.check_top(composed.doc, ctx)
    for key in report.crd_keys:
        checks.check_names(ctx, key)
        entry = crds[key]
        if key in schema_bad or not isinstance(entry, dict):
            continue
        api = checks.resolve_api(ctx, key, entry)
        if api is not None:
            ctx.apis[key] = api
        checks.check_ranges(ctx, key, entry)
        resource_checks.check_resources(ctx, key, entry, api)
        checks.check_rules(ctx, key, entry)
        checks.check_status(ctx, key, entry, api)
        checks.check_hooks(ctx, key, entry)
    cross_checks.check_duplicate_watches(ctx, crds)
    cross_checks.check_dependencies(ctx, crds)
    cross_checks.check_conversion_groups(ctx, crds)
    report.hook_callbacks = ctx.hook_callbacks
    return ctx


@dataclass
class _Shared:
    """What every entry inherits from the top level (empty when the top level is malformed)."""
    security: dict
    finalizers: list


def _shared(doc: dict, schema_bad: set[str | None]) -> _Shared:
    top_ok = None not in schema_bad
    return _Shared(security=enrich_security(doc.get("security") if top_ok else None),
                   finalizers=list(_spec(doc).get("finalizers") or []) if top_ok else [])


def _enrich(report: LoadReport, composed: Composed, crds: dict, ctx: checks.CheckContext, shared: _Shared,
            defaults: KatalogDefaults, sink: IssueSink) -> None:
    """Enrich and model each entry that has no error and a resolved API."""
    failed = {i.crd for i in sink.errors}
    for key in report.crd_keys:
        if key in failed or key not in ctx.apis:
            continue
        entry = crds[key]
        enriched = enrich_entry(entry, ctx.apis[key], shared.security, defaults)
        report.enriched[key] = enriched
        workers_set = "workers" in entry.get("operatorBox", {}).get("reconciler", {})
        report.entries[key] = build_entry(key, enriched, ctx.apis[key], configured_workers=workers_set,
                                          spec_finalizers=shared.finalizers,
                                          source=composed.crd_sources.get(key, ""),
                                          crd_file=entry.get("crdFile", ""))


def _model(report: LoadReport, composed: Composed, shared: _Shared, sink: IssueSink) -> Katalog:
    """The Katalog of an error-free load, with its canonical and enriched documents."""
    meta = _metadata(composed.doc)
    canonical = plain(composed.doc)
    canonical.pop("imports", None)
    for entry in canonical["spec"]["crds"].values():
        entry.pop("crdFile", None)   # apiTypes and namespaced hold what it said: the output stands alone
    enriched_doc = {
        "apiVersion": canonical["apiVersion"], "kind": canonical["kind"],
        "metadata": {"name": meta["name"], "description": meta.get("description", ""),
                     "version": str(meta.get("version", "")), "author": meta.get("author", ""),
                     "tags": plain(meta.get("tags", []))},
        **({"security": shared.security} if shared.security else {}),
        "spec": {"finalizers": shared.finalizers, "crds": report.enriched},
    }
    graph = {k: [d.name for d in e.depends_on] for k, e in report.entries.items() if e.enabled}
    return Katalog(
        name=meta["name"], version=str(meta.get("version", "")), description=meta.get("description", ""),
        author=meta.get("author", ""), tags=list(meta.get("tags", [])), kind=canonical["kind"],
        security=shared.security, finalizers=shared.finalizers, crds=dict(sorted(report.entries.items())),
        start_order=start_order(graph), sources=composed.files, raw=composed.raw or canonical,
        canonical=canonical, enriched=enriched_doc, warnings=[str(w) for w in sink.warnings],
    )


def load_katalog(paths: list[str], inputs: LoadInputs | None = None) -> Katalog:
    """The loaded model; raises KatalogErrors listing every problem."""
    report = load_report(paths, inputs)
    if report.katalog is None:
        raise KatalogErrors(report.errors)
    return report.katalog
