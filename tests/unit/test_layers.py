"""Imports point down the layers of docs/architecture.md, so the diagram there stays true.

Every module of the `orkestra` package (every `.py` file reachable through `__init__.py` files;
the starter packs' example hooks are package data, not modules) is parsed with `ast`; each
`import` and `from ... import`, at module level or inside a function, is an edge from the
importing module's package to the imported one's. A package may import its own modules and any
package of a LOWER layer, never one of its own layer or above. Imports under `if TYPE_CHECKING:`
count like any other: a type-only import still ties the lower layer to the higher one's names,
and none is needed today.

Edges that point up in today's code and that issue 10 removes are listed in KNOWN_UPWARD, each
with the issue item that removes it. The test fails on any new upward edge and on a listed edge
that no longer exists, so the list only shrinks.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "orkestra"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

# Bottom first. `orkestra` is the package root itself (`__version__`); every other name is a
# top-level module or subpackage of `orkestra`. Packages on one layer never import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("orkestra", "errors"),
    ("gvk", "durations", "netaddr", "logs", "metrics"),
    ("template", "controlcenter", "packs", "testing"),
    ("conditions",),
    ("katalog", "kube", "workqueue"),
    ("config", "hooks", "informers"),
    ("reconcile",),
    ("engine",),
    ("webhooks",),
    ("server",),
    ("cli",),
)

# (importing module, imported module) -> the issue-10 item that removes the edge.
KNOWN_UPWARD: dict[tuple[str, str], str] = {
    # Engine.start builds the webhook runtime with `webhooks.attach(self)`, which reads the
    # engine back through an `Any`; item 2 builds it in the serve wiring and registers it.
    ("orkestra.engine.engine", "orkestra.webhooks"): "issue 10 item 2",
}

# Inside one package, the seams docs/architecture.md names: (module, module it never imports).
FORBIDDEN_WITHIN: tuple[tuple[str, str], ...] = (
    ("orkestra.reconcile.deletion", "orkestra.reconcile.reconciler"),   # sees it as a DeletionHost
)


@dataclass(frozen=True)
class Import:
    source: str     # importing module, e.g. "orkestra.engine.engine"
    target: str     # imported module, e.g. "orkestra.webhooks"
    line: int

    def __str__(self) -> str:
        return f"{self.source} (line {self.line}) imports {self.target}"


def package_of(module: str) -> str:
    """The layer unit of a module: `orkestra` for the root, else its first component below it."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def modules() -> dict[str, Path]:
    """Every importable module under orkestra/, by dotted name."""
    found: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if not all((d / "__init__.py").is_file() for d in path.parents if PACKAGE in (d, *d.parents)):
            continue    # package data (the starter packs' example hooks), never imported as orkestra.*
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(module: str, source: str, *, is_package: bool, known: set[str]) -> list[Import]:
    """The `orkestra` modules `source` imports anywhere. `from pkg import name` counts as an
    import of `pkg.name` when that is a module in `known`, else of `pkg`."""
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: None if is_package else -1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        found.extend(Import(module, name, node.lineno) for name in dict.fromkeys(names)
                     if name == "orkestra" or name.startswith("orkestra."))
    return found


def all_imports() -> list[Import]:
    found = modules()
    known = set(found)
    return [imp for name, path in found.items()
            for imp in imports_of(name, path.read_text(), is_package=path.name == "__init__.py",
                                  known=known)]


def rank() -> dict[str, int]:
    return {unit: level for level, units in enumerate(LAYERS) for unit in units}


def upward(imports: list[Import]) -> list[Import]:
    """Imports from one package into another of the same or a higher layer."""
    ranks = rank()
    return [imp for imp in imports
            if package_of(imp.source) != package_of(imp.target)
            and ranks[package_of(imp.target)] >= ranks[package_of(imp.source)]]


def test_every_package_has_a_layer():
    units = {package_of(name) for name in modules()}
    assert {"engine", "katalog", "cli", "orkestra"} <= units      # the walk found the package
    assert sorted(units - set(rank())) == [], "place the new package in LAYERS and the diagram"
    assert sorted(set(rank()) - units) == [], "LAYERS names a package that no longer exists"


def test_no_import_points_up():
    new = [str(imp) for imp in upward(all_imports())
           if (imp.source, imp.target) not in KNOWN_UPWARD]
    assert new == [], "imports against the layers of docs/architecture.md:\n" + "\n".join(new)


def test_known_upward_edges_still_exist():
    """An edge issue 10 removed leaves the allowlist too, so it cannot come back unnoticed."""
    present = {(imp.source, imp.target) for imp in upward(all_imports())}
    gone = sorted(f"{src} -> {dst} ({item})" for (src, dst), item in KNOWN_UPWARD.items()
                  if (src, dst) not in present)
    assert gone == [], "remove from KNOWN_UPWARD (and the diagram's note): " + ", ".join(gone)


def test_documented_seams_inside_a_package():
    imports = all_imports()
    for source, target in FORBIDDEN_WITHIN:
        assert any(imp.source == source for imp in imports), f"{source} is gone: update FORBIDDEN_WITHIN"
        found = [str(imp) for imp in imports if imp.source == source and imp.target == target]
        assert found == [], found


def test_checker_sees_function_level_and_relative_imports():
    source = (
        "from orkestra import metrics\n"
        "from orkestra.katalog.model import Katalog\n"
        "def start():\n"
        "    from ..server import app\n"
        "    import orkestra.cli.main\n"
    )
    known = {"orkestra.metrics", "orkestra.server.app", "orkestra.katalog.model"}
    found = imports_of("orkestra.kube.client", source, is_package=False, known=known)
    assert [(imp.target, imp.line) for imp in found] == [
        ("orkestra.metrics", 1), ("orkestra.katalog.model", 2),
        ("orkestra.server.app", 4), ("orkestra.cli.main", 5)]
    assert [imp.target for imp in upward(found)] == ["orkestra.katalog.model", "orkestra.server.app",
                                                      "orkestra.cli.main"]


def documented_layers() -> tuple[tuple[str, ...], ...]:
    """The layer table of docs/architecture.md: the fenced block after the marker comment,
    one line per layer, top first, `<n>  a · b · c` (parenthesised notes ignored)."""
    text = ARCHITECTURE.read_text()
    block = text.split("<!-- layers: tests/unit/test_layers.py -->", 1)[1].split("```", 2)[1]
    rows = []
    for line in block.splitlines():
        match = re.match(r"\s*(\d+)\s+(.*)$", line)
        if match:
            names = re.sub(r"\(.*?\)", "", match.group(2))
            rows.append((int(match.group(1)), tuple(n.strip("` ") for n in names.split("·"))))
    assert [n for n, _ in rows] == list(range(len(rows) - 1, -1, -1)), "number the layers top down"
    return tuple(units for _, units in reversed(rows))


def test_architecture_page_draws_these_layers():
    assert documented_layers() == LAYERS


def test_architecture_page_lists_the_known_upward_edges():
    text = ARCHITECTURE.read_text()
    for (src, dst), item in KNOWN_UPWARD.items():
        assert f"`{src}` → `{dst}`" in text and item in text, (src, dst, item)
