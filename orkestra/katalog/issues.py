"""Load problems as values: one `KatalogIssue` per error, collected into `KatalogErrors`.

Loading never stops at the first problem (docs/katalog.md#reading-rules): every stage appends to an `IssueSink`,
which locates each problem in the source through the node marks (`orkestra.katalog.source`) and
remembers which CRD entry it belongs to, so `ork validate` can group errors per entry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orkestra.errors import OrkestraError
from orkestra.katalog.source import Mark, locate


def format_path(parts: tuple | list) -> str:
    """`("spec", "crds", "web", "x", 0)` -> `spec.crds.web.x[0]`."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def crd_of(parts: tuple | list) -> str | None:
    """The CRD key a path belongs to (`spec.crds.<key>...`), else None."""
    if len(parts) >= 3 and parts[0] == "spec" and parts[1] == "crds" and isinstance(parts[2], str):
        return parts[2]
    return None


@dataclass(frozen=True)
class KatalogIssue:
    file: str
    line: int | None
    col: int | None
    path: str
    message: str               # full text, path included where the spec puts it
    crd: str | None = None

    def __str__(self) -> str:
        if self.line is not None:
            return f"{self.file}:{self.line}:{self.col}: {self.message}"
        return f"{self.file}: {self.message}" if self.file else self.message


class KatalogErrors(OrkestraError):
    """Every error found while loading; `str()` gives one line per issue."""

    def __init__(self, issues: list[KatalogIssue]):
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues) or "invalid Katalog")


@dataclass
class IssueSink:
    """Collects errors and warnings, locating each one through the document's marks."""

    default_file: str
    doc: Any = None
    errors: list[KatalogIssue] = field(default_factory=list)
    warnings: list[KatalogIssue] = field(default_factory=list)
    shape_errors: set[str | None] = field(default_factory=set)   # CRDs (None: top level) with wrong types
    unknown_paths: set[str] = field(default_factory=set)          # keys already reported as unknown
    _seen: set[KatalogIssue] = field(default_factory=set)

    def _make(self, parts: tuple | list, message: str, *, with_path: bool, mark: Mark | None,
              crd: str | None, file: str | None = None) -> KatalogIssue:
        parts = tuple(parts)
        if mark is None and self.doc is not None and parts:
            mark = locate(self.doc, parts)
        path = format_path(parts)
        text = f"{path}: {message}" if with_path and path else message
        if mark is None:
            return KatalogIssue(file or self.default_file, None, None, path, text, crd or crd_of(parts))
        return KatalogIssue(mark.file or self.default_file, mark.line, mark.col, path, text,
                            crd or crd_of(parts))

    def error(self, parts: tuple | list, message: str, *, with_path: bool = True,
              mark: Mark | None = None, crd: str | None = None, file: str | None = None) -> None:
        issue = self._make(parts, message, with_path=with_path, mark=mark, crd=crd, file=file)
        if issue not in self._seen:
            self._seen.add(issue)
            self.errors.append(issue)

    def warn(self, parts: tuple | list, message: str, *, with_path: bool = True,
             mark: Mark | None = None, crd: str | None = None) -> None:
        issue = self._make(parts, message, with_path=with_path, mark=mark, crd=crd)
        if issue not in self._seen:
            self._seen.add(issue)
            self.warnings.append(issue)
