"""`python -m orkestra.testing.build --helm`: helm compiled from its Go module, with a fake `go`."""
from pathlib import Path

import pytest

from orkestra.testing import build
from orkestra.testing.errors import BuildError
from tests.unit.testing.test_build import env, fake_go, script  # noqa: F401 - the env fixture

FAKE_HELM = '#!/bin/sh\\necho v4.3.2+g0000000\\n'


def test_helm_lives_beside_the_control_plane_under_the_cache_root(env):  # noqa: F811
    assert build.helm_path("4.3.2", env) == Path(env["XDG_CACHE_HOME"]) / "orkestra" / "helm" / "v4.3.2" / "helm"


def test_an_existing_helm_of_that_version_is_reused_without_go(env):  # noqa: F811
    path = build.helm_path("4.3.2", env)
    path.parent.mkdir(parents=True)
    script(path, "echo v4.3.2+gabc\n")
    assert build.ensure_helm("4.3.2", env=env, progress=lambda _: None) == path


def test_a_helm_of_another_version_is_rebuilt_with_go_install(env, tmp_path):  # noqa: F811
    path = build.helm_path("4.3.2", env)
    path.parent.mkdir(parents=True)
    script(path, "echo v3.15.0\n")
    calls = tmp_path / "calls"
    # `go install` writes the binary into $GOBIN; record the arguments and the environment it got.
    fake_go(env, f'echo "$@ GOBIN=$GOBIN CGO=$CGO_ENABLED" >> {calls}\n'
                 f'echo "go: downloading helm.sh/helm/v4 v4.3.2"\nprintf "{FAKE_HELM}" > "$GOBIN/helm"; '
                 f'chmod +x "$GOBIN/helm"\n')
    said: list[str] = []
    assert build.ensure_helm("4.3.2", env=env, progress=said.append) == path
    call = calls.read_text()
    assert call.startswith("install -ldflags -X helm.sh/helm/v4/internal/version.version=v4.3.2 "
                           "helm.sh/helm/v4/cmd/helm@v4.3.2 GOBIN=")
    assert call.rstrip().endswith("CGO=0")
    assert not list(path.parent.glob("out.*"))          # the scratch dir is gone
    assert any("downloading Go modules (1 so far)" in line for line in said)
    assert said[-1].startswith("built helm in ")


def test_a_failed_helm_build_keeps_no_binary_and_says_so(env):  # noqa: F811
    fake_go(env, 'echo "compile error: boom"\nexit 2\n')
    with pytest.raises(BuildError) as err:
        build.ensure_helm("4.3.2", env=env, progress=lambda _: None)
    assert err.value.headline == "go build of helm failed (exit 2); the last lines of its output follow"
    assert "boom" in err.value.detail
    assert not build.helm_path("4.3.2", env).exists()


def test_main_with_helm_prints_the_binary_path(env, monkeypatch, capsys):  # noqa: F811
    path = build.helm_path("4.3.2", env)
    path.parent.mkdir(parents=True)
    script(path, "echo v4.3.2\n")
    monkeypatch.setattr("os.environ", env)
    assert build.main(["--helm"]) == 0
    assert capsys.readouterr().out == f"{path}\n"
