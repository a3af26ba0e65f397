"""The Katalog language: loading, validation, enrichment, imports, dependencies and RBAC derivation.

Public API: `load_katalog(paths, inputs=None) -> Katalog` (raises `KatalogErrors`) and
`load_report(paths, inputs=None, *, exec_hooks=False) -> LoadReport` for `ork validate`; `inputs`
(`orkestra.katalog.inputs.LoadInputs`) is what the environment contributes, parsed by `orkestra.config`. Importing
this package is cheap: the loader is imported on first use.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orkestra.katalog.issues import KatalogErrors, KatalogIssue
    from orkestra.katalog.loader import LoadReport, load_katalog, load_report

__all__ = ["KatalogErrors", "KatalogIssue", "LoadReport", "load_katalog", "load_report"]


def __getattr__(name: str) -> Any:
    if name in ("load_katalog", "load_report", "LoadReport"):
        from orkestra.katalog import loader
        return getattr(loader, name)
    if name in ("KatalogErrors", "KatalogIssue"):
        from orkestra.katalog import issues
        return getattr(issues, name)
    raise AttributeError(name)
