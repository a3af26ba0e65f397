"""`ork validate [-f FILE]... [--full]` (docs/cli.md#ork-validate): the load pipeline with no cluster, as a report.

`format_report` is the one renderer of a `LoadReport`; `ork template`, `ork generate` and
`ork run` print it on errors. Layout: a header, one block per file with errors that belong to no
CRD, one block per CRD key in alphabetical order, and a summary line. Symbols are always printed;
colour only on a terminal with NO_COLOR unset.
"""
from __future__ import annotations

import os
import sys

import click

from orkestra.cli._katalog_files import katalog_files_option, resolve_katalog_files, subdirectory_katalogs
from orkestra.config import CliSettings
from orkestra.katalog.issues import KatalogIssue
from orkestra.katalog.loader import LoadReport, load_report
from orkestra.katalog.model import CrdEntry, Katalog
from orkestra.katalog.rbac import Rule, derive, entry_rules, namespace_rules, self_rules

ICONS = {"ok": ("✓", "green"), "warn": ("⚠", "yellow"), "error": ("✗", "red"), "off": ("○", None)}
RULE_LINE = "─" * 60


def use_color(settings: CliSettings | None = None) -> bool:
    return sys.stdout.isatty() and (settings or CliSettings.from_env()).color


def _icon(state: str, color: bool) -> str:
    symbol, fg = ICONS[state]
    return click.style(symbol, fg=fg) if color and fg else symbol


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _issue_line(kind: str, issue: KatalogIssue) -> list[str]:
    first, *rest = str(issue).split("\n")
    return [f"    {kind}: {first}"] + [f"      {line}" for line in rest]


def _protection(entry: CrdEntry) -> str | None:
    dp = entry.deletion_protection
    if not dp.get("enabled"):
        return None
    if entry.api.builtin:
        text = "label-based (built-in)"
    else:
        crd, crs = dp.get("protectCRD", True), dp.get("protectCRs", True)
        text = ("full (CRD + CRs)" if crd and crs else "CRD only (CRs not protected)" if crd
                else "CRs only (CRD not protected)" if crs else "none")
    return text + (" · strict" if dp.get("strictMode") else "")


def _deps_text(entry: CrdEntry, sep: str) -> str:
    return sep.join(f"{d.name} [{d.condition}]" for d in entry.depends_on)


def _table(rules: list[Rule], indent: str, *, reasons: bool) -> list[str]:
    rows = []
    for r in rules:
        if r.urls:   # a non-resource URL rule: one row per path
            rows += [("url", url, " ".join(r.verbs), r.reason) for url in r.urls]
            continue
        resource = r.resource + (f" [{', '.join(r.resource_names)}]" if r.resource_names else "")
        rows.append((r.group or "core", resource, " ".join(r.verbs), r.reason))
    gw = max((len(g) for g, *_ in rows), default=0)
    rw = max((len(res) for _, res, *_ in rows), default=0)
    vw = max((len(v) for _, _, v, _ in rows), default=0)
    out = []
    for g, res, verbs, reason in rows:
        line = f"{indent}{g.ljust(gw)}  {res.ljust(rw)}  {verbs}"
        if reasons and reason:
            line = f"{indent}{g.ljust(gw)}  {res.ljust(rw)}  {verbs.ljust(vw)}    ← {reason}"
        out.append(line.rstrip())
    return out


def _entry_block(report: LoadReport, key: str, *, full: bool, color: bool) -> list[str]:
    errors, warnings = report.errors_for(key), report.warnings_for(key)
    entry = report.entries.get(key)
    if errors or entry is None:
        lines = [f"{_icon('error', color)} {key}"]
        for issue in errors:
            lines += _issue_line("error", issue)
        for issue in warnings:
            lines += _issue_line("warning", issue)
        return lines
    if not entry.enabled:   # its warnings still print: the summary counts them
        lines = [f"{_icon('off', color)} {key} (disabled)", f"    kind: {entry.api.kind}"]
        for issue in warnings:
            lines += _issue_line("warning", issue)
        return lines
    api = entry.api
    lines = [f"{_icon('warn' if warnings else 'ok', color)} {key}",
             f"    kind: {api.kind}" + (" → enriched from built-in registry" if api.builtin else ""),
             f"    group: {api.group or 'core'} / version: {api.version} / plural: {api.plural} / scope: {api.scope}"]
    resync = report.enriched[key]["operatorBox"]["reconciler"]["resync"]
    lines.append(f"    mode: dynamic / workers: {entry.box_spec.workers} / resync: {resync}")
    if entry.box_spec.hooks is not None:
        found = report.hook_callbacks.get(key, [])
        lines.append(f"    hooks: {entry.box_spec.hooks.ref}" + (f" ({', '.join(found)})" if found else ""))
    nv = len((entry.validation or {}).get("rules", []))
    nm = len((entry.mutation or {}).get("rules", []))
    if nv or nm:
        lines.append(f"    validation: {_plural(nv, 'rule')} / mutation: {_plural(nm, 'rule')}")
    if entry.conversion:
        paths = ", ".join(f"{p['from']}→{p['to']}" for p in entry.conversion.get("paths", []))
        lines.append(f"    conversion: storage {entry.conversion['storageVersion']}" + (f" / paths {paths}" if paths else ""))
    protection = _protection(entry)
    if protection:
        lines.append(f"    protection: {protection}")
    if entry.depends_on:
        lines.append(f"    dependsOn: {_deps_text(entry, ', ')}")
    for issue in warnings:
        lines += _issue_line("warning", issue)
    if full:
        lines.append("    permissions:")
        lines += _table(entry_rules(entry), "      ", reasons=False)
    return lines


def _full_tail(katalog: Katalog, settings: CliSettings) -> list[str]:
    # an invalid ORK_API_AUTH counts as none here (`CliSettings`); `ork run` and `ork generate` refuse it
    ns, tls, api_auth = settings.namespace, settings.tls_secret_name, settings.api_auth == "kubernetes"
    lines = ["startup order"]
    width = max((len(k) for k in katalog.start_order), default=0)
    for i, key in enumerate(katalog.start_order, 1):
        entry = katalog.crds[key]
        line = f"  {i}  {key.ljust(width)}"
        if entry.depends_on:
            line += f"    ← {_deps_text(entry, ' · ')}"
        lines.append(line.rstrip())
    lines.append("")
    lines.append("runtime (ServiceAccount orkestra)")
    lines += _table(derive(katalog, "runtime", namespace=ns, api_auth=api_auth), "  ", reasons=True)
    for role, rules in (("orkestra", namespace_rules(katalog, "runtime", tls_secret=tls)),
                        ("orkestra-self", self_rules(katalog))):
        if rules:
            lines.append(f"runtime (Role {role} in {ns})")
            lines += _table(rules, "  ", reasons=True)
    lines.append("gateway (ServiceAccount orkestra-gateway)")
    gateway = derive(katalog, "gateway", namespace=ns, api_auth=api_auth)
    lines += _table(gateway, "  ", reasons=True) or ["  (no permissions: the Katalog declares no webhook feature)"]
    gateway_local = namespace_rules(katalog, "gateway", tls_secret=tls)
    if gateway_local:
        lines.append(f"gateway (Role orkestra-gateway in {ns})")
        lines += _table(gateway_local, "  ", reasons=True)
    lines.append("control center (ServiceAccount orkestra-cc)")
    lines += _table(derive(katalog, "cc", api_auth=api_auth), "  ", reasons=True) or \
        ["  (no permissions with ORK_API_AUTH=none: the runtime HTTP API it reads checks no token)"]
    return lines


def format_report(report: LoadReport, *, full: bool = False, color: bool = False,
                  settings: CliSettings | None = None) -> str:
    """The docs/cli.md#ork-validate layout of a load report; `--full` names the namespace, TLS
    Secret and API auth of `settings` (the environment's when not given)."""
    head = f"Validating {', '.join(report.files)}"
    if report.kind in ("Katalog", "Komposer") and report.name:
        head += f' ({report.kind} "{report.name}")'
    lines = [head, ""]
    file_errors, file_warnings = report.errors_for(None), report.warnings_for(None)
    for name in dict.fromkeys([i.file for i in file_errors + file_warnings]):
        errs = [i for i in file_errors if i.file == name]
        warns = [i for i in file_warnings if i.file == name]
        lines.append(f"{_icon('error' if errs else 'warn', color)} {name}")
        for issue in errs:
            lines += _issue_line("error", issue)
        for issue in warns:
            lines += _issue_line("warning", issue)
        lines.append("")
    for key in report.crd_keys:
        lines += _entry_block(report, key, full=full, color=color)
        lines.append("")
    if full and report.katalog is not None:
        lines += _full_tail(report.katalog, settings or CliSettings.from_env())
        lines.append("")
    invalid = sum(1 for k in report.crd_keys if report.errors_for(k) or k not in report.entries)
    builtin = len(report.builtin_keys)
    summary = (f"{_plural(len(report.crd_keys), 'CRD')}: {len(report.crd_keys) - invalid} valid, {invalid} invalid "
               f"({builtin} built-in, {len(report.crd_keys) - builtin} custom)")
    if report.warnings:
        summary += f" · {_plural(len(report.warnings), 'warning')}"
    lines += [RULE_LINE, summary]
    return "\n".join(lines) + "\n"


@click.command("validate")
@katalog_files_option
@click.option("--full", is_flag=True, help="Add permissions, the startup order and the component roles.")
@click.option("--exec-hooks", is_flag=True,
              help="Import (run) hook modules to check them; by default they are only read, never executed.")
def validate(files: tuple[str, ...], full: bool, exec_hooks: bool) -> None:
    """Check a Katalog offline; exit 0 only when it has no error.

    Run with no -f in an unpacked pack (no Katalog here, one in each example directory), it
    checks every example's Katalog in turn.
    """
    env = CliSettings.from_env()
    examples = [] if files else subdirectory_katalogs(os.getcwd())
    if examples:
        sys.exit(_validate_each(examples, env, full=full, exec_hooks=exec_hooks))
    report = load_report(resolve_katalog_files(files), env.katalog, exec_hooks=exec_hooks)
    click.echo(format_report(report, full=full, color=use_color(env), settings=env), nl=False)
    sys.exit(0 if report.ok else 1)


def _validate_each(paths: list[str], env: CliSettings, *, full: bool, exec_hooks: bool) -> int:
    """One report per example directory under a header line, then a count; 1 if any failed."""
    failed = []
    for path in paths:
        example = os.path.dirname(path)
        click.echo(f"=== {example}/")
        report = load_report([path], env.katalog, exec_hooks=exec_hooks)
        click.echo(format_report(report, full=full, color=use_color(env), settings=env))
        if not report.ok:
            failed.append(example)
    summary = f"{_plural(len(paths), 'example')}: {len(paths) - len(failed)} valid, {len(failed)} invalid"
    click.echo(summary + (f" ({', '.join(failed)})" if failed else ""))
    return 1 if failed else 0
