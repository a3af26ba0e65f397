"""Where the local control plane keeps its files, outside the repository.

Binaries are cached per Kubernetes version under `$XDG_CACHE_HOME/orkestra/control-plane/v<version>/`
(`~/.cache/...` when the variable is unset), so every checkout and every test session on the
machine shares one build. `ork local` keeps its kubeconfig, state and data under
`.../orkestra/local/`. The environment is a parameter so tests can point it at a temp dir.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CACHE_HOME/orkestra`, or `~/.cache/orkestra`."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "orkestra"


def binaries_dir(version: str, env: Mapping[str, str] | None = None) -> Path:
    """The directory holding etcd, kube-apiserver and kube-controller-manager for `version`."""
    return cache_root(env) / "control-plane" / f"v{version}"


def local_dir(env: Mapping[str, str] | None = None) -> Path:
    """The home of `ork local`: kubeconfig, state.json and the running cluster's files."""
    return cache_root(env) / "local"
