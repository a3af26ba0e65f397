"""Katalog selection shared by every command that reads one (docs/cli.md#conventions).

`-f/--file` may be repeated and may hold a comma-separated list of paths or http(s) URLs.
Without it: `./katalog.yaml`, else `./komposer.yaml`, else a clear failure with exit 1.
`ork validate` alone also accepts an unpacked pack: a directory whose immediate subdirectories
hold the Katalogs (docs/cli.md#ork-validate).
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
    """The `-f/--file` option, repeatable, comma lists allowed; the value is a tuple of strings.
    `--katalog` is the Go CLI's name for the same option (issue 13)."""
    return click.option("-f", "--file", "--katalog", "files", multiple=True, metavar="PATH",
                        help="Katalog file or URL; repeat or comma-separate to merge several.")(func)


def resolve_katalog_files(values: Iterable[str], cwd: str | None = None) -> list[str]:
    """The files to load, in order; raises NoKatalogFound when nothing was given or found."""
    files = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if files:
        return files
    cwd = cwd or os.getcwd()
    name = _katalog_in(cwd)
    if name is not None:
        return [name] if os.path.samefile(cwd, os.getcwd()) else [os.path.join(cwd, name)]
    raise NoKatalogFound(f"no Katalog found: pass -f or create katalog.yaml or komposer.yaml in {cwd}")


def _katalog_in(directory: str) -> str | None:
    """The default Katalog file name present in `directory` (katalog.yaml first), or None."""
    for name in ("katalog.yaml", "komposer.yaml"):
        if os.path.isfile(os.path.join(directory, name)):
            return name
    return None


def subdirectory_katalogs(cwd: str) -> list[str]:
    """An unpacked pack: when `cwd` holds no Katalog, `<subdir>/<file>` for each immediate
    subdirectory that holds one, sorted by name; otherwise (or when none does) an empty list."""
    if _katalog_in(cwd) is not None:
        return []
    found = []
    for sub in sorted(os.listdir(cwd)):
        path = os.path.join(cwd, sub)
        name = _katalog_in(path) if os.path.isdir(path) else None
        if name is not None:
            found.append(os.path.join(sub, name))
    return found
