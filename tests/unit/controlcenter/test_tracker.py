"""The runtime status rules: online / starting / offline, leader data preferred, ids from URLs."""
from __future__ import annotations

from orkestra.controlcenter.tracker import RuntimeData, RuntimeStatus, RuntimeTracker, runtime_ids


def _data(at: float, *, leader: bool, name: str = "k") -> RuntimeData:
    return RuntimeData(katalog={"name": name, "crds": []}, details={}, health={}, leader=leader, fetched_at=at)


def test_ids_come_from_host_and_port_and_repeats_are_numbered():
    assert runtime_ids(["http://cluster1:8080", "http://cluster1:8080/", "https://Ork.Example.com",
                        "http://10.0.4.12:9090", "http://cluster1:8080"]) == \
        ["cluster1-8080", "cluster1-8080-2", "ork.example.com-443", "10.0.4.12-9090", "cluster1-8080-3"]


def test_leader_data_is_online_and_follower_data_is_starting():
    t = RuntimeTracker("r", "http://r", interval=10)
    assert t.status is RuntimeStatus.OFFLINE and t.data is None
    assert t.record(_data(100, leader=False)) and t.status is RuntimeStatus.STARTING
    assert t.record(_data(110, leader=True)) and t.status is RuntimeStatus.ONLINE


def test_a_follower_never_overwrites_leader_data_younger_than_three_intervals():
    t = RuntimeTracker("r", "http://r", interval=10)
    t.record(_data(100, leader=True, name="leader"))
    assert not t.record(_data(129, leader=False, name="follower"))
    assert t.data.katalog["name"] == "leader" and t.status is RuntimeStatus.ONLINE
    # the leader data is now 3 intervals old: the follower's answer is all there is
    assert t.record(_data(130, leader=False, name="follower"))
    assert t.data.katalog["name"] == "follower" and t.status is RuntimeStatus.STARTING


def test_offline_keeps_the_last_snapshot_and_the_first_failure_time_then_recovers():
    t = RuntimeTracker("r", "http://r", interval=10)
    t.record(_data(100, leader=True))
    t.fail("connection refused", 110)
    t.fail("timed out", 120)
    assert t.status is RuntimeStatus.OFFLINE and t.data is not None and t.data.fetched_at == 100
    assert t.offline_since == 110 and t.last_error == "timed out" and t.last_fetch == 120
    t.record(_data(130, leader=True))
    assert t.status is RuntimeStatus.ONLINE and t.offline_since is None and t.last_error == ""
