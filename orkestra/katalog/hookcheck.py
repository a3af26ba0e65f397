"""Offline hook checks (katalog.md §16): import the module, find the factory, never call it.

The module is imported with the documented search order in front of `sys.path` (the Katalog
file's directory, the current directory, `ORK_HOOKS_PATH`), restored afterwards. Which callbacks
the factory provides is read from its code object (names it defines or mentions, and the callbacks
of module-level classes it names), because calling it is the engine's job at activation.
"""
from __future__ import annotations

import importlib
import os
import sys
import threading
import types
from typing import Any, Mapping

CALLBACKS = ("on_create", "on_update", "on_reconcile", "on_delete")
_IMPORT_LOCK = threading.Lock()


def _names_in(code: types.CodeType, out: set[str]) -> None:
    out.update(code.co_names, code.co_varnames, code.co_cellvars)
    for const in code.co_consts:
        if isinstance(const, str):
            out.add(const)
        elif isinstance(const, types.CodeType):
            out.add(const.co_name)
            _names_in(const, out)


def callbacks_of(factory: Any) -> list[str]:
    """The callback names a factory evidently provides, in canonical order (best effort, no call)."""
    names: set[str] = set()
    if isinstance(factory, type):
        names.update(n for n in CALLBACKS if callable(getattr(factory, n, None)))
    code = getattr(factory, "__code__", None)
    if code is not None:
        _names_in(code, names)
        module_globals = getattr(factory, "__globals__", {})
        for name in list(names):                  # a module-level class the factory instantiates
            value = module_globals.get(name)
            if isinstance(value, type):
                names.update(n for n in CALLBACKS if callable(getattr(value, n, None)))
    return [n for n in CALLBACKS if n in names]


def hook_search_path(base_dir: str, env: Mapping[str, str]) -> list[str]:
    """Directories tried before `sys.path`, in order, without duplicates (katalog.md §16)."""
    dirs = [base_dir, os.getcwd()] + [p for p in env.get("ORK_HOOKS_PATH", "").split(os.pathsep) if p]
    return list(dict.fromkeys(os.path.abspath(d) for d in dirs if d))


def import_hook_module(module: str, *, base_dir: str, env: Mapping[str, str]) -> types.ModuleType:
    """Import `module` with the hook search path in front of `sys.path`, restored afterwards.

    Whatever the import raises propagates; the callers word it for their audience.
    """
    with _IMPORT_LOCK:
        saved = list(sys.path)
        sys.path[:0] = hook_search_path(base_dir, env)
        try:
            return importlib.import_module(module)
        finally:
            sys.path[:] = saved


def check_hook(module: str, function: str, *, base_dir: str,
               env: Mapping[str, str]) -> tuple[tuple[str, str] | None, list[str]]:
    """(`(field, message)` of the problem or None, callbacks found)."""
    try:
        mod = import_hook_module(module, base_dir=base_dir, env=env)
    except ModuleNotFoundError as exc:
        return ("module", f'cannot import "{module}": {exc}'), []
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code failing is reported, not raised
        return ("module", f'importing "{module}" failed: {type(exc).__name__}: {exc}'), []
    factory = getattr(mod, function, None)
    if factory is None:
        return ("function", f'module "{module}" has no attribute "{function}"'), []
    if not callable(factory):
        return ("function", f'"{module}.{function}" is not callable'), []
    return None, callbacks_of(factory)
