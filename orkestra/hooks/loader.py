"""Loading a CRD's Python hooks (docs/katalog.md#hooks): import, call the factory once, collect the callbacks.

The module is found and imported by `orkestra.katalog.hookcheck` (docs/hooks.md): the Katalog
file's directory, `ORK_HOOKS_PATH`, the installed packages, the current directory last, under a
name unique to the directory it came from. Every failure is a `HookLoadError` whose message
names the CRD and the hook reference.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from orkestra.errors import OrkestraError
from orkestra.katalog.hookcheck import import_hook_module
from orkestra.katalog.model import HookSpec

CALLBACKS = ("on_create", "on_update", "on_reconcile", "on_delete")


class HookLoadError(OrkestraError):
    """The hook module, its factory, or what the factory returned is unusable."""


@dataclass(frozen=True)
class HookSet:
    ref: str
    run_first: bool
    callbacks: dict[str, Callable]      # subset of CALLBACKS

    @property
    def has_on_delete(self) -> bool:
        return "on_delete" in self.callbacks


def load_hooks(spec: HookSpec, *, crd: str, hooks_path: Sequence[str] = ()) -> HookSet:
    """Import `spec.module`, call `spec.function()` once, and return its callbacks."""
    where = f"{crd}: hooks {spec.ref}"
    if "/" in spec.module:
        raise HookLoadError(f'{where}: hooks.module must be a Python module path like "pkg.mod"')
    try:
        module = import_hook_module(spec.module, base_dir=spec.base_dir, hooks_path=hooks_path)
    except (Exception, SystemExit) as err:  # noqa: BLE001 - any import-time failure of user code is reported
        raise HookLoadError(f'{where}: cannot import module "{spec.module}": '
                            f"{type(err).__name__}: {err}") from None
    factory = getattr(module, spec.function, None)
    if factory is None:
        raise HookLoadError(f'{where}: module "{spec.module}" has no attribute "{spec.function}"')
    if not callable(factory):
        raise HookLoadError(f'{where}: "{spec.function}" is not callable')
    try:
        hooks = factory()
    except (Exception, SystemExit) as err:  # noqa: BLE001 - SystemExit would end the activator thread silently
        raise HookLoadError(f"{where}: the factory raised {type(err).__name__}: {err}") from None
    get = hooks.get if isinstance(hooks, dict) else (lambda name: getattr(hooks, name, None))
    callbacks: dict[str, Callable[..., Any]] = {}
    for name in CALLBACKS:
        fn = get(name)
        if fn is None:
            continue
        if not callable(fn):
            raise HookLoadError(f"{where}: {name} is not callable")
        if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
            # called synchronously, it would only return a coroutine: the body would never run
            raise HookLoadError(f"{where}: {name} is an async function; hook callbacks are plain functions")
        callbacks[name] = fn
    if not callbacks:
        raise HookLoadError(f"{where}: the factory returned none of {', '.join(CALLBACKS)}")
    return HookSet(ref=spec.ref, run_first=spec.run_hooks_first, callbacks=callbacks)


def calls_for(hooks: HookSet, *, reconciled_before: bool, generation_newer: bool) -> list[str]:
    """Call rules of §16: on_create (never reconciled) or on_update (newer generation), then on_reconcile."""
    names = []
    if not reconciled_before:
        names.append("on_create")
    elif generation_newer:
        names.append("on_update")
    names.append("on_reconcile")
    return [n for n in names if n in hooks.callbacks]
