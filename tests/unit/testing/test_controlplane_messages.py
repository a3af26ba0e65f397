"""Headlines for a component that dies, and probes against nothing listening."""
from pathlib import Path

import pytest

from orkestra.testing.controlplane import LocalControlPlane, explain_death, probe_etcd
from orkestra.testing.errors import ControlPlaneError
from orkestra.testing.ports import free_ports


def test_address_in_use_names_the_address():
    tail = 'E1124 listen tcp 127.0.0.1:6443: bind: address already in use\nexit status 1'
    assert explain_death("kube-apiserver", tail) == (
        "kube-apiserver could not listen: 127.0.0.1:6443 is already in use; "
        "stop what holds it or let the port be chosen freely")


def test_any_other_death_points_at_the_log():
    assert explain_death("etcd", "panic: something else") == (
        "etcd exited during start-up; the last lines of its log follow")


def test_etcd_probe_is_false_when_nothing_listens():
    (port,) = free_ports(1)
    assert probe_etcd(f"http://127.0.0.1:{port}", timeout=0.5) is False


def test_a_missing_binary_is_named_with_what_to_run(tmp_path: Path):
    with pytest.raises(ControlPlaneError) as err:
        LocalControlPlane(root=tmp_path / "cp", bin_dir=tmp_path / "empty").start()
    assert err.value.headline == (f"etcd binary not found at {tmp_path / 'empty' / 'etcd'}: build the control "
                                  f"plane with `make controlplane` (python -m orkestra.testing.build)")
    assert not (tmp_path / "cp").exists()


def test_properties_before_start_say_so():
    with pytest.raises(ControlPlaneError, match="has not been started"):
        LocalControlPlane().kubeconfig
