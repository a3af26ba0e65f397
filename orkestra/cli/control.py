"""`ork control` (docs/cli.md#ork-control): start the Control Center under gunicorn.

Every refusal happens here, before gunicorn starts: a bad `--refresh` or `--urls` is a usage
error (exit 2), default credentials on a non-loopback address exit 1 with the documented
message unless `--insecure`. The credentials and the session secret are never logged.
"""
from __future__ import annotations

import logging
import sys

import click

from orkestra.durations import DurationError, format_duration, parse_duration

log = logging.getLogger("orkestra.cc")


def _refresh(ctx: click.Context, param: click.Parameter, value: str) -> float:
    try:
        seconds = parse_duration(value)
    except DurationError as err:
        raise click.BadParameter(str(err)) from None
    if seconds < 1:
        raise click.BadParameter(f'"{value}" is shorter than 1s')
    return seconds


@click.command("control")
@click.option("-p", "--port", type=click.IntRange(1, 65535), default=8081, envvar="ORK_CC_PORT", show_default=True,
              help="Port to listen on (ORK_CC_PORT).")
@click.option("--host", default="127.0.0.1", envvar="ORK_CC_HOST", show_default=True,
              help="Address to bind (ORK_CC_HOST).")
@click.option("-u", "--urls", default="http://localhost:8080", envvar="ORK_CC_URLS", show_default=True,
              help="Comma-separated runtime URLs (ORK_CC_URLS).")
@click.option("--refresh", default="10s", envvar="ORK_CC_REFRESH", callback=_refresh, show_default=True,
              help="Poll interval, at least 1s (ORK_CC_REFRESH).")
@click.option("--insecure", is_flag=True, help="Allow the default credentials on a non-loopback address.")
@click.option("--token-file", type=click.Path(dir_okay=False), envvar="ORK_CC_TOKEN_FILE", default=None,
              help="Bearer token sent to the runtimes (ORK_CC_TOKEN_FILE); defaults to the Pod's "
                   "ServiceAccount token when it exists.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warn", "error"]), default=None,
              help="Log level (LOG_LEVEL).")
def control(port: int, host: str, urls: str, refresh: float, insecure: bool, token_file: str | None,
            log_level: str | None) -> None:
    """Start the Control Center: a web UI over one or more runtimes."""
    from orkestra.cli.main import debug_flag
    from orkestra.config import CliSettings
    from orkestra.controlcenter.serve import serve
    from orkestra.controlcenter.settings import SECRET_WARNING, SettingsError, build_settings, startup_refusal
    from orkestra.logs import configure

    env = CliSettings.from_env()
    level = (log_level or debug_flag() or env.log_level).lower()
    configure(level, env.log_format)
    try:
        settings = build_settings(host=host, port=port, urls=urls, refresh=refresh, insecure=insecure,
                                  token_file=token_file, log_level=level)
    except SettingsError as err:
        raise click.UsageError(str(err)) from None
    refusal = startup_refusal(settings)
    if refusal:
        click.echo(refusal, err=True)
        sys.exit(1)
    if settings.insecure:
        log.warning("--insecure: the Control Center accepts the default credentials on a non-loopback address"
                    if settings.default_credentials else "--insecure given")
    if settings.secret_generated:
        log.warning(SECRET_WARNING)
    scheme_host = f"[{host}]" if ":" in host else host
    log.info("control center listening", extra={"url": f"http://{scheme_host}:{port}", "runtimes": len(settings.urls),
                                                "refresh": format_duration(refresh)})
    sys.exit(serve(settings))
