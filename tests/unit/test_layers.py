"""Imports point down the layers of docs/architecture.md, so the diagram there stays true.

Every `.py` file under orkestra/ is parsed with `ast` (namespace directories without an
`__init__.py` included: Python imports them all the same); only the starter packs' example hooks
under orkestra/packs/<pack>/, package data copied by `ork init`, are skipped. Each `import` and
`from ... import` (absolute or relative, at module level or inside a function) is an edge from the
importing module's package to the imported one's. A package may import its own modules and any
package of a LOWER layer, never one of its own layer or above. Imports under `if TYPE_CHECKING:`
count like any other: a type-only import still ties the lower layer to the higher one's names,
and none is needed today.

Dynamic imports count too. In a module that calls `importlib.import_module` or `__import__`,
every string constant that is the dotted name of an orkestra module is an edge: the literal
argument itself, and the tables the lazy loaders read their targets from (the `ork` command
group's `_COMMANDS` in cli/main.py, the PEP 562 exports of testing/__init__.py). A dynamic
import finds its target at run time, so it hides an upward edge as well as a static one does.
Not seen: module names computed at run time (f-strings, concatenation), an aliased
`import_module`, `exec`, and `python -m orkestra.x` subprocesses (a new process, not an import).

There is no allowlist: the last upward edge (engine → webhooks) went with issue 10 item 2, and
any upward import fails the test.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "orkestra"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

# Bottom first. `orkestra` is the package root itself (`__version__`); every other name is a
# top-level module or subpackage of `orkestra`. Packages on one layer never import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("orkestra", "errors"),
    ("gvk", "durations", "netaddr", "gunicorn_run", "ttlcache", "logs", "metrics"),
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


def is_pack_data(path: Path, package: Path) -> bool:
    """A file of a starter pack (orkestra/packs/<pack>/..., outside any package): user code that
    `ork init` copies out, never imported as orkestra.*. Anywhere else a directory without
    `__init__.py` is a namespace package and its modules count."""
    packs = package / "packs"
    if packs not in path.parents:
        return False
    return not all((d / "__init__.py").is_file() for d in path.parents if packs in (d, *d.parents))


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Every importable module under `package`, by dotted name."""
    found: dict[str, Path] = {}
    for path in sorted(package.rglob("*.py")):
        if is_pack_data(path, package):
            continue
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(module: str, source: str, *, is_package: bool, known: set[str]) -> list[Import]:
    """The `orkestra` modules `source` imports anywhere. `from pkg import name` counts as an
    import of `pkg.name` when that is a module in `known`, else of `pkg`."""
    found: list[Import] = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
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
    return found + dynamic_imports_of(module, tree, known=known)


def imports_dynamically(tree: ast.AST) -> bool:
    """Does the module call `importlib.import_module(...)`, `import_module(...)` or `__import__(...)`?"""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("import_module", "__import__"):
                return True
    return False


def dynamic_imports_of(module: str, tree: ast.AST, *, known: set[str]) -> list[Import]:
    """In a module that imports dynamically, each string constant naming an orkestra module."""
    if not imports_dynamically(tree):
        return []
    found = [Import(module, node.value, node.lineno) for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in known]
    return sorted(dict.fromkeys(found), key=lambda imp: (imp.line, imp.target))


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
    new = [str(imp) for imp in upward(all_imports())]
    assert new == [], "imports against the layers of docs/architecture.md:\n" + "\n".join(new)


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


MARKER = "<!-- layers: tests/unit/test_layers.py -->"


def documented_layers(text: str) -> tuple[tuple[str, ...], ...]:
    """The layer table of a page: the first fenced block after MARKER, one line per layer, top
    first, `<n>  a · b · c` (parenthesised notes ignored); other lines of the block are drawing."""
    assert text.count(MARKER) == 1, f"the page needs exactly one {MARKER} before its layer table"
    fences = text.split(MARKER, 1)[1].split("```")
    assert len(fences) >= 3, f"no fenced block after {MARKER}"
    rows = []
    for line in fences[1].splitlines():
        match = re.match(r"\s*(\d+)\s+(.*)$", line)
        if match:
            names = match.group(2)
            while re.search(r"\([^()]*\)", names):     # innermost first: notes may nest
                names = re.sub(r"\([^()]*\)", "", names)
            units = tuple(n.strip("` \t") for n in names.split("·"))
            assert all(re.fullmatch(r"[a-z_]+", n) for n in units), f"not a layer row: {line!r}"
            rows.append((int(match.group(1)), units))
    assert rows, f"no `<n>  a · b` rows in the block after {MARKER}"
    assert [n for n, _ in rows] == list(range(len(rows) - 1, -1, -1)), "number the layers top down to 0"
    return tuple(units for _, units in reversed(rows))


def test_layer_table_parser():
    page = (
        "intro\n" + MARKER + "\n\n```\n"
        "2  `server`\t· cli        (a note · with (nested) parentheses)\n"
        "   (a note line of its own)\n"
        " 1 engine\n"
        "0  orkestra · errors\n```\n"
        "```\n9  not the table\n```\n"
    )
    assert documented_layers(page) == (("orkestra", "errors"), ("engine",), ("server", "cli"))


def test_layer_table_parser_refuses_what_it_cannot_read():
    for page, problem in [
        ("```\n0  orkestra\n```\n", "needs exactly one"),
        (MARKER + "\n0  orkestra\n", "no fenced block"),
        (MARKER + "\n```\n1  engine, reconcile\n0  orkestra\n```\n", "not a layer row"),
        (MARKER + "\n```\n0  engine\n1  orkestra\n```\n", "top down"),
        (MARKER + "\n```\nengine\n```\n", "no `<n>"),
    ]:
        with pytest.raises(AssertionError, match=problem):
            documented_layers(page)


def test_architecture_page_draws_these_layers():
    assert documented_layers(ARCHITECTURE.read_text()) == LAYERS


def test_namespace_directories_count_and_only_pack_data_is_skipped(tmp_path):
    package = tmp_path / "orkestra"
    for rel in ["__init__.py", "kube/__init__.py", "kube/extra/watchers.py", "packs/__init__.py",
                "packs/loader.py", "packs/advanced/hooks/hooks/backup_hooks.py"]:
        (package / rel).parent.mkdir(parents=True, exist_ok=True)
        (package / rel).write_text("")
    assert sorted(modules(package)) == ["orkestra", "orkestra.kube", "orkestra.kube.extra.watchers",
                                        "orkestra.packs", "orkestra.packs.loader"]


def test_checker_sees_dynamic_imports():
    source = (
        "import importlib\n"
        "_COMMANDS = {'serve': ('orkestra.server.app', 'serve', 'help')}\n"
        "log = 'orkestra.nowhere'\n"
        "def load(name):\n"
        "    importlib.import_module('orkestra.cli.main')\n"
        "    return importlib.import_module(_COMMANDS[name][0])\n"
    )
    known = {"orkestra.server.app", "orkestra.cli.main"}
    found = imports_of("orkestra.kube.client", source, is_package=False, known=known)
    assert [(imp.target, imp.line) for imp in found] == [("orkestra.server.app", 2), ("orkestra.cli.main", 5)]
    static_only = source.replace("importlib.import_module", "sorted")
    assert imports_of("orkestra.kube.client", static_only, is_package=False, known=known) == []


def test_the_lazy_loaders_tables_are_seen():
    edges = {(imp.source, imp.target) for imp in all_imports()}
    assert ("orkestra.cli.main", "orkestra.cli.run") in edges                # `ork` command table
    assert ("orkestra.testing", "orkestra.testing.controlplane") in edges    # PEP 562 exports
