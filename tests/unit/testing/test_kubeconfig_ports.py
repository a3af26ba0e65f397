"""Kubeconfig documents and loopback ports."""
import base64
import socket

import yaml

from orkestra.testing.kubeconfig import CONTEXT, client_kubeconfig
from orkestra.testing.ports import free_ports, port_in_use


def test_kubeconfig_embeds_server_ca_and_client_credentials():
    doc = yaml.safe_load(client_kubeconfig(server="https://127.0.0.1:6443", ca_pem=b"CA", user="alice",
                                           cert_pem=b"CERT", key_pem=b"KEY"))
    assert doc["current-context"] == CONTEXT
    context = doc["contexts"][0]["context"]
    assert context == {"cluster": CONTEXT, "user": "alice"}
    cluster = doc["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]) == b"CA"
    user = doc["users"][0]
    assert user["name"] == "alice"
    assert base64.b64decode(user["user"]["client-certificate-data"]) == b"CERT"
    assert base64.b64decode(user["user"]["client-key-data"]) == b"KEY"


def test_free_ports_are_distinct_and_bindable():
    ports = free_ports(5)
    assert len(set(ports)) == 5
    assert not any(port_in_use(port) for port in ports)


def test_a_listening_port_is_in_use():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert port_in_use(sock.getsockname()[1]) is True
