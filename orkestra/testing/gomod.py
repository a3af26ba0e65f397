"""The wrapper Go module that builds Kubernetes from the module proxy (pure text functions).

`k8s.io/kubernetes` requires its staging modules (`k8s.io/api`, `k8s.io/client-go`, ...) at
`v0.0.0` and maps them to `./staging/src/...` with replace directives, which Go ignores in a
dependency. A wrapper module restores the mapping: one `replace k8s.io/X => k8s.io/X v0.<minor>.<patch>`
for every staging module that Kubernetes' own go.mod names. The list is read from that go.mod
every time (it grows between releases), never hard-coded.

This module also turns Go's error output into the one line a user needs (which module the
proxy refused), so the builder stays a thin layer of subprocess calls around these functions.
"""
from __future__ import annotations

import re

_STAGING_REPLACE = re.compile(r"^\s*(?:replace\s+)?(k8s\.io/[A-Za-z0-9._-]+)\s+=>\s+\./staging/", re.M)
_GO_DIRECTIVE = re.compile(r"^go\s+(\d+\.\d+(?:\.\d+)?)\s*$", re.M)
# `go: example.com/mod@v1.2.3: reading https://...: 404 Not Found` and friends.
_MODULE_ERROR = re.compile(r"^go: (?:downloading )?([^\s@:]+@[^\s:]+): (.+)$")
_MODULE_ERROR_HINTS = ("reading http", "not found", "gone", "forbidden", "unknown revision",
                       "verifying", "invalid version", "410", "403", "404", "proxy")


def parse_version(version: str) -> tuple[int, int, int]:
    """`"1.37.2"` -> `(1, 37, 2)`; raises ValueError for anything else."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)", version)
    if not match:
        raise ValueError(f"Kubernetes version must look like 1.37.2, got {version!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def staging_modules(kubernetes_gomod: str) -> list[str]:
    """The staging module paths that `k8s.io/kubernetes`' go.mod maps to `./staging/...`, sorted."""
    return sorted(set(_STAGING_REPLACE.findall(kubernetes_gomod)))


def go_directive(gomod: str) -> str | None:
    """The `go 1.xx` version a go.mod asks for, or None."""
    match = _GO_DIRECTIVE.search(gomod)
    return match.group(1) if match else None


def wrapper_gomod(*, kubernetes_version: str, kubernetes_gomod: str,
                  module: str = "orkestra.local/controlplane") -> str:
    """The complete go.mod of the wrapper module for `kubernetes_version` (e.g. "1.37.2")."""
    _, minor, patch = parse_version(kubernetes_version)
    staging = staging_modules(kubernetes_gomod)
    if not staging:
        raise ValueError("k8s.io/kubernetes go.mod names no ./staging replace directives")
    lines = [f"module {module}", ""]
    go_version = go_directive(kubernetes_gomod)
    if go_version:
        lines += [f"go {go_version}", ""]
    lines += [f"require k8s.io/kubernetes v{kubernetes_version.lstrip('v')}", "", "replace ("]
    lines += [f"\t{path} => {path} v0.{minor}.{patch}" for path in staging]
    lines += [")", ""]
    return "\n".join(lines)


def version_ldflags(kubernetes_version: str) -> str:
    """`-X` flags that stamp the version (otherwise `/version` says v0.0.0-master)."""
    major, minor, _ = parse_version(kubernetes_version)
    pkg = "k8s.io/component-base/version"
    return " ".join([
        f"-X {pkg}.gitVersion=v{kubernetes_version.lstrip('v')}",
        f"-X {pkg}.gitMajor={major}",
        f"-X {pkg}.gitMinor={minor}",
        f"-X {pkg}.gitTreeState=clean",
    ])


def refused_module(go_output: str) -> tuple[str, str] | None:
    """`(module@version, reason)` when Go's output shows a module download failed, else None."""
    for line in go_output.splitlines():
        match = _MODULE_ERROR.match(line.strip())
        if match and any(hint in match.group(2).lower() for hint in _MODULE_ERROR_HINTS):
            return match.group(1), match.group(2)
    return None
