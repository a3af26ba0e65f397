import pytest
import yaml

from orkestra.kube.client import KubeClient, KubeConfigError


def kubeconfig(tmp_path, server="https://127.0.0.1:6443"):
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "main",
        "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "s3cret-token"}}],
        "contexts": [{"name": "main", "context": {"cluster": "c", "user": "u"}},
                     {"name": "other", "context": {"cluster": "c", "user": "u"}}],
    }))
    return path


def test_loads_server_and_context(tmp_path):
    kube = KubeClient.from_config(str(kubeconfig(tmp_path)), context="other")
    assert kube.server == "https://127.0.0.1:6443"
    assert kube.is_loopback


def test_remote_server_is_not_loopback(tmp_path):
    assert not KubeClient.from_config(str(kubeconfig(tmp_path, "https://10.1.2.3:6443"))).is_loopback


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(KubeConfigError, match=r"cannot load kubeconfig .*nope"):
        KubeClient.from_config(str(tmp_path / "nope"))


def test_unknown_context_names_the_context_and_hides_the_token(tmp_path):
    with pytest.raises(KubeConfigError) as err:
        KubeClient.from_config(str(kubeconfig(tmp_path)), context="missing")
    assert "context 'missing'" in str(err.value)
    assert "s3cret-token" not in str(err.value)
