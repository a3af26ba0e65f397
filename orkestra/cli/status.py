"""`ork status` (docs/cli.md#ork-status): the runtime's `/katalog` as a terminal table.

Rendering is pure (`render_summary`, `render_detail` take the decoded JSON and return text), so
the layout is unit-tested without a server; the command only fetches, prints and, with
`--watch`, redraws. Reaching the runtime uses the standard library only: this command must stay
light enough to run from a laptop against a port-forward.
"""
from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable

import click

from orkestra.durations import DurationError, parse_duration

HINT = "hint: kubectl port-forward svc/orkestra-runtime 8080:8080 -n orkestra-system"
LEGEND = "Legend: ● healthy  ⚠ failing below threshold  ✗ degraded  ◌ pending  · started  ○ not started"
_SYMBOLS = {"healthy": ("●", "green"), "degraded": ("✗", "red"), "pending": ("◌", "yellow"),
            "started": ("·", "cyan"), "not started": ("○", "white")}


class Unreachable(Exception):
    pass


class Unauthorized(Unreachable):
    """The runtime wants a (different) bearer token: ORK_API_AUTH=kubernetes."""


def fetch(url: str, path: str, timeout: float, token: str | None = None) -> dict:
    """GET `url + path` as JSON, with `Authorization: Bearer <token>` when a token is given;
    raises `Unreachable` (`Unauthorized` for 401/403) for anything but a 200 JSON."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url.rstrip("/") + path, headers=headers),
                                    timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        if err.code in (401, 403):
            raise Unauthorized(f"HTTP {err.code} from {path}: {_error_text(err)}") from None
        raise Unreachable(f"HTTP {err.code} from {path}") from None
    except (urllib.error.URLError, OSError) as err:
        raise Unreachable(str(getattr(err, "reason", err))) from None
    except ValueError:
        raise Unreachable(f"{path} did not answer JSON") from None


def _error_text(err: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(err.read()).get("error", ""))
    except (ValueError, AttributeError, OSError):
        return ""


def kubeconfig_token(kubeconfig: str | None, context: str | None) -> str | None:
    """The bearer token of the kubeconfig's user, if it has one (certificate users have none)."""
    from orkestra.cli._kube import kube_client
    from orkestra.errors import OrkestraError
    from orkestra.server.auth import bearer_token
    try:
        return bearer_token(kube_client(kubeconfig, context).access.credentials.authorization())
    except OrkestraError:
        return None


def may_receive_kubeconfig_token(url: str) -> bool:
    """True for https and for this machine (a port-forward): the kubeconfig's token opens the
    whole cluster, so it never goes in clear text to whoever answers 401 on the network."""
    from orkestra.kube.client import is_loopback_host
    parts = urllib.parse.urlsplit(url)
    return parts.scheme == "https" or is_loopback_host(parts.hostname or "")


class Credentials:
    """`--token`/$ORK_TOKEN, else (only once the runtime asks for one, and only over https or
    to this machine) the kubeconfig's token."""

    def __init__(self, token: str | None, kubeconfig: str | None, context: str | None) -> None:
        self.token, self._kubeconfig, self._context = token, kubeconfig, context
        self._tried_kubeconfig = bool(token)

    def fetch(self, url: str, path: str, timeout: float) -> dict:
        try:
            return fetch(url, path, timeout, self.token)
        except Unauthorized:
            if self._tried_kubeconfig or not may_receive_kubeconfig_token(url):
                raise
            self._tried_kubeconfig = True
            self.token = kubeconfig_token(self._kubeconfig, self._context)
            if not self.token:
                raise
            return fetch(url, path, timeout, self.token)


def _symbol(crd: dict, color: bool) -> str:
    state = crd.get("state", "")
    sym, colour = _SYMBOLS.get(state, ("?", "white"))
    if state in ("healthy", "started") and crd.get("consecutiveFails", 0) > 0:
        sym, colour = "⚠", "yellow"
    return click.style(sym, fg=colour) if color else sym


def _err_pct(crd: dict) -> str:
    return f"{crd.get('errorRate', 0) * 100:.1f}%" if crd.get("totalReconciles") else "-"


# Minimum cell widths of the summary table, as in the docs/cli.md#ork-status sample (STATE fits "✗ not started"
# less its symbol, QUEUE "12/100", ERR% "21.4%"), so columns hold still while `--watch` redraws.
_MIN_WIDTHS = (0, 11, 0, 6, 0, 0, 0, 5, 0, 0)


def _table(rows: list[list[str]], plain_widths: list[list[int]], min_widths: tuple[int, ...] = ()) -> list[str]:
    widths = [max([w[i] for w in plain_widths] + [min_widths[i] if i < len(min_widths) else 0])
              for i in range(len(rows[0]))]
    out = []
    for row, plain in zip(rows, plain_widths):
        cells = [cell + " " * (widths[i] - plain[i]) for i, cell in enumerate(row)]
        out.append("  ".join(cells).rstrip())
    return out


def render_summary(url: str, doc: dict, *, color: bool = False) -> str:
    crds = [c for c in doc.get("crds", []) if c.get("enabled", True)]
    # rows in start order, as in the docs/cli.md#ork-status sample (dependencies before their dependents)
    order = {key: i for i, key in enumerate((doc.get("dependencyGraph") or {}).get("startupOrder") or [])}
    crds.sort(key=lambda c: order.get(c.get("name", ""), len(order)))
    healthy = doc.get("healthy")
    ok = click.style("✓", fg="green") if color else "✓"
    bad = click.style("✗", fg="red") if color else "✗"
    health = f"{ok} healthy" if healthy else f"{bad} degraded — {doc.get('degradedReason', '')}"
    leader = (f"yes ({doc.get('identity', '')})" if doc.get("isKonductor")
              else f"no (leader: {doc.get('leader') or 'unknown'})")
    lines = [f"Orkestra  {url}", f"Katalog   {doc.get('name', '')} {doc.get('version', '')}".rstrip(),
             f"Health    {health}", f"Leader    {leader}",
             f"CRDs      {doc.get('total', 0)} total, {doc.get('totalEnabled', 0)} enabled",
             f"Uptime    {doc.get('uptime', '')}", ""]
    header = ["CRD", "STATE", "WORKERS", "QUEUE", "CONSEC", "RECONCILES", "FAILED", "ERR%", "RESOURCES", "UPTIME"]
    rows, widths = [header], [[len(h) for h in header]]
    for c in crds:
        max_depth = c.get("maxQueueDepth", 0)
        state_plain = f"· {c.get('state', '')}"
        row = [c.get("name", ""), f"{_symbol(c, color)} {c.get('state', '')}",
               f"{c.get('workersActive', 0)}/{c.get('workers', 0)}",
               f"{c.get('queueDepth', 0)}/{max_depth}" if max_depth else str(c.get("queueDepth", 0)),
               f"{c.get('consecutiveFails', 0)}/{c.get('failureThreshold', 0)}", str(c.get("totalReconciles", 0)),
               str(c.get("failedReconciles", 0)), _err_pct(c), str(c.get("resourceCount", 0)),
               c.get("uptime") if c.get("started") else "not started"]
        rows.append(row)
        widths.append([len(state_plain) if i == 1 else len(cell) for i, cell in enumerate(row)])
    lines += _table(rows, widths, _MIN_WIDTHS)
    errors = [c for c in crds if c.get("lastError") and (c.get("consecutiveFails") or c.get("state") == "degraded")]
    if errors:
        lines += ["", "Last errors"] + [f"  {c['name']}: {c['lastError']}" for c in errors]
    lines += ["", LEGEND]
    return "\n".join(lines)


def _kv(lines: list[str], pairs: list[tuple[str, Any]], indent: str = "  ") -> None:
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        lines.append(f"{indent}{key + ':':<{width + 1}} {'' if value is None else value}")


def render_detail(doc: dict) -> str:
    lines = [f"{doc.get('name', '')}  {doc.get('gvk', '')}  ({doc.get('scope', '')})",
             f"state: {doc.get('state', '')}", ""]
    w = doc.get("workers", {})
    lines.append("workers")
    _kv(lines, [("configured", f"{w.get('configured')} ({w.get('source')})"), ("active", w.get("active")),
                ("processing", w.get("processing")), ("idle", w.get("idle")), ("stuck", w.get("stuck"))])
    for s in w.get("states", []):
        extra = f" {s['key']} since {s.get('since')}" if s.get("key") else ""
        lines.append(f"    w{s.get('id')}: {s.get('state')}{extra}")
    q = doc.get("queue", {})
    lines += ["", "queue"]
    _kv(lines, [(k, q.get(k)) for k in ("depth", "maxDepth", "onLimit", "failureThreshold", "dropped", "limitReached")])
    r = doc.get("reconcile", {})
    lines += ["", "reconcile"]
    _kv(lines, [(k, r.get(k)) for k in ("total", "failed", "consecutiveFails", "errorRate", "successRate",
                                        "avgDurationMs", "lastReconcile", "lastError", "lastErrorAt")])
    lines += ["", "dependencies"]
    deps = doc.get("dependencies", [])
    lines += [f"  {d['name']} [{d['condition']}]: {d['state']}{'' if d['satisfied'] else ' (unsatisfied)'}"
              for d in deps] or ["  (none)"]
    lines += ["", "warnings"]
    lines += [f"  {wa.get('key')}: {wa.get('field', '')}: {wa.get('message', '')}"
              for wa in doc.get("activeWarnings", [])] or ["  (none)"]
    return "\n".join(lines)


def resolve_crd(doc: dict, name: str) -> str | None:
    """A CRD key from a key or a Kind (case-insensitive)."""
    for c in doc.get("crds", []):
        if c.get("name") == name:
            return name
    for c in doc.get("crds", []):
        if c.get("kind", "").lower() == name.lower():
            return c["name"]
    return None


def _duration(value: str, option: str) -> float:
    try:
        seconds = parse_duration(value, bare_seconds=True)
    except DurationError:
        raise click.BadParameter(f'invalid duration "{value}"', param_hint=option) from None
    if seconds <= 0:
        raise click.BadParameter(f'invalid duration "{value}": must be positive', param_hint=option)
    return seconds


def _render(creds: Credentials, url: str, crd: str | None, timeout: float, color: bool) -> str:
    doc = creds.fetch(url, "/katalog", timeout)
    if crd is None:
        return render_summary(url, doc, color=color)
    key = resolve_crd(doc, crd)
    if key is None:
        raise click.ClickException(f'crd "{crd}" not found in katalog {doc.get("name", "")}')
    return render_detail(creds.fetch(url, f"/katalog/{key}", timeout))


@click.command("status")
@click.option("--url", default=None, help="Runtime URL (default $ORK_URL, else http://localhost:8080).")
@click.option("--crd", default=None, help="Show one CRD in detail (key or Kind).")
@click.option("-w", "--watch", is_flag=True, help="Redraw every --interval until Ctrl-C.")
@click.option("--interval", default="2s", show_default=True)
@click.option("--timeout", default="5s", show_default=True)
@click.option("--token", default=None, envvar="ORK_TOKEN",
              help="Bearer token for a runtime with ORK_API_AUTH=kubernetes (default $ORK_TOKEN, else the "
                   "kubeconfig user's token).")
@click.option("--kubeconfig", default=None, help="Kubeconfig whose token to send when no --token is given.")
@click.option("--context", default=None, help="Kubeconfig context.")
def status(url: str | None, crd: str | None, watch: bool, interval: str, timeout: str, token: str | None,
           kubeconfig: str | None, context: str | None) -> None:
    """Show the health of a running Orkestra runtime."""
    from orkestra.config import CliSettings
    env = CliSettings.from_env()
    url = (url or env.url).rstrip("/")
    every, limit = _duration(interval, "--interval"), _duration(timeout, "--timeout")
    color = sys.stdout.isatty() and env.color
    creds = Credentials(token, kubeconfig, context)
    show: Callable[[], str] = lambda: _render(creds, url, crd, limit, color)  # noqa: E731
    try:
        if not watch:
            click.echo(show())
            return
        while True:
            text = show()
            click.clear()
            click.echo(text)
            time.sleep(every)
    except Unauthorized as err:
        click.echo(f"Orkestra at {url} refused the request: {err}", err=True)
        click.echo("hint: pass --token (or ORK_TOKEN) with a token allowed to read the runtime; "
                   "see docs/security.md", err=True)
        sys.exit(1)
    except Unreachable as err:
        click.echo(f"cannot reach Orkestra at {url}: {err}", err=True)
        click.echo(HINT, err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        return
