"""`ork gateway` (docs/cli.md#ork-gateway): the webhook server, the webhook controller and the HTTP API, alone.

Gateway-only mode: no reconcilers and no leader election (docs/runtime.md §1). The HTTPS listener
always starts and every replica registers the webhooks. Like `ork run`, every check (the
environment, the webhook switches, the Katalog) happens before the server starts, so a
mistake exits 1 with a readable message; then `orkestra.server.serve(..., mode=Mode.GATEWAY)`
owns the process.
"""
from __future__ import annotations

import click

from orkestra.cli._katalog_files import katalog_files_option


@click.command("gateway")
@katalog_files_option
@click.option("--kubeconfig", default=None, help="Path to a kubeconfig file.")
@click.option("--context", default=None, help="Kubeconfig context.")
@click.option("-n", "--namespace", default=None, help="Orkestra's own namespace (TLS Secret, webhook Service).")
@click.option("--port", type=int, default=None, help="HTTP port (ORK_PORT).")
def gateway(files: tuple[str, ...], kubeconfig: str | None, context: str | None, namespace: str | None,
            port: int | None) -> None:
    """Serve and register the Katalog's webhooks, without reconcilers."""
    from orkestra.cli.run import check_and_serve
    from orkestra.config import Mode
    check_and_serve(files, env_overrides={"NAMESPACE": namespace, "ORK_PORT": str(port) if port is not None else None},
                    kubeconfig=kubeconfig, context=context, mode=Mode.GATEWAY)
