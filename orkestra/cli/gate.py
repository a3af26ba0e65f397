"""`ork gate`: the offline admission check of docs/cli.md#ork-gate.

For each YAML document of `--cr`, the command finds the Katalog entries the `/validate` webhook
would use (same GVK, same namespace and label selector; or the entry named by `--crd`), previews
the mutation rules and evaluates the validation rules on the mutated object with the very code
the webhooks and the reconciler use (`orkestra.conditions.rules`). There is no cluster, so
`unique` rules are listed as skipped and not counted.

Everything that can be wrong with the input (Katalog, CR file, unknown kind, rules that do not
compile) is found before any block is printed, and exits 2; a denied document exits 1. Printing
is separated from evaluation: `_Rules` holds an entry's compiled rules, `_Block` the results for
one document, and `_render` lays them out in the columns of the spec's sample.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import click
import yaml

from orkestra.cli._katalog_files import NoKatalogFound, katalog_files_option, resolve_katalog_files
from orkestra.conditions import MISSING, stringify
from orkestra.katalog.inputs import LoadInputs
from orkestra.katalog.model import CrdEntry, Katalog
from orkestra.conditions.rules import (
    AppliedChange, MutationError, MutationRule, RuleError, RuleResult, ValidationRule,
    compile_mutation, compile_validation, mutate, validate,
)

_EXIT_DENIED = 1
_EXIT_INPUT = 2
_ICONS = {"passed": ("✓", "green"), "denied": ("✗", "red"), "warned": ("⚠", "yellow"),
          "error": ("⚠", "yellow"), "skipped": ("–", None)}


class _InputError(Exception):
    """Input that makes the check impossible (exit 2)."""


@dataclass(frozen=True)
class _Rules:
    """One entry's rules, compiled before anything is printed."""

    entry: CrdEntry
    mutation: tuple[MutationRule, ...]
    validation: tuple[ValidationRule, ...]

    @classmethod
    def compile(cls, entry: CrdEntry) -> _Rules:
        problems = []
        compiled: dict[str, tuple] = {}
        for block, compile_rules in (("mutation", compile_mutation), ("validation", compile_validation)):
            try:
                compiled[block] = compile_rules((getattr(entry, block) or {}).get("rules") or [])
            except RuleError as exc:
                problems += [f"  spec.crds.{entry.key}.{block}.{problem}" for problem in exc.problems]
        if problems:
            raise _InputError("invalid Katalog:\n" + "\n".join(problems))
        return cls(entry, compiled["mutation"], compiled["validation"])


@dataclass
class _Block:
    entry: CrdEntry
    doc: dict
    selected: bool = True
    has_mutation: bool = False
    changes: list[AppliedChange] = field(default_factory=list)
    mutation_error: str = ""
    has_validation: bool = False
    results: list[RuleResult] = field(default_factory=list)

    @property
    def denied(self) -> bool:
        return any(r.status == "denied" for r in self.results)


def _katalog_paths(files: tuple[str, ...]) -> list[str]:
    """The shared Katalog selection; `gate` reports a missing Katalog as unreadable input (exit 2)."""
    try:
        return resolve_katalog_files(files)
    except NoKatalogFound as exc:
        raise _InputError(str(exc)) from None


def _load(paths: list[str], inputs: LoadInputs) -> Katalog:
    from orkestra.katalog import load_katalog
    from orkestra.katalog.issues import KatalogErrors

    try:
        return load_katalog(paths, inputs)
    except KatalogErrors as exc:
        raise _InputError("invalid Katalog:\n" + "\n".join(f"  {issue}" for issue in exc.issues)) from None


def _documents(path: str) -> list[dict]:
    try:
        if path == "-":
            docs = [d for d in yaml.safe_load_all(sys.stdin) if d is not None]
        else:
            with open(path, encoding="utf-8") as handle:
                docs = [d for d in yaml.safe_load_all(handle) if d is not None]
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise _InputError(f"cannot read {path}: {exc}") from None
    for number, doc in enumerate(docs, 1):
        if not isinstance(doc, dict) or not doc.get("apiVersion") or not doc.get("kind"):
            raise _InputError(f"{path}: document {number} is not a Kubernetes object (apiVersion and kind are required)")
        if not isinstance(doc.get("metadata") or {}, dict):
            raise _InputError(f"{path}: document {number}: metadata must be a map")
    if not docs:
        raise _InputError(f"{path}: no YAML documents")
    return docs


def _entries_for(doc: dict, katalog: Katalog, crd: str | None) -> list[tuple[CrdEntry, bool]]:
    """Entries to check with whether their selector matches (`--crd` forces one entry)."""

    if crd is not None:
        if crd not in katalog.crds:
            raise _InputError(f'unknown CRD "{crd}" (the Katalog has: {", ".join(katalog.crds) or "none"})')
        return [(katalog.crds[crd], True)]
    candidates = [e for e in katalog.crds.values()
                  if e.api.api_version == doc["apiVersion"] and e.api.kind == doc["kind"]]
    if not candidates:
        raise _InputError(f'unknown kind: no Katalog entry for {doc["kind"]} {doc["apiVersion"]} '
                          f'({_ref(doc, None)}); pass --crd to choose one')
    return [(e, e.selects(_namespace(doc, e), doc)) for e in candidates]


def _namespace(doc: dict, entry: CrdEntry | None) -> str:
    meta = doc.get("metadata") or {}
    return (meta.get("namespace") or "default") if entry is None or entry.api.namespaced else ""


def _ref(doc: dict, entry: CrdEntry | None) -> str:
    name = stringify((doc.get("metadata") or {}).get("name")) or "(no name)"
    ns = _namespace(doc, entry)
    return f"{ns}/{name}" if ns else name


def _check(rules: _Rules, doc: dict, selected: bool) -> _Block:
    block = _Block(rules.entry, doc, selected)
    if not selected:
        return block
    block.has_mutation, block.has_validation = bool(rules.mutation), bool(rules.validation)
    subject = doc
    if rules.mutation:
        try:
            outcome = mutate(rules.mutation, doc)
            block.changes, subject = outcome.applied, outcome.obj
        except MutationError as exc:
            block.mutation_error = str(exc)
    if rules.validation:
        block.results = validate(rules.validation, subject).evaluated
    return block


def _paint(text: str, colour: str | None, enabled: bool, *, bold: bool = False) -> str:
    return click.style(text, fg=colour, bold=bold) if enabled and (colour or bold) else text


def _shown(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    if value is None:
        return "null"
    return stringify(value) or '""'


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _render(block: _Block, colour: bool) -> list[str]:
    api = block.entry.api
    head = f"◆ {block.entry.key}  ({api.kind} {api.api_version})  {_ref(block.doc, block.entry)}"
    lines = [_paint(head, None, colour, bold=True)]
    if not block.selected:
        lines.append("  not selected by this entry's namespace or labelSelector: allowed")
        return lines
    fields = [c.path for c in block.changes] + [r.field for r in block.results]
    width = max((len(f) for f in fields), default=0) + 3
    if block.has_mutation:
        lines.append("  mutations")
        if block.mutation_error:
            lines.append(f"    {_paint('⚠', 'yellow', colour)} mutation skipped: {block.mutation_error}")
        olds = [_shown(c.old) for c in block.changes]
        news = [_shown(c.new) for c in block.changes]
        old_w = max(map(len, olds), default=0)
        new_w = max(map(len, news), default=0) + 2
        for change, old, new in zip(block.changes, olds, news):
            lines.append(f"    ↳ {change.path:<{width}}{old:<{old_w}} → {new:<{new_w}}{change.kind}")
        if not block.changes and not block.mutation_error:
            lines.append("    (no changes)")
    if not block.has_validation:
        lines.append("  allowed — no validation rules")
        return lines
    lines.append("  validation")
    for result in block.results:
        icon, hue = _ICONS[result.status]
        text = result.message
        if result.status == "skipped":
            text = "unique: skipped (needs a cluster)"
        elif result.status == "error":
            text = f"could not be evaluated: {result.message}"
        elif result.status in ("denied", "warned") and result.value:
            text += f' (got: "{result.value}")'
        lines.append(f"    {_paint(icon, hue, colour)} {result.field:<{width}}{text}".rstrip())
    counted = [r for r in block.results if r.status != "skipped"]
    passed = sum(r.status == "passed" for r in counted)
    denials = sum(r.status == "denied" for r in counted)
    warnings = sum(r.status in ("warned", "error") for r in counted)
    verdict = _paint("denied", "red", colour) if denials else _paint("allowed", "green", colour)
    summary = f"  {verdict} — {passed} of {_plural(len(counted), 'rule')} passed"
    summary += f" · {_plural(denials, 'denial')}" if denials else ""
    summary += f" · {_plural(warnings, 'warning')}" if warnings else ""
    lines.append(summary)
    return lines


@click.command("gate")
@katalog_files_option
@click.option("--cr", "cr_path", required=True, metavar="PATH",
              help="YAML file with one or more CRs ('-' reads stdin).")
@click.option("--crd", "crd", default=None, metavar="NAME",
              help="Use this Katalog entry instead of matching apiVersion/kind.")
def gate(files: tuple[str, ...], cr_path: str, crd: str | None) -> None:
    """Offline admission check: preview mutation, then evaluate validation rules on each CR."""
    from orkestra.config import CliSettings
    env = CliSettings.from_env()
    try:
        katalog = _load(_katalog_paths(files), env.katalog)
        docs = _documents(cr_path)
        plan = [(doc, _entries_for(doc, katalog, crd)) for doc in docs]
        compiled = {e.key: _Rules.compile(e) for _, entries in plan for e, _ in entries}
    except _InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(_EXIT_INPUT)
    colour = sys.stdout.isatty() and env.color
    blocks = [_check(compiled[entry.key], doc, selected) for doc, entries in plan for entry, selected in entries]
    click.echo("\n\n".join("\n".join(_render(b, colour)) for b in blocks), color=colour)
    sys.exit(_EXIT_DENIED if any(b.denied for b in blocks) else 0)
