"""Build kube-apiserver, kube-controller-manager and etcd from Go modules, once per machine.

No package registry this project can reach ships a kube-apiserver binary, but the Go module
proxy serves Kubernetes' source, so the control plane is compiled here (docs/architecture.md). The work:

1. `go mod download -json k8s.io/kubernetes@v<version>` to read Kubernetes' own go.mod;
2. write the wrapper module (`orkestra.testing.gomod`) into `<cache>/v<version>/src/`;
3. `go build` the two Kubernetes commands (CGO off, version stamped) and etcd from that module
   into a scratch directory, then move the binaries into place, so an interrupted build never
   leaves a half-written binary that looks finished.

A cold build downloads about 600 MB of modules and compiles for several minutes on 2 cores;
a warm one (Go's module and build caches are shared by every build on the machine) takes about
a minute, and a finished one is only checked (`<binary> --version`). An exclusive file lock
makes concurrent callers wait for one build instead of running two. Progress goes to stderr,
with a heartbeat while the compiler is silent, so nobody mistakes a long build for a hang.

Run it as `python -m orkestra.testing.build [--version 1.37.2] [--force]`.

`--helm` builds `helm` the same way (`go install helm.sh/helm/v4/cmd/helm@v<version>`, one Go
module, no wrapper needed) into `<cache>/helm/v<version>/helm`, for the chart tests.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from orkestra.testing import gomod
from orkestra.testing.errors import BuildError
from orkestra.testing.locking import exclusive_lock
from orkestra.testing.paths import binaries_dir, cache_root

KUBERNETES_VERSION = "1.37.2"
KUBERNETES_COMMANDS = ("kube-apiserver", "kube-controller-manager")
ETCD = "etcd"
BINARIES = (ETCD, *KUBERNETES_COMMANDS)
HELM_VERSION = "4.3.2"
HELM_MODULE = "helm.sh/helm/v4"
HEARTBEAT_SECONDS = 30.0
_TAIL_LINES = 25

Progress = Callable[[str], None]


def stderr_progress(message: str) -> None:
    """The default progress sink: one `[controlplane]` line per step on stderr."""
    print(f"[controlplane] {message}", file=sys.stderr, flush=True)


def binaries_ok(bin_dir: Path, version: str) -> bool:
    """True when every binary exists and answers `--version` (the Kubernetes ones with `version`)."""
    for name in BINARIES:
        path = bin_dir / name
        if not os.access(path, os.X_OK):
            return False
        try:
            out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return False
        if out.returncode != 0:
            return False
        if name in KUBERNETES_COMMANDS and f"v{version}" not in out.stdout:
            return False
    return True


def ensure_binaries(version: str = KUBERNETES_VERSION, *, force: bool = False,
                    progress: Progress = stderr_progress,
                    env: Mapping[str, str] | None = None) -> Path:
    """Return the directory holding the three binaries for `version`, building them if needed."""
    gomod.parse_version(version)
    env = dict(os.environ if env is None else env)
    bin_dir = binaries_dir(version, env)
    _ensure(lambda: binaries_ok(bin_dir, version), bin_dir.parent / f"v{version}.lock",
            lambda: _build(version, bin_dir, progress, env), force=force, progress=progress,
            broken=f"the control-plane binaries in {bin_dir} do not run `--version` after the build; "
                   f"delete that directory and run `make controlplane` again")
    return bin_dir


def _ensure(ready: Callable[[], bool], lock: Path, build: Callable[[], None], *, force: bool,
            progress: Progress, broken: str) -> None:
    """Build unless `ready()`, under `lock` so that concurrent callers build once; check afterwards."""
    if not force and ready():
        return
    with exclusive_lock(lock, on_wait=progress):
        if not force and ready():  # built by whoever held the lock
            return
        build()
    if not ready():
        raise BuildError(broken)


def _find_go(env: Mapping[str, str], what: str) -> str:
    go = shutil.which("go", path=env.get("PATH"))
    if go is None:
        raise BuildError(f"`go` is not on PATH: {what}; "
                         "install Go 1.26 or newer (https://go.dev/doc/install) and put its bin/ on PATH")
    return go


def _build(version: str, bin_dir: Path, progress: Progress, env: dict[str, str]) -> None:
    go = _find_go(env, "the local control plane is compiled from Go modules")
    started = time.monotonic()
    progress(f"building Kubernetes v{version} control plane into {bin_dir} "
             f"(cold: downloads ~600 MB of Go modules and compiles for several minutes; warm: ~1 minute)")
    build_env = {**env, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
    src = bin_dir / "src"
    src.mkdir(parents=True, exist_ok=True)
    kubernetes_gomod = _download_kubernetes_gomod(go, version, build_env, progress)
    (src / "go.mod").write_text(gomod.wrapper_gomod(kubernetes_version=version,
                                                    kubernetes_gomod=kubernetes_gomod))
    (src / "go.sum").unlink(missing_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="out.", dir=bin_dir))
    try:
        progress(f"compiling {' and '.join(KUBERNETES_COMMANDS)} (the long step)")
        _go_build(go, ["build", "-o", f"{scratch}/", "-ldflags", gomod.version_ldflags(version),
                       *(f"k8s.io/kubernetes/cmd/{name}" for name in KUBERNETES_COMMANDS)],
                  src, build_env, progress, what=" and ".join(KUBERNETES_COMMANDS))
        progress("compiling etcd (the version Kubernetes pins)")
        _go_build(go, ["build", "-o", str(scratch / ETCD), "go.etcd.io/etcd/server/v3"],
                  src, build_env, progress, what=ETCD)
        for name in BINARIES:
            os.replace(scratch / name, bin_dir / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    progress(f"built {', '.join(BINARIES)} in {time.monotonic() - started:.0f}s")


def _download_kubernetes_gomod(go: str, version: str, env: dict[str, str], progress: Progress) -> str:
    module = f"k8s.io/kubernetes@v{version}"
    progress(f"reading {module}'s go.mod from the module proxy")
    with tempfile.TemporaryDirectory() as outside_any_module:
        out = subprocess.run([go, "mod", "download", "-json", module], cwd=outside_any_module,
                             env=env, capture_output=True, text=True)
    try:
        info = json.loads(out.stdout)
    except json.JSONDecodeError:
        info = {}
    if out.returncode != 0 or info.get("Error") or not info.get("GoMod"):
        reason = info.get("Error") or _tail(out.stderr) or f"go exited with {out.returncode}"
        raise BuildError(f"module download refused: {module}: {reason.splitlines()[0]}",
                         _tail(out.stderr))
    return Path(info["GoMod"]).read_text()


def _go_build(go: str, args: list[str], cwd: Path, env: dict[str, str], progress: Progress,
              *, what: str) -> None:
    """Run `go <args>`, reporting downloads as they happen and a heartbeat while it compiles."""
    proc = subprocess.Popen([go, *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    downloads = 0
    started = time.monotonic()
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(HEARTBEAT_SECONDS):
            progress(f"still compiling {what} ({time.monotonic() - started:.0f}s so far; "
                     f"Go prints nothing while it compiles)")

    ticker = threading.Thread(target=heartbeat, name="controlplane-build-heartbeat", daemon=True)
    ticker.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if line.startswith("go: downloading"):
                downloads += 1
                if downloads == 1 or downloads % 25 == 0:
                    progress(f"downloading Go modules ({downloads} so far): {line[16:].strip()}")
        code = proc.wait()
    finally:
        done.set()
    if code == 0:
        return
    text = "".join(output)
    refused = gomod.refused_module(text)
    if refused is not None:
        raise BuildError(f"module download refused: {refused[0]}: {refused[1]}", _tail(text))
    raise BuildError(f"go build of {what} failed (exit {code}); the last lines of its output follow",
                     _tail(text))


def helm_path(version: str = HELM_VERSION, env: Mapping[str, str] | None = None) -> Path:
    """Where the `helm` binary for `version` lives: beside the control plane, under the cache root."""
    return cache_root(env) / "helm" / f"v{version}" / "helm"


def helm_ok(path: Path, version: str) -> bool:
    """True when `path` runs and `helm version --short` names `version`."""
    if not os.access(path, os.X_OK):
        return False
    try:
        out = subprocess.run([str(path), "version", "--short"], capture_output=True, text=True, timeout=30,
                             env={**os.environ, "HELM_CACHE_HOME": tempfile.gettempdir()})
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and f"v{version}" in out.stdout


def ensure_helm(version: str = HELM_VERSION, *, force: bool = False, progress: Progress = stderr_progress,
                env: Mapping[str, str] | None = None) -> Path:
    """Return the path of a working `helm` for `version`, compiling it from its Go module if needed."""
    env = dict(os.environ if env is None else env)
    path = helm_path(version, env)
    _ensure(lambda: helm_ok(path, version), path.parent.parent / f"v{version}.lock",
            lambda: _build_helm(version, path, progress, env), force=force, progress=progress,
            broken=f"{path} does not run `version` after the build; delete {path.parent} and "
                   f"run `python -m orkestra.testing.build --helm` again")
    return path


def _build_helm(version: str, path: Path, progress: Progress, env: dict[str, str]) -> None:
    go = _find_go(env, "helm is compiled from its Go module")
    started = time.monotonic()
    path.parent.mkdir(parents=True, exist_ok=True)
    progress(f"building helm v{version} into {path.parent} (cold: downloads Go modules and compiles "
             f"for a few minutes; warm: well under a minute)")
    scratch = Path(tempfile.mkdtemp(prefix="out.", dir=path.parent))
    try:
        build_env = {**env, "CGO_ENABLED": "0", "GOBIN": str(scratch), "GOFLAGS": "", "GOWORK": "off"}
        ldflags = f"-X {HELM_MODULE}/internal/version.version=v{version}"
        _go_build(go, ["install", "-ldflags", ldflags, f"{HELM_MODULE}/cmd/helm@v{version}"],
                  scratch, build_env, progress, what="helm")
        os.replace(scratch / "helm", path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    progress(f"built helm in {time.monotonic() - started:.0f}s")


def _tail(text: str, lines: int = _TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    """`python -m orkestra.testing.build`: build (or check) the binaries and print their directory."""
    parser = argparse.ArgumentParser(prog="python -m orkestra.testing.build", description=main.__doc__)
    parser.add_argument("--version", default=KUBERNETES_VERSION, help="Kubernetes version (default %(default)s)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the binaries are there")
    parser.add_argument("--helm", action="store_true",
                        help=f"build (or check) helm v{HELM_VERSION} instead of the control plane")
    args = parser.parse_args(argv)
    try:
        built = (ensure_helm(force=args.force) if args.helm
                 else ensure_binaries(args.version, force=args.force))
    except (BuildError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(built)
    return 0


if __name__ == "__main__":
    sys.exit(main())
