"""The generic reconciler: a CR's declared children, status, events, finalizers and hooks.

Public surface for the engine: `build_reconciler(entry, katalog=…, runtime=…)`, the
`ReconcileRuntime` protocol an operator box implements, and `ReconcileResult`. The pure parts
(`render`, `kinds`, `naming`, `status`, `crmeta`, `messages`) are importable on their own;
the pipeline (`reconciler`, `deletion`, `writer`) is imported only when a reconciler is built.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from orkestra.reconcile.runtime import ReconcileResult, ReconcileRuntime, Reconciler

if TYPE_CHECKING:
    from orkestra.katalog.model import CrdEntry, Katalog


def build_reconciler(entry: "CrdEntry", *, katalog: "Katalog", runtime: ReconcileRuntime,
                     hooks_path: Sequence[str] = (), clock=None) -> Reconciler:
    """Compile the entry's templates and status fields, load its hooks (factory called once), and
    return the reconciler. Raises `HookLoadError` or a template syntax error with a clear message.
    `hooks_path` is ORK_HOOKS_PATH (`Settings.katalog.hooks_path`), searched for the hook module."""
    from orkestra.hooks.loader import load_hooks
    from orkestra.reconcile.reconciler import DeclarativeReconciler

    hooks = load_hooks(entry.box_spec.hooks, crd=entry.key, hooks_path=hooks_path) if entry.box_spec.hooks else None
    return DeclarativeReconciler(entry, katalog=katalog, runtime=runtime, hooks=hooks, clock=clock)


__all__ = ["ReconcileResult", "ReconcileRuntime", "Reconciler", "build_reconciler"]
