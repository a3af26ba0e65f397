"""`ork events CRD [NAME]` (docs/cli.md#ork-events): the Kubernetes Events of a CRD's objects, as a table.

The Kind comes from the Katalog entry `CRD` (`-f`, else ./katalog.yaml or ./komposer.yaml);
without a Katalog, `CRD` is taken as the Kind. The API call is one list with a field selector;
sorting, the tail and the table are pure functions so they are tested without a cluster.
"""
from __future__ import annotations

import sys
from datetime import datetime, timezone

import click

from orkestra.cli._katalog_files import katalog_files_option
from orkestra.durations import human_age
from orkestra.gvk import GVR

EVENTS = GVR("", "v1", "events")
MESSAGE_WIDTH = 55


def event_time(event: dict) -> str:
    """The last time an Event happened (RFC 3339), for sorting and the AGE column."""
    series = (event.get("series") or {}).get("lastObservedTime")
    return (event.get("lastTimestamp") or series or event.get("eventTime")
            or (event.get("metadata") or {}).get("creationTimestamp") or "")


def _parse(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def cut_message(message: str) -> str:
    text = " ".join(message.split())
    return text if len(text) <= MESSAGE_WIDTH else text[:MESSAGE_WIDTH - 2] + "…"


def object_column(event: dict) -> str:
    inv = event.get("involvedObject") or {}
    parts = [inv.get("namespace"), inv.get("kind"), inv.get("name")]
    return "/".join(p for p in parts if p)


def render_table(events: list[dict], *, now: datetime, tail: int) -> str:
    """Sorted oldest first; `tail` newest kept (0 = all); the footer says how many were hidden."""
    ordered = sorted(events, key=event_time)
    shown = ordered[-tail:] if tail and len(ordered) > tail else ordered
    rows = [("TYPE", "REASON", "OBJECT", "MESSAGE", "AGE")]
    for ev in shown:
        moment = _parse(event_time(ev))
        age = human_age(max(0.0, (now - moment).total_seconds())) if moment else "?"
        rows.append((ev.get("type") or "", ev.get("reason") or "", object_column(ev),
                     cut_message(ev.get("message") or ""), age))
    widths = [max(len(r[i]) for r in rows) + 2 for i in range(3)] + [MESSAGE_WIDTH + 2]
    lines = ["".join(cell.ljust(w) for cell, w in zip(r[:4], widths)) + r[4] for r in rows]
    if len(shown) < len(ordered):
        lines.append(f"(showing last {len(shown)} of {len(ordered)} events — use --tail to see more)")
    return "\n".join(lines)


def field_selector(kind: str, name: str | None) -> str:
    selector = f"involvedObject.kind={kind}"
    return selector + (f",involvedObject.name={name}" if name else "")


def _kind_of(crd: str, files: tuple[str, ...]) -> str:
    """The Kind of CRD key `crd` from the Katalog, or `crd` itself when no Katalog is found."""
    from orkestra.cli._katalog_files import NoKatalogFound, resolve_katalog_files
    try:
        paths = resolve_katalog_files(files)
    except NoKatalogFound:
        return crd
    from orkestra.config import CliSettings
    from orkestra.katalog import load_katalog
    katalog = load_katalog(paths, CliSettings.from_env().katalog)
    entry = katalog.crds.get(crd)
    if entry is None:
        raise click.ClickException(f'no CRD "{crd}" in the Katalog ({", ".join(sorted(katalog.crds)) or "empty"})')
    return entry.api.kind


@click.command()
@click.argument("crd")
@click.argument("name", required=False)
@katalog_files_option
@click.option("-n", "--namespace", default=None, help="Only this namespace.")
@click.option("-A", "--all-namespaces", is_flag=True, help="All namespaces (the default).")
@click.option("--tail", default=25, show_default=True, type=click.IntRange(min=0), help="Newest N events; 0 = all.")
@click.option("--kubeconfig", default=None, help="Path to the kubeconfig.")
@click.option("--context", default=None, help="Kubeconfig context.")
def events(crd: str, name: str | None, files: tuple[str, ...], namespace: str | None, all_namespaces: bool,
           tail: int, kubeconfig: str | None, context: str | None) -> None:
    """Show the Kubernetes Events of the CRs of CRD (optionally of one NAME)."""
    from orkestra.cli._kube import kube_client
    from orkestra.errors import OrkestraError

    if namespace and all_namespaces:
        raise click.UsageError("-n and -A are mutually exclusive")
    try:
        kind = _kind_of(crd, files)
        kube = kube_client(kubeconfig, context)
        items, _ = kube.list(EVENTS, namespace=namespace, field_selector=field_selector(kind, name))
    except OrkestraError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
    click.echo(render_table(items, now=datetime.now(timezone.utc), tail=tail))
