"""Katalog selection shared by every command that reads one (cli.md §0).

`-f/--file` may be repeated and may hold a comma-separated list of paths or http(s) URLs.
Without it: `./katalog.yaml`, else `./komposer.yaml`, else a clear failure with exit 1.
"""
from __future__ import annotations

import os
from typing import Callable, Iterable

import click


class PlainError(click.ClickException):
    """A failure printed as the bare message on stderr (no "Error:" prefix), exit 1."""

    exit_code = 1

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        click.echo(self.message, err=True)


class NoKatalogFound(PlainError):
    """No -f and neither katalog.yaml nor komposer.yaml in the directory."""


def katalog_files_option(func: Callable) -> Callable:
    """The `-f/--file` option, repeatable, comma lists allowed; the value is a tuple of strings."""
    return click.option("-f", "--file", "files", multiple=True, metavar="PATH",
                        help="Katalog file or URL; repeat or comma-separate to merge several.")(func)


def resolve_katalog_files(values: Iterable[str], cwd: str | None = None) -> list[str]:
    """The files to load, in order; raises NoKatalogFound when nothing was given or found."""
    files = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if files:
        return files
    cwd = cwd or os.getcwd()
    for name in ("katalog.yaml", "komposer.yaml"):
        if os.path.isfile(os.path.join(cwd, name)):
            return [name] if os.path.samefile(cwd, os.getcwd()) else [os.path.join(cwd, name)]
    raise NoKatalogFound(f"no Katalog found: pass -f or create katalog.yaml or komposer.yaml in {cwd}")
