"""`ork init [DIR] [--pack NAME] [--list] [--force]`: unpack a starter pack (docs/cli.md, docs/packs.md).

With neither DIR nor --pack it writes the four files of beginner/hello-website into the current
directory. A pack unpacks every example to DIR/<example>/ (DIR defaults to ./<pack>); an example
path such as resilience/safe-reconcile unpacks one example to DIR (default ./<example>).
"""
from __future__ import annotations

from pathlib import Path

import click

from orkestra import packs
from orkestra.cli._katalog_files import PlainError


def _print_list() -> None:
    items = packs.index()
    width = max(len(p.name) for p in items) + 3
    click.echo("Packs (ork init [DIR] --pack NAME)")
    for p in items:
        default = " (default)" if p.name == packs.DEFAULT_PACK else ""
        click.echo(f"  {p.name.ljust(width)}{p.description}{default}")
        click.echo(f"  {' ' * width}{' · '.join(p.examples)}")


def _shown(target: Path) -> str:
    try:
        return str(target.relative_to(Path.cwd()))
    except ValueError:
        return str(target)


@click.command()
@click.argument("directory", metavar="[DIR]", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("-p", "--pack", "pack", metavar="NAME", help="A pack (beginner) or one example (resilience/safe-reconcile).")
@click.option("-l", "--list", "list_", is_flag=True, help="List the packs and their examples.")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def init(directory: Path | None, pack: str | None, list_: bool, force: bool) -> None:
    """Unpack a starter pack of example operators (no cluster, no network)."""
    if list_:
        _print_list()
        return
    try:
        if directory is None and pack is None:
            groups = [(Path("."), packs.plan(packs.DEFAULT_PACK, packs.DEFAULT_EXAMPLE, Path("."),
                                             only=packs.STARTER_FILES))]
        else:
            chosen = packs.resolve(pack or packs.DEFAULT_PACK)
            single = pack is not None and "/" in pack.strip("/")
            root = directory or Path(chosen[0][1] if single else chosen[0][0])
            groups = [(root if single else root / example, packs.plan(p, example, root if single else root / example))
                      for p, example in chosen]
        packs.write([f for _, files in groups for f in files], force=force)
    except packs.PackError as err:
        raise PlainError(str(err)) from None
    for target, files in groups:
        names = ", ".join(str(f.target.relative_to(target)) for f in files)
        click.echo(f"Created {_shown(target).rstrip('/')}/ ({names})" if str(target) != "." else f"Created {names}")
    if len(groups) > 1:     # a whole pack: check every example, then run the one you pick
        click.echo(f"Next: {_cd(groups[0][0].parent)}ork validate, then cd into an example and follow its README.md")
    else:
        click.echo(f"Next: {_cd(groups[0][0])}kubectl apply -f crd.yaml && ork run")


def _cd(target: Path) -> str:
    """The `cd <dir> && ` that starts the Next line ("" when it is the current directory)."""
    shown = _shown(target)
    return "" if shown == "." else f"cd {shown} && "
