"""`ork version`."""
import platform
from importlib import metadata

import click

from orkestra import __version__


def _client_version() -> str:
    try:
        return metadata.version("kubernetes")
    except metadata.PackageNotFoundError:
        return "not installed"


@click.command()
def version() -> None:
    """Print the Orkestra, Python and Kubernetes client versions."""
    click.echo(f"ork {__version__} (python {platform.python_version()}, kubernetes client {_client_version()})")
