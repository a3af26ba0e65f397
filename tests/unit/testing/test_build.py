"""The builder's decisions and error lines, with a fake `go` and fake binaries (nothing compiles)."""
import json
import os
import stat
import threading
from pathlib import Path

import pytest

from orkestra.testing import build
from orkestra.testing.errors import BuildError
from orkestra.testing.locking import exclusive_lock
from orkestra.testing.paths import binaries_dir

KUBERNETES_GOMOD = "module k8s.io/kubernetes\n\ngo 1.26.0\n\nreplace k8s.io/api => ./staging/src/k8s.io/api\n"


def script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def fake_binaries(directory: Path, version: str = "1.37.2") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    script(directory / "etcd", "echo 'etcd Version: 3.7.0'\n")
    for name in build.KUBERNETES_COMMANDS:
        script(directory / name, f"echo 'Kubernetes v{version}'\n")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    tools = tmp_path / "tools"
    tools.mkdir()
    return {"XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": f"{tools}:/usr/bin:/bin", "HOME": str(tmp_path)}


def fake_go(env: dict[str, str], body: str) -> None:
    script(Path(env["PATH"].split(":")[0]) / "go", body)


def test_existing_binaries_are_reused_without_go(env):
    fake_binaries(binaries_dir("1.37.2", env))
    assert build.ensure_binaries("1.37.2", env=env, progress=lambda _: None) == binaries_dir("1.37.2", env)


def test_binaries_of_another_version_are_not_reused(env):
    fake_binaries(binaries_dir("1.37.2", env), version="1.36.0")
    assert build.binaries_ok(binaries_dir("1.37.2", env), "1.37.2") is False


def test_no_go_on_path_is_one_line_saying_how_to_install_it(env):
    with pytest.raises(BuildError) as err:
        build.ensure_binaries("1.37.2", env=env, progress=lambda _: None)
    assert err.value.headline.startswith("`go` is not on PATH")
    assert "install Go" in err.value.headline
    assert "\n" not in str(err.value)


def test_a_refused_kubernetes_module_names_the_module(env):
    answer = json.dumps({"Path": "k8s.io/kubernetes", "Version": "v1.37.2",
                         "Error": "k8s.io/kubernetes@v1.37.2: reading https://proxy/...: 403 Forbidden"})
    fake_go(env, f"echo '{answer}'\nexit 1\n")
    with pytest.raises(BuildError) as err:
        build.ensure_binaries("1.37.2", env=env, progress=lambda _: None)
    assert err.value.headline.startswith("module download refused: k8s.io/kubernetes@v1.37.2: ")
    assert "403 Forbidden" in err.value.headline


def go_that_downloads_then(env, tmp_path: Path, build_body: str) -> None:
    gomod = tmp_path / "kubernetes.mod"
    gomod.write_text(KUBERNETES_GOMOD)
    answer = json.dumps({"Path": "k8s.io/kubernetes", "Version": "v1.37.2", "GoMod": str(gomod)})
    fake_go(env, f'if [ "$1" = mod ]; then echo \'{answer}\'; exit 0; fi\n{build_body}')


def test_a_module_refused_during_the_build_names_that_module(env, tmp_path):
    go_that_downloads_then(env, tmp_path, "echo 'go: downloading k8s.io/api v0.37.2'\n"
                           "echo 'go: k8s.io/metrics@v0.37.2: reading https://proxy/x.zip: 410 Gone'\nexit 1\n")
    with pytest.raises(BuildError) as err:
        build.ensure_binaries("1.37.2", env=env, progress=lambda _: None)
    assert err.value.headline == "module download refused: k8s.io/metrics@v0.37.2: reading https://proxy/x.zip: 410 Gone"
    wrapper = (binaries_dir("1.37.2", env) / "src" / "go.mod").read_text()
    assert "k8s.io/api => k8s.io/api v0.37.2" in wrapper


def test_a_compile_failure_shows_the_tail_of_the_output(env, tmp_path):
    go_that_downloads_then(env, tmp_path, "i=0; while [ $i -lt 40 ]; do echo line$i; i=$((i+1)); done\n"
                           "echo 'pkg/x.go:1:1: undefined: Y'\nexit 2\n")
    with pytest.raises(BuildError) as err:
        build.ensure_binaries("1.37.2", env=env, progress=lambda _: None)
    assert err.value.headline == ("go build of kube-apiserver and kube-controller-manager failed (exit 2); "
                                  "the last lines of its output follow")
    assert err.value.detail.endswith("pkg/x.go:1:1: undefined: Y")
    assert "line39" in err.value.detail and "line0\n" not in err.value.detail
    assert not (binaries_dir("1.37.2", env) / "kube-apiserver").exists()


def test_a_successful_build_moves_the_binaries_into_place_and_reports_progress(env, tmp_path):
    # `go build -o DIR/ pkgs...` writes one binary per command; `go build -o FILE pkg` writes FILE.
    body = ('out=$3; case "$out" in */) for n in kube-apiserver kube-controller-manager; do '
            'printf "#!/bin/sh\\necho Kubernetes v1.37.2\\n" > "$out$n"; chmod +x "$out$n"; done;; '
            '*) printf "#!/bin/sh\\necho etcd Version: 3.7.0\\n" > "$out"; chmod +x "$out";; esac\n'
            'echo "go: downloading k8s.io/api v0.37.2"\n')
    go_that_downloads_then(env, tmp_path, body)
    said: list[str] = []
    bin_dir = build.ensure_binaries("1.37.2", env=env, progress=said.append)
    assert sorted(p.name for p in bin_dir.iterdir() if p.is_file()) == ["etcd", "kube-apiserver",
                                                                      "kube-controller-manager"]
    assert not list(bin_dir.glob("out.*"))
    assert any("downloading Go modules (1 so far)" in line for line in said)
    assert said[-1].startswith("built etcd, kube-apiserver, kube-controller-manager in ")


def test_a_second_caller_waits_for_the_lock_and_is_told_why(tmp_path):
    lock = tmp_path / "v1.lock"
    waiting = threading.Event()
    got_it = threading.Event()
    messages: list[str] = []

    def second() -> None:
        def on_wait(why: str) -> None:
            messages.append(why)
            waiting.set()
        with exclusive_lock(lock, on_wait=on_wait):
            got_it.set()

    with exclusive_lock(lock):
        thread = threading.Thread(target=second)
        thread.start()
        assert waiting.wait(5)
        assert not got_it.is_set()
    thread.join(5)
    assert got_it.is_set()
    assert messages == [f"another process holds {lock}; waiting for it to finish"]


def test_cache_location_honours_xdg_cache_home(tmp_path):
    assert binaries_dir("1.37.2", {"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "orkestra" / "control-plane" / "v1.37.2"
    home = os.path.expanduser("~")
    assert binaries_dir("1.37.2", {}) == Path(home) / ".cache" / "orkestra" / "control-plane" / "v1.37.2"


def test_main_prints_one_error_line_and_exits_1(env, monkeypatch, capsys):
    monkeypatch.setattr(os, "environ", env)
    assert build.main(["--version", "1.37.2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: `go` is not on PATH")
    assert err.count("\n") == 1
