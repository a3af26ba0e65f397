"""`state.json` round trip, PID checks and log tails (no control plane involved)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orkestra.testing import processes, state
from orkestra.testing.errors import ControlPlaneError


def sample_state(tmp_path: Path) -> state.LocalState:
    return state.LocalState(
        version="1.37.2", server="https://127.0.0.1:6001", kubeconfig=str(tmp_path / "kubeconfig"),
        root=str(tmp_path / "cluster"), ports={"etcd": 2001, "etcd-peer": 2002, "kube-apiserver": 6001},
        components=[processes.Component(name="etcd", pid=os.getpid(), exe=sys.executable,
                                        log=tmp_path / "etcd.log")])


def test_state_survives_a_round_trip_through_the_file(tmp_path):
    original = sample_state(tmp_path)
    path = tmp_path / "state.json"
    state.save(path, original)
    assert state.load(path) == original


def test_no_state_file_means_not_running(tmp_path):
    assert state.load(tmp_path / "state.json") is None


@pytest.mark.parametrize("text", ["{not json", "{}", '{"components": [{"name": "etcd"}]}'])
def test_an_unreadable_state_file_is_named_in_the_error(tmp_path, text):
    path = tmp_path / "state.json"
    path.write_text(text)
    with pytest.raises(ControlPlaneError) as err:
        state.load(path)
    assert err.value.headline.startswith(f"{path}: unreadable local control-plane state")


def test_a_pid_counts_only_while_it_runs_the_recorded_binary():
    assert processes.runs(os.getpid(), sys.executable) is True
    assert processes.runs(os.getpid(), "/usr/bin/some-other-binary") is False


def test_running_reports_each_component(tmp_path):
    recorded = sample_state(tmp_path)
    assert recorded.running() == {"etcd": True}


def test_stop_terminates_a_process_and_it_no_longer_runs(tmp_path):
    sleeper = subprocess.Popen(["sleep", "60"])
    exe = os.path.realpath(f"/proc/{sleeper.pid}/exe")
    component = processes.Component(name="sleep", pid=sleeper.pid, exe=exe, log=tmp_path / "x.log")
    assert processes.runs(sleeper.pid, exe)
    processes.stop(component, proc=sleeper)
    assert sleeper.returncode == -15
    assert not processes.runs(sleeper.pid, exe)


def test_stop_leaves_a_reused_pid_alone(tmp_path):
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        stranger = processes.Component(name="etcd", pid=sleeper.pid, exe="/no/such/etcd", log=tmp_path / "x.log")
        processes.stop(stranger)
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


def test_tail_returns_the_last_lines(tmp_path):
    log = tmp_path / "component.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert processes.tail(log, 3) == "line 97\nline 98\nline 99"
    assert processes.tail(tmp_path / "missing.log") == ""
