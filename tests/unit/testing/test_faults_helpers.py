"""The fault-injection helpers that need no control plane: restart's guard rails, the audit
flags and log parser, the kubeconfig rewrite and the stalling proxy (against a local echo server)."""
from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from pathlib import Path

import pytest
import yaml

from orkestra.testing import flags
from orkestra.testing.audit import parse_event, parse_time, read_audit_log
from orkestra.testing.controlplane import LocalControlPlane
from orkestra.testing.errors import ControlPlaneError
from orkestra.testing.kubeconfig import client_kubeconfig, with_server
from orkestra.testing.ports import free_ports
from orkestra.testing.stall_proxy import StallProxy

LAYOUT = flags.Layout(bin_dir=Path("/bin-dir"), root=Path("/root-dir"),
                      etcd_client_port=2001, etcd_peer_port=2002, apiserver_port=6001)


def test_restart_names_what_can_be_restarted():
    with pytest.raises(ControlPlaneError, match="only etcd and kube-apiserver can be restarted"):
        LocalControlPlane().restart("kube-controller-manager")


def test_restart_before_start_says_so():
    with pytest.raises(ControlPlaneError, match="has not started it"):
        LocalControlPlane().restart("etcd")


def test_audit_log_without_audit_says_so():
    with pytest.raises(ControlPlaneError, match="without audit=True"):
        LocalControlPlane().audit_log


def test_audit_flags_only_when_asked():
    plain = flags.apiserver_command(LAYOUT, has_default_route=True)
    assert not [f for f in plain if f.startswith("--audit")]
    audited = flags.apiserver_command(LAYOUT, has_default_route=True, audit=True)
    assert "--audit-policy-file=/root-dir/audit-policy.yaml" in audited
    assert "--audit-log-path=/root-dir/logs/audit.log" in audited
    assert "--audit-log-format=json" in audited and "--audit-log-mode=blocking" in audited
    assert f"--audit-log-maxsize={flags.AUDIT_LOG_MB}" in audited and "--audit-log-maxbackup=1" in audited, \
        "bounded: the e2e session runs with it on"


def test_audit_policy_logs_writes_at_metadata_and_nothing_else():
    policy = yaml.safe_load(flags.AUDIT_POLICY)
    assert policy["rules"][0] == {"level": "Metadata",
                                  "verbs": ["create", "update", "patch", "delete", "deletecollection"]}
    assert policy["rules"][-1] == {"level": "None"}


def _event(stage="ResponseComplete", **overrides):
    doc = {"kind": "Event", "stage": stage, "verb": "create",
           "user": {"username": "ork-a", "groups": ["system:masters"]},
           "objectRef": {"resource": "configmaps", "namespace": "ns", "name": "c", "apiVersion": "v1"},
           "responseStatus": {"code": 201},
           "requestReceivedTimestamp": "2026-12-07T00:01:02.123456Z",
           "stageTimestamp": "2026-12-07T00:01:02.223456789Z"}
    doc.update(overrides)
    return json.dumps(doc)


def test_audit_event_is_parsed_with_identity_verb_resource_and_times():
    event = parse_event(_event())
    assert (event.user, event.verb, event.group, event.resource, event.namespace, event.name) == (
        "ork-a", "create", "", "configmaps", "ns", "c")
    assert event.is_write and event.succeeded
    assert event.received == dt.datetime(2026, 12, 7, 0, 1, 2, 123456, tzinfo=dt.timezone.utc)
    assert event.completed - event.received == dt.timedelta(milliseconds=100)


def test_audit_log_skips_other_stages_and_garbage(tmp_path):
    path = tmp_path / "audit.log"
    path.write_text("\n".join([_event(stage="ResponseStarted"), "not json", _event(verb="get"), _event()]))
    events = read_audit_log(path)
    assert [e.verb for e in events] == ["get", "create"]
    assert not events[0].is_write
    assert read_audit_log(tmp_path / "missing.log") == []


def test_audit_log_reads_the_rotated_file_first(tmp_path):
    """kube-apiserver rotates the log at --audit-log-maxsize: a test's writes can straddle the two files."""
    (tmp_path / "audit-2026-12-07T00-01-00.000.log").write_text(_event(verb="create") + "\n")
    (tmp_path / "audit.log").write_text(_event(verb="delete") + "\n")
    (tmp_path / "kube-apiserver.log").write_text(_event(verb="patch") + "\n")
    assert [e.verb for e in read_audit_log(tmp_path / "audit.log")] == ["create", "delete"]


def test_parse_time_without_a_fraction():
    assert parse_time("2026-12-07T00:00:00Z") == dt.datetime(2026, 12, 7, tzinfo=dt.timezone.utc)


def test_with_server_points_every_cluster_at_the_proxy():
    text = client_kubeconfig(server="https://127.0.0.1:6443", ca_pem=b"ca", user="u", cert_pem=b"c", key_pem=b"k")
    doc = yaml.safe_load(with_server(text, "https://127.0.0.1:7000"))
    assert [c["cluster"]["server"] for c in doc["clusters"]] == ["https://127.0.0.1:7000"]
    assert doc["users"] == yaml.safe_load(text)["users"]


@pytest.fixture
def echo():
    """An echo server on loopback: (host, port)."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve(conn):
        with conn:
            while data := conn.recv(1024):
                conn.sendall(data)

    def accept():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()
    server.close()


def _connect(proxy):
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
    return sock


def _round_trip(sock, data=b"ping", timeout=2.0):
    sock.settimeout(timeout)
    sock.sendall(data)
    return sock.recv(1024)


def test_proxy_forwards_then_freezes_open_connections_but_not_new_ones(echo):
    with StallProxy(echo) as proxy:
        old = _connect(proxy)
        assert _round_trip(old) == b"ping"
        assert proxy.freeze() == 1
        with pytest.raises(socket.timeout):
            _round_trip(old, timeout=0.5)
        new = _connect(proxy)
        assert _round_trip(new, b"new") == b"new"
        proxy.resume()
        old.settimeout(2)
        assert old.recv(1024) == b"ping", "bytes held during the freeze arrive on resume"
        old.close()
        new.close()


def test_partition_freezes_new_connections_too_and_keeps_them_open(echo):
    with StallProxy(echo) as proxy:
        proxy.partition()
        sock = _connect(proxy)
        with pytest.raises(socket.timeout):
            _round_trip(sock, timeout=0.5)
        proxy.resume()
        sock.settimeout(2)
        assert sock.recv(1024) == b"ping"
        sock.close()


def test_a_partition_hides_a_dead_upstream_until_it_heals():
    (dead_port,) = free_ports(1)
    with StallProxy(("127.0.0.1", dead_port)) as proxy:
        proxy.partition()
        sock = _connect(proxy)
        with pytest.raises(socket.timeout):
            _round_trip(sock, timeout=0.5)          # open and silent, not refused
        proxy.resume()
        sock.settimeout(2)
        try:
            ended = sock.recv(1024) == b""
        except ConnectionResetError:               # the unread "ping" turns the close into a reset
            ended = True
        assert ended, "on resume the refused upstream ends the client connection"
        sock.close()


def test_close_ends_the_accepting_thread_at_once(echo):
    """The proxy's accept() must be woken on close: a blocked accept() survives a bare close() on
    Linux, which cost every test using a proxy 2 s of teardown and left the thread behind."""
    proxy = StallProxy(echo).start()
    sock = _connect(proxy)
    assert _round_trip(sock) == b"ping"
    began = time.monotonic()
    proxy.close()
    assert time.monotonic() - began < 1.0
    assert not [t for t in threading.enumerate() if t.name == "ork-stall-proxy"]
    sock.close()
