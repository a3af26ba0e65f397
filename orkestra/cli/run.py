"""`ork run` (docs/cli.md#ork-run): validate everything, then hand the process to the HTTP server.

Order matters: the environment and the Katalog are checked *before* gunicorn starts, so a mistake
exits 1 with a readable report instead of a crash-looping worker. Only then does `serve()` make
this process the gunicorn arbiter (or run the builtin werkzeug server).
"""
from __future__ import annotations

import dataclasses
import logging
import sys
from typing import TYPE_CHECKING

import click

from orkestra.cli._katalog_files import katalog_files_option, resolve_katalog_files

if TYPE_CHECKING:
    from orkestra.config import Mode, Settings
    from orkestra.katalog.loader import LoadReport
    from orkestra.katalog.model import Katalog

log = logging.getLogger("orkestra.cli")


def _fail(lines: list[str]) -> None:
    for line in lines:
        click.echo(line, err=True)
    sys.exit(1)


def print_load_errors(report: LoadReport) -> None:
    """The `ork validate` report (docs/cli.md#ork-validate layout) on stderr."""
    from orkestra.cli.validate import format_report, use_color
    click.echo(format_report(report, color=use_color()), err=True)


def check_and_serve(files: tuple[str, ...], *, env_overrides: dict[str, str | None], kubeconfig: str | None,
                    context: str | None, mode: Mode, server: str = "gunicorn", install_crds: bool = False) -> None:
    """Check the environment, the webhook switches and the Katalog, then serve (never returns).

    Shared by `ork run` and `ork gateway`: any problem exits 1 before a server starts. The
    flags (`env_overrides`, keyed by the variable each stands for, and `ork --debug`) are
    layered over the environment once, into the `Settings` every later step receives.
    """
    from orkestra.cli.main import debug_flag
    from orkestra.config import ConfigError, Settings
    from orkestra.logs import configure
    from orkestra.webhooks import check_switches

    try:
        settings = Settings.from_env(overrides={"LOG_LEVEL": debug_flag(), **env_overrides,
                                                "KUBECONFIG": kubeconfig})
    except ConfigError as err:
        _fail(err.problems)
    configure(settings.log_level, settings.log_format)
    switch_error = check_switches(settings)
    if switch_error:
        log.error(switch_error)
        _fail([switch_error])
    settings = dataclasses.replace(settings, context=context or "")

    from orkestra.katalog import load_report
    paths = resolve_katalog_files(files)
    report = load_report(paths, settings.katalog)
    if not report.ok or report.katalog is None:
        print_load_errors(report)
        sys.exit(1)
    katalog = report.katalog
    log.info("katalog loaded", extra={"katalog": katalog.name, "crds": len(katalog.crds), "file": ",".join(paths)})
    if install_crds:
        _install_crds(katalog, settings)

    from orkestra.server.serve import serve
    sys.exit(serve(katalog, settings, mode=mode, server=server))


def _install_crds(katalog: Katalog, settings: Settings) -> None:
    """`--install-crds`: apply the entries' crdFile manifests before any informer starts."""
    from orkestra.cli._install_crds import InstallError, install_crds
    from orkestra.errors import OrkestraError
    from orkestra.kube.client import KubeClient
    try:
        kube = KubeClient.from_config(settings.kubeconfig or None, settings.context or None,
                                      account_dir=settings.service_account_dir,
                                      service_host=settings.service_host, service_port=settings.service_port)
        names = install_crds(kube, katalog)
    except (InstallError, OrkestraError) as err:
        log.error(str(err))
        _fail([str(err)])
    log.info("crds installed", extra={"crds": ",".join(names)})


@click.command("run")
@katalog_files_option
@click.option("--kubeconfig", default=None, help="Path to a kubeconfig file.")
@click.option("--context", default=None, help="Kubeconfig context.")
@click.option("-n", "--namespace", default=None, help="Orkestra's own namespace (Lease, TLS Secret).")
@click.option("--watch-namespace", default=None, help="Restrict every namespaced informer.")
@click.option("--port", type=int, default=None, help="HTTP port (ORK_PORT).")
@click.option("--no-leader-election", is_flag=True, help="Always leader, without a Lease.")
@click.option("--server", type=click.Choice(["gunicorn", "builtin"]), default="gunicorn", show_default=True)
@click.option("--install-crds", is_flag=True, help="Apply the CRD manifests named by crdFile: first.")
def run(files: tuple[str, ...], kubeconfig: str | None, context: str | None, namespace: str | None,
        watch_namespace: str | None, port: int | None, no_leader_election: bool, server: str,
        install_crds: bool) -> None:
    """Run the operators of a Katalog."""
    overrides = {"NAMESPACE": namespace, "WATCH_NAMESPACE": watch_namespace,
                 "ORK_PORT": str(port) if port is not None else None,
                 "LEADER_ELECTION": "false" if no_leader_election else None}
    from orkestra.config import Mode
    check_and_serve(files, env_overrides=overrides, kubeconfig=kubeconfig, context=context,
                    mode=Mode.RUNTIME, server=server, install_crds=install_crds)
