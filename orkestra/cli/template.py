"""`ork template [-f FILE]... [--yaml | --json | --graph]` (docs/cli.md#ork-template).

Prints the merged, validated Katalog in canonical form with every default filled in (the same
document as `/katalog/enriched`), or its dependency levels. With errors it prints the validate
report to stderr and exits 1.
"""
from __future__ import annotations

import json
import sys

import click
import yaml

from orkestra.cli._katalog_files import katalog_files_option, resolve_katalog_files
from orkestra.cli.validate import format_report
from orkestra.katalog.deps import levels
from orkestra.katalog.loader import load_report
from orkestra.katalog.model import Katalog


def format_graph(katalog: Katalog) -> str:
    """Dependency levels, one line per dependent key, then the shutdown order."""
    graph = {key: [d.name for d in katalog.crds[key].depends_on] for key in katalog.start_order}
    by_level: dict[int, list[str]] = {}
    for key, level in levels(graph).items():
        by_level.setdefault(level, []).append(key)
    rows: list[tuple[str, str, str]] = []
    for level in sorted(by_level):
        keys = sorted(by_level[level])
        roots = [k for k in keys if not katalog.crds[k].depends_on]
        if roots:
            rows.append((f"level {level}", ", ".join(roots), ""))
        for key in keys:
            deps = katalog.crds[key].depends_on
            if deps:
                rows.append((f"level {level}", key, "← " + " · ".join(f"{d.name} [{d.condition}]" for d in deps)))
    width = max((len(r[1]) for r in rows if r[2]), default=0)
    lines = [f"{lvl}  {names.ljust(width)}    {deps}".rstrip() if deps else f"{lvl}  {names}" for lvl, names, deps in rows]
    lines.append(f"shutdown order: {', '.join(katalog.shutdown_order)}")
    return "\n".join(lines) + "\n"


@click.command("template")
@katalog_files_option
@click.option("--yaml", "fmt", flag_value="yaml", default=True, help="Canonical YAML (default).")
@click.option("--json", "fmt", flag_value="json", help="Canonical JSON.")
@click.option("--graph", "fmt", flag_value="graph", help="Dependency levels and shutdown order.")
def template(files: tuple[str, ...], fmt: str) -> None:
    """Print the merged Katalog in canonical form with every default filled in."""
    from orkestra.config import CliSettings
    report = load_report(resolve_katalog_files(files), CliSettings.from_env().katalog)
    if report.katalog is None:
        click.echo(format_report(report), nl=False, err=True)
        sys.exit(1)
    katalog = report.katalog
    if fmt == "graph":
        click.echo(format_graph(katalog), nl=False)
    elif fmt == "json":
        click.echo(json.dumps(katalog.enriched, indent=2, ensure_ascii=False, default=str))
    else:
        click.echo(yaml.safe_dump(katalog.enriched, sort_keys=False, allow_unicode=True, default_flow_style=False), nl=False)
