"""The wrapper go.mod is generated from Kubernetes' own go.mod, and Go's errors become one line."""
import pytest

from orkestra.testing import gomod

KUBERNETES_GOMOD = """\
// generated
module k8s.io/kubernetes

go 1.26.0

godebug default=go1.26

require (
\tgithub.com/spf13/cobra v1.10.2
\tk8s.io/api v0.0.0
\tk8s.io/client-go v0.0.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tk8s.io/new-in-this-release => ./staging/src/k8s.io/new-in-this-release
\tgithub.com/forked/thing => github.com/fork/thing v1.0.0
)

replace k8s.io/single-line => ./staging/src/k8s.io/single-line
"""


def test_staging_modules_come_from_the_replace_directives():
    assert gomod.staging_modules(KUBERNETES_GOMOD) == [
        "k8s.io/api", "k8s.io/client-go", "k8s.io/new-in-this-release", "k8s.io/single-line"]


def test_wrapper_gomod_pins_every_staging_module_to_the_matching_v0_release():
    text = gomod.wrapper_gomod(kubernetes_version="1.37.2", kubernetes_gomod=KUBERNETES_GOMOD)
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "module orkestra.local/controlplane"
    assert "go 1.26.0" in lines
    assert "require k8s.io/kubernetes v1.37.2" in lines
    replaces = [line for line in lines if "=>" in line]
    assert replaces == [f"{m} => {m} v0.37.2" for m in
                        ("k8s.io/api", "k8s.io/client-go", "k8s.io/new-in-this-release", "k8s.io/single-line")]
    assert "github.com/forked/thing" not in text


def test_wrapper_gomod_follows_the_version_asked_for():
    text = gomod.wrapper_gomod(kubernetes_version="1.36.5", kubernetes_gomod=KUBERNETES_GOMOD)
    assert "\tk8s.io/api => k8s.io/api v0.36.5" in text
    assert "require k8s.io/kubernetes v1.36.5" in text


def test_a_gomod_without_staging_modules_is_refused():
    with pytest.raises(ValueError, match="no ./staging replace"):
        gomod.wrapper_gomod(kubernetes_version="1.37.2", kubernetes_gomod="module x\n\ngo 1.22\n")


@pytest.mark.parametrize("bad", ["1.37", "latest", "1.37.2-rc.1", ""])
def test_versions_must_be_major_minor_patch(bad):
    with pytest.raises(ValueError, match="must look like 1.37.2"):
        gomod.parse_version(bad)


def test_ldflags_stamp_the_component_base_version():
    flags = gomod.version_ldflags("1.37.2").split()
    assert flags == ["-X", "k8s.io/component-base/version.gitVersion=v1.37.2",
                     "-X", "k8s.io/component-base/version.gitMajor=1",
                     "-X", "k8s.io/component-base/version.gitMinor=37",
                     "-X", "k8s.io/component-base/version.gitTreeState=clean"]


def test_a_refused_module_is_found_in_go_output():
    output = ("go: downloading k8s.io/api v0.37.2\n"
              "go: k8s.io/metrics@v0.37.2: reading https://proxy.example/k8s.io/metrics/@v/v0.37.2.zip: 403 Forbidden\n")
    assert gomod.refused_module(output) == (
        "k8s.io/metrics@v0.37.2",
        "reading https://proxy.example/k8s.io/metrics/@v/v0.37.2.zip: 403 Forbidden")


def test_a_compile_error_is_not_mistaken_for_a_refused_module():
    output = "# k8s.io/kubernetes/pkg/foo\npkg/foo/bar.go:10:2: undefined: Baz\n"
    assert gomod.refused_module(output) is None
