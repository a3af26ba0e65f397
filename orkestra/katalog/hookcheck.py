"""Finding, inspecting and importing a CRD's hook module (docs/hooks.md, docs/katalog.md#hooks).

Search order: the directory of the Katalog file that declared the hook, the `ORK_HOOKS_PATH`
entries, the installed packages (`sys.path`), and the current directory last. Putting the current
directory last (it used to come second) means a stray `hooks.py` in a shared or untrusted working
directory can neither run first nor shadow the intended module.

A module found in one of those directories is imported under a package name derived from the
directory (`_orkestra_hooks_<digest>.<module>`), so two Katalogs that each ship a `hooks.py` get
two modules; under its plain name, the second CRD would have run the first one's code (Python
caches modules by name). Installed packages keep their own names: they are unique already.

Loading a Katalog only *inspects* the module: it is located with the import machinery's finders
and its source is parsed, never executed; the callbacks the factory provides are read from the
syntax tree. Executing hook code is the engine's job at activation, or `ork validate
--exec-hooks` when the author asks for it.
"""
from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.machinery
import importlib.util
import os
import sys
import threading
import types
from dataclasses import dataclass
from typing import Iterator, Sequence

from orkestra.katalog.source import is_url

CALLBACKS = ("on_create", "on_update", "on_reconcile", "on_delete")
ROOT_PREFIX = "_orkestra_hooks_"
_IMPORT_LOCK = threading.Lock()
_PathFinder = importlib.machinery.PathFinder


@dataclass(frozen=True)
class HookLocation:
    module: str                 # as the Katalog names it
    directory: str | None       # the search directory it was found in; None: an installed package
    origin: str | None          # the source file (None: namespace package, built-in or extension)

    @property
    def import_name(self) -> str:
        """The name it is imported under (unique per search directory)."""
        if self.directory is None:
            return self.module
        return f"{ROOT_PREFIX}{hashlib.sha256(self.directory.encode()).hexdigest()[:16]}.{self.module}"


def hook_base_dir(source: str) -> str:
    """The directory searched first for a Katalog's hooks: its file's own. None ("") for a URL:
    a downloaded Katalog has no directory of its own, and the current directory comes last."""
    return os.path.dirname(os.path.abspath(source)) if source and not is_url(source) else ""


def hook_search_path(base_dir: str, hooks_path: Sequence[str]) -> list[str]:
    """Directories searched before the installed packages, in order, without duplicates:
    `base_dir`, then the `ORK_HOOKS_PATH` entries (`hooks_path`, parsed by `orkestra.config`)."""
    dirs = [base_dir, *hooks_path]
    return list(dict.fromkeys(os.path.abspath(d) for d in dirs if d))


def _descend(spec: importlib.machinery.ModuleSpec | None, parts: list[str]) -> importlib.machinery.ModuleSpec | None:
    """The spec of `parts` below the package `spec`, found without importing anything."""
    for part in parts:
        if spec is None or spec.submodule_search_locations is None:
            return None
        spec = _PathFinder.find_spec(f"{spec.name}.{part}", list(spec.submodule_search_locations))
    return spec


def _find_in(module: str, directory: str) -> importlib.machinery.ModuleSpec | None:
    top, *rest = module.split(".")
    return _descend(_PathFinder.find_spec(top, [directory]), rest)


def _find_installed(module: str, cwd: str) -> HookLocation | None:
    """Like `importlib.util.find_spec` over `sys.meta_path`, but with the current directory left
    out of `sys.path` (it is searched last) and without importing parent packages. A dotted name
    below a plain module (`os.path`) only exists once that module ran: found, not inspectable."""
    path = [p for p in sys.path if p and os.path.abspath(p) != cwd]
    top, *rest = module.split(".")
    for finder in sys.meta_path:
        if finder is _PathFinder:
            spec = _PathFinder.find_spec(top, path)
        else:
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec(top, None) if find_spec is not None else None
        if spec is None:
            continue
        if rest and spec.submodule_search_locations is None:
            return HookLocation(module, None, None)
        spec = _descend(spec, rest)
        return None if spec is None else HookLocation(module, None, spec.origin if spec.has_location else None)
    return None


def locate_hook(module: str, *, base_dir: str, hooks_path: Sequence[str] = ()) -> HookLocation | None:
    """Where `module` would be imported from, in the documented order; None when nowhere."""
    for directory in hook_search_path(base_dir, hooks_path):
        spec = _find_in(module, directory)
        if spec is not None:
            return HookLocation(module, directory, spec.origin if spec.has_location else None)
    cwd = os.path.abspath(os.getcwd())
    installed = _find_installed(module, cwd)
    if installed is not None:
        return installed
    spec = _find_in(module, cwd)
    if spec is not None:
        return HookLocation(module, cwd, spec.origin if spec.has_location else None)
    return None


def _root_package(import_name: str, directory: str) -> None:
    """Register the synthetic package whose `__path__` is the search directory."""
    name = import_name.split(".")[0]
    if name in sys.modules:
        return
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [directory]
    sys.modules[name] = importlib.util.module_from_spec(spec)


def import_hook_module(module: str, *, base_dir: str, hooks_path: Sequence[str] = ()) -> types.ModuleType:
    """Import (execute) `module` from where `locate_hook` finds it, under its unique name.

    While it imports, the Katalog's directory and `ORK_HOOKS_PATH` are in front of `sys.path` and
    the current directory behind it, so the module's own absolute imports of sibling files work
    as before; they are restored afterwards. Whatever the import raises propagates; the callers
    word it for their audience."""
    location = locate_hook(module, base_dir=base_dir, hooks_path=hooks_path)
    if location is None:
        raise ModuleNotFoundError(f"No module named '{module}'", name=module)
    with _IMPORT_LOCK:
        saved = list(sys.path)
        sys.path[:0] = hook_search_path(base_dir, hooks_path)
        sys.path.append(os.getcwd())
        try:
            if location.directory is not None:
                _root_package(location.import_name, location.directory)
            return importlib.import_module(location.import_name)
        finally:
            sys.path[:] = saved


# --- inspection without execution -----------------------------------------------------------
def _module_bindings(body: list[ast.stmt]) -> Iterator[tuple[str, ast.AST | None]]:
    """(name, node) for each module-level binding; node None for `import *` / `__getattr__`,
    after which any name may exist. Walks if/try/with blocks, not function or class bodies."""
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield stmt.name, stmt
            if stmt.name == "__getattr__":
                yield "*", None
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    yield target.id, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            yield stmt.target.id, stmt.value
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                yield (alias.asname or alias.name.split(".")[0], stmt) if alias.name != "*" else ("*", None)
        if isinstance(stmt, (ast.If, ast.With, ast.Try, ast.TryStar)):
            nested = stmt.body + getattr(stmt, "orelse", []) + getattr(stmt, "finalbody", [])
            for handler in getattr(stmt, "handlers", []):
                nested = nested + handler.body
            yield from _module_bindings(nested)


_LITERALS = (ast.Constant, ast.List, ast.Dict, ast.Tuple, ast.Set, ast.JoinedStr, ast.ListComp,
             ast.DictComp, ast.SetComp)


def _with_bases(node: ast.ClassDef, classes: dict[str, ast.ClassDef], seen: set[str]) -> list[ast.ClassDef]:
    """`node` and the module-level classes it derives from."""
    out = [node]
    for base in node.bases:
        if isinstance(base, ast.Name) and base.id in classes and base.id not in seen:
            seen.add(base.id)
            out += _with_bases(classes[base.id], classes, seen)
    return out


def _class_callbacks(nodes: list[ast.ClassDef]) -> set[str]:
    return {s.name for n in nodes for s in n.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))} & set(CALLBACKS)


def _async_callbacks(nodes: list[ast.AST]) -> list[str]:
    """Callback names defined with `async def` in `nodes`: called as plain functions, they would
    only return a coroutine, so their body would never run."""
    found = {sub.name for n in nodes for sub in ast.walk(n) if isinstance(sub, ast.AsyncFunctionDef)}
    return [n for n in CALLBACKS if n in found]


def _names_in(node: ast.AST) -> set[str]:
    """Every identifier, attribute, keyword, nested definition and string constant in `node`."""
    out: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            out.add(sub.attr)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(sub.name)
        elif isinstance(sub, ast.keyword) and sub.arg:
            out.add(sub.arg)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            out.add(sub.value)
    return out


def inspect_hook_source(source: str, filename: str, module: str,
                        function: str) -> tuple[tuple[str, str] | None, list[str]]:
    """(`(field, message)` of the problem or None, callbacks evidently provided) from the source."""
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as exc:
        return ("module", f'"{module}" has a syntax error at {filename}:{exc.lineno}: {exc.msg}'), []
    bindings: dict[str, ast.AST | None] = {}
    for name, node in _module_bindings(tree.body):
        bindings[name] = node
    classes = {n: c for n, c in bindings.items() if isinstance(c, ast.ClassDef)}
    if function not in bindings:
        if "*" in bindings:
            return None, []
        return ("function", f'module "{module}" has no attribute "{function}"'), []
    node = bindings[function]
    if isinstance(node, _LITERALS):
        return ("function", f'"{module}.{function}" is not callable'), []
    scope: list[ast.AST] = []
    if isinstance(node, ast.ClassDef):
        reached = _with_bases(node, classes, {node.name})
        found, scope = _class_callbacks(reached), list(reached)
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        names = _names_in(node)
        found, scope = names & set(CALLBACKS), [node]
        for name in names & set(classes):
            reached = _with_bases(classes[name], classes, {name})
            found |= _class_callbacks(reached)
            scope += reached
    else:
        found = set()                      # imported or computed: known only by running it
    for name in _async_callbacks(scope):
        return ("function", f'"{module}.{function}": {name} is an async function; '
                            "hook callbacks are plain functions"), []
    return None, [n for n in CALLBACKS if n in found]


def check_hook(module: str, function: str, *, base_dir: str, hooks_path: Sequence[str] = (),
               execute: bool = False) -> tuple[tuple[str, str] | None, list[str]]:
    """(`(field, message)` of the problem or None, callbacks found). Never calls the factory;
    imports the module only when `execute` (`ork validate --exec-hooks`)."""
    location = locate_hook(module, base_dir=base_dir, hooks_path=hooks_path)
    if location is None:
        return ("module", f'cannot import "{module}": not found in the Katalog\'s directory, ORK_HOOKS_PATH, '
                          "the installed packages or the current directory"), []
    found: list[str] = []
    if location.origin is not None and location.origin.endswith(".py"):
        try:
            with open(location.origin, encoding="utf-8") as fh:
                source = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            return ("module", f'cannot read "{module}" ({location.origin}): {exc}'), []
        problem, found = inspect_hook_source(source, location.origin, module, function)
        if problem:
            return problem, []
    if not execute:
        return None, found
    try:
        mod = import_hook_module(module, base_dir=base_dir, hooks_path=hooks_path)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code failing is reported, not raised
        return ("module", f'importing "{module}" failed: {type(exc).__name__}: {exc}'), []
    factory = getattr(mod, function, None)
    if factory is None:
        return ("function", f'module "{module}" has no attribute "{function}"'), []
    if not callable(factory):
        return ("function", f'"{module}.{function}" is not callable'), []
    return None, found
