"""`ork gateway` (cli.md §2): the webhook server, the webhook controller and the HTTP API, alone.

Gateway-only mode: no reconcilers and no leader election (runtime.md §1). The HTTPS listener
always starts and every replica registers the webhooks. Like `ork run`, every check (the
environment, the webhook switches, the Katalog) happens before the server starts, so a
mistake exits 1 with a readable message; then `orkestra.server.serve(..., mode="gateway")`
owns the process.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import sys

import click

from orkestra.cli._katalog_files import katalog_files_option, resolve_katalog_files

log = logging.getLogger("orkestra.cli")


def _fail(lines: list[str]) -> None:
    for line in lines:
        click.echo(line, err=True)
    sys.exit(1)


@click.command("gateway")
@katalog_files_option
@click.option("--kubeconfig", default=None, help="Path to a kubeconfig file.")
@click.option("--context", default=None, help="Kubeconfig context.")
@click.option("-n", "--namespace", default=None, help="Orkestra's own namespace (TLS Secret, webhook Service).")
@click.option("--port", type=int, default=None, help="HTTP port (ORK_PORT).")
def gateway(files: tuple[str, ...], kubeconfig: str | None, context: str | None, namespace: str | None,
            port: int | None) -> None:
    """Serve and register the Katalog's webhooks, without reconcilers."""
    from orkestra.cli.run import print_load_errors
    from orkestra.config import ConfigError, Settings
    from orkestra.logs import configure
    from orkestra.webhooks import check_switches

    overrides = {"NAMESPACE": namespace, "ORK_PORT": str(port) if port is not None else None}
    os.environ.update({k: v for k, v in overrides.items() if v is not None})
    try:
        settings = Settings.from_env()
    except ConfigError as err:
        _fail(err.problems)
    configure(settings.log_level, settings.log_format)
    problem = check_switches(settings)
    if problem:
        log.error(problem)
        _fail([problem])
    settings = dataclasses.replace(settings, kubeconfig=kubeconfig or settings.kubeconfig, context=context or "")

    from orkestra.katalog import load_report
    paths = resolve_katalog_files(files)
    report = load_report(paths, env=os.environ)
    if not report.ok or report.katalog is None:
        print_load_errors(report)
        sys.exit(1)
    katalog = report.katalog
    log.info("katalog loaded", extra={"katalog": katalog.name, "crds": len(katalog.crds), "file": ",".join(paths)})

    from orkestra.server.serve import serve
    sys.exit(serve(katalog, settings, mode="gateway"))
