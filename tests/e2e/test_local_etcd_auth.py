"""Issue 16 item 11 on the real local control plane: etcd answers only clients holding a
certificate from its own CA, and the cluster's key files and directories are private."""
from __future__ import annotations

import ssl
import stat
import urllib.error
import urllib.request

import pytest

from orkestra.testing import LocalControlPlane
from orkestra.testing.controlplane import admin_ssl_context, probe_etcd


@pytest.fixture
def local(control_plane) -> LocalControlPlane:
    if not isinstance(control_plane, LocalControlPlane):
        pytest.fail("this test inspects the session's own local control plane (unset ORK_E2E_KUBECONFIG and "
                    "ORK_E2E_CLUSTER)", pytrace=False)
    return control_plane


def test_etcd_refuses_clients_without_a_certificate(local, kubectl):
    kubectl("get", "--raw", "/readyz/etcd")                         # the API server's client cert works
    layout = local.layout
    port = layout.etcd_client_port
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/v3/kv/range", data=b'{"key":"AA=="}', timeout=3)
    no_cert = ssl.create_default_context(cafile=str(layout.cert("etcd-ca.crt")))
    with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError, OSError)):
        urllib.request.urlopen(f"https://127.0.0.1:{port}/v3/kv/range", data=b'{"key":"AA=="}', timeout=3,
                               context=no_cert).read()
    with_cert = admin_ssl_context(layout.cert("etcd-ca.crt"), layout.cert("apiserver-etcd-client.crt"),
                                  layout.cert("apiserver-etcd-client.key"))
    assert probe_etcd(layout.etcd_url, with_cert)
    # a certificate from the API server's client CA (cluster-admin there) is no key to etcd
    admin = admin_ssl_context(layout.cert("etcd-ca.crt"), layout.cert("admin.crt"), layout.cert("admin.key"))
    assert not probe_etcd(layout.etcd_url, admin)


def test_keys_and_directories_are_private(local):
    layout = local.layout
    assert stat.S_IMODE(layout.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(layout.certs.stat().st_mode) == 0o700
    keys = [p for p in layout.certs.iterdir() if p.suffix == ".key"] + [layout.kubeconfig]
    assert len(keys) >= 6
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in keys} == {p.name: 0o600 for p in keys}
