"""Starter packs: example operators shipped inside the package, unpacked by `ork init` (docs/packs.md).

`index.yaml` lists the packs in display order, each with a one-line description and its examples.
An example is a directory of plain files (README.md, katalog.yaml, crd.yaml, cr.yaml,
expect.yaml, and hooks/ or katalogs/ when it uses them). Nothing here touches the network or a
cluster: unpacking is a copy out of the package data, checked for existing files first so a
refused run writes nothing. expect.yaml stays in the package: it is the pack test's fixture, not
part of what a user gets (docs/cli.md#ork-init lists what `ork init` writes).
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import yaml

from orkestra.errors import OrkestraError

DEFAULT_PACK = "beginner"
DEFAULT_EXAMPLE = "hello-website"
# What `ork init` with neither DIR nor --pack writes into the current directory.
STARTER_FILES = ("README.md", "katalog.yaml", "crd.yaml", "cr.yaml")
# Package files `ork init` never unpacks.
NOT_UNPACKED = ("expect.yaml",)


class PackError(OrkestraError):
    """An unknown pack name, or a file `ork init` refuses to overwrite."""


@dataclass(frozen=True)
class Pack:
    name: str
    description: str
    examples: tuple[str, ...]


def _root() -> Traversable:
    return resources.files(__name__)


def index() -> list[Pack]:
    """The packs of index.yaml, in display order."""
    doc = yaml.safe_load(_root().joinpath("index.yaml").read_text(encoding="utf-8"))
    return [Pack(p["name"], p["description"], tuple(p["examples"])) for p in doc["packs"]]


def example_files(pack: str, example: str) -> list[str]:
    """Every file of one example, as paths relative to the example directory, sorted."""
    out: list[str] = []

    def walk(node: Traversable, prefix: str) -> None:
        for child in node.iterdir():
            if child.name == "__pycache__":
                continue
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, rel + "/")
            else:
                out.append(rel)

    walk(example_dir(pack, example), "")
    return sorted(out)


def example_dir(pack: str, example: str) -> Traversable:
    """An example's directory inside the package (expect.yaml is read from here)."""
    return _root().joinpath(pack, example)


def resolve(name: str) -> list[tuple[str, str]]:
    """(pack, example) pairs named by `name`: a pack gives all its examples, `pack/example` one."""
    packs = {p.name: p for p in index()}
    pack_name, _, example = name.strip("/").partition("/")
    pack = packs.get(pack_name)
    if pack is None or (example and example not in pack.examples):
        raise PackError(f'unknown pack "{name}" — run ork init --list')
    return [(pack.name, example)] if example else [(pack.name, e) for e in pack.examples]


@dataclass(frozen=True)
class PlannedFile:
    source: Traversable
    target: Path


def plan(pack: str, example: str, target_dir: Path, *, only: tuple[str, ...] = ()) -> list[PlannedFile]:
    """The copies that unpack one example into `target_dir` (its files, or just `only`).

    Ordered as `ork init` lists them: the starter files first, then the rest by name.
    """
    base = example_dir(pack, example)
    names = [n for n in example_files(pack, example)
             if n not in NOT_UNPACKED and (not only or n in only)]
    names.sort(key=lambda n: (STARTER_FILES.index(n) if n in STARTER_FILES else len(STARTER_FILES), n))
    return [PlannedFile(base.joinpath(*n.split("/")), target_dir / n) for n in names]


def write(files: list[PlannedFile], *, force: bool) -> None:
    """Copy every planned file; without `force`, refuse before writing anything if one exists."""
    if not force:
        for f in files:
            if f.target.exists():
                raise PackError(f"refusing to overwrite {f.target} (use --force)")
    for f in files:
        f.target.parent.mkdir(parents=True, exist_ok=True)
        f.target.write_bytes(f.source.read_bytes())
