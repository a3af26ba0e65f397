"""The pure parts of the benches (bench/harness.py, bench/report.py, bench/run_all.py): the
benches themselves need a control plane and minutes, so CI runs only these."""
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))

import bench_memory  # noqa: E402
import bench_webhooks  # noqa: E402
import harness  # noqa: E402
import report  # noqa: E402
import run_all  # noqa: E402


# --- percentiles ------------------------------------------------------------------------------
def test_percentile_is_nearest_rank():
    samples = list(range(1, 101))          # 1..100
    assert harness.percentile(samples, 50) == 50
    assert harness.percentile(samples, 99) == 99
    assert harness.percentile(samples, 100) == 100
    assert harness.percentile(reversed(samples), 95) == 95   # order of the input does not matter


def test_percentile_of_few_samples_takes_the_rank_above():
    assert harness.percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.0
    assert harness.percentile([3.0, 1.0, 2.0, 4.0], 51) == 3.0
    assert harness.percentile([7.0], 99) == 7.0
    assert harness.percentile([1.0, 2.0], 0) == 1.0


@pytest.mark.parametrize("samples, p", [([], 50), ([1.0], 101), ([1.0], -1)])
def test_percentile_refuses_to_invent_a_figure(samples, p):
    with pytest.raises(ValueError):
        harness.percentile(samples, p)


# --- RSS over a process tree ------------------------------------------------------------------
class FakeProcess:
    def __init__(self, rss: int | None):
        self.rss = rss

    def memory_info(self):
        if self.rss is None:
            raise ProcessLookupError("exited")
        return self


def test_rss_is_summed_over_every_process_and_an_exited_one_counts_zero():
    arbiter, worker, gone = FakeProcess(40 << 20), FakeProcess(90 << 20), FakeProcess(None)
    assert harness.sum_rss([arbiter, worker, gone]) == 130 << 20
    assert harness.sum_rss([]) == 0


# --- the API server's own request counters ----------------------------------------------------
METRICS = """# HELP apiserver_request_total Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",resource="configmaps",scope="resource",subresource="",verb="APPLY",version="v1"} 12
apiserver_request_total{code="200",component="apiserver",resource="configmaps",scope="resource",subresource="",verb="APPLY",version="v1"} 3
apiserver_request_total{code="200",component="apiserver",resource="configmaps",scope="resource",subresource="",verb="GET",version="v1"} 999
apiserver_request_total{code="200",component="apiserver",resource="sites",scope="resource",subresource="status",verb="PATCH",version="v1"} 5
apiserver_request_total{code="200",component="apiserver",resource="deployments",scope="resource",subresource="status",verb="PUT",version="v1"} 40
apiserver_request_total{code="200",component="apiserver",resource="deployments",scope="resource",subresource="",verb="APPLY",version="v1"} 2
apiserver_request_total{code="201",component="apiserver",resource="secrets",scope="resource",subresource="",verb="POST",version="v1"} 7
apiserver_request_duration_seconds_bucket{resource="configmaps",verb="APPLY",le="0.1"} 15
"""


def test_write_counts_keep_writes_on_the_named_resources_only():
    counts = harness.parse_write_counts(METRICS, {"configmaps", "sites", "deployments"})
    assert counts == Counter({("APPLY", "configmaps", ""): 15, ("PATCH", "sites", "status"): 5,
                              ("APPLY", "deployments", ""): 2})


def test_counter_delta_drops_unchanged_keys():
    before = Counter({("APPLY", "configmaps", ""): 15, ("PATCH", "sites", "status"): 5})
    after = Counter({("APPLY", "configmaps", ""): 15, ("PATCH", "sites", "status"): 8, ("POST", "events", ""): 1})
    assert harness.counter_delta(before, after) == Counter({("PATCH", "sites", "status"): 3, ("POST", "events", ""): 1})


# --- event -> first sighting ------------------------------------------------------------------
def test_latency_is_to_the_first_sighting_of_that_generation_or_a_newer_one():
    events = [("Site/a", 2, 10.0), ("Site/a", 3, 10.5), ("Site/b", 2, 11.0), ("Site/c", 2, 12.0)]
    seen = [("Site/a", 1, 9.0), ("Site/a", 3, 10.6), ("Site/a", 2, 10.02), ("Site/b", 2, 10.99)]
    delays, missed = harness.first_sighting_latencies(events, seen)
    assert [round(d, 3) for d in delays] == [0.02, 0.1, -0.01]   # a seen before its ack is kept, not hidden
    assert missed == 1                                          # Site/c was never reconciled


def test_a_folded_event_is_covered_by_the_newer_generation():
    delays, missed = harness.first_sighting_latencies([("Site/a", 2, 1.0), ("Site/a", 3, 1.001)],
                                                      [("Site/a", 3, 1.01)])
    assert missed == 0
    assert [round(d, 3) for d in delays] == [0.01, 0.009]


# --- results.json and the table ---------------------------------------------------------------
def test_record_merges_figures_per_bench(tmp_path):
    path = tmp_path / "results.json"
    harness.record(path, "memory", {"ork run, 10 CRDs x 100 CRs, RSS MB": 112.4})
    harness.record(path, "memory", {"ratio one ork run / 10 kopf operators": 0.22})
    harness.record(path, "idle", {"orkestra writes per minute": 0, "window s": "120"})
    assert json.loads(path.read_text()) == {
        "memory": {"ork run, 10 CRDs x 100 CRs, RSS MB": 112.4, "ratio one ork run / 10 kopf operators": 0.22},
        "idle": {"orkestra writes per minute": 0, "window s": "120"}}


def test_record_without_a_path_writes_nothing(tmp_path):
    harness.record(None, "memory", {"x": 1})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", [{"nested": 1}, [1, 2], True, None])
def test_record_accepts_only_numbers_and_strings(tmp_path, value):
    with pytest.raises(TypeError, match="figure 'x'"):
        harness.record(tmp_path / "r.json", "memory", {"x": value})


def test_ratio_of_nothing_is_zero_not_a_crash():
    assert harness.ratio(5, 4) == 1.25
    assert harness.ratio(5, 0) == 0.0


def test_table_has_one_row_per_figure_in_recorded_order():
    table = report.render_table({"memory": {"ork | RSS MB": 112.43, "CRs": 100},
                                 "latency": {"p99 ms": 0.01234, "mode": "quick"}})
    assert table.splitlines() == [
        "| Bench | Figure | Value |", "|---|---|---|",
        "| memory | ork \\| RSS MB | 112.4 |",
        "| memory | CRs | 100 |",
        "| latency | p99 ms | 0.0123 |",
        "| latency | mode | quick |"]


def test_table_rejects_a_bench_that_is_not_an_object_of_figures():
    with pytest.raises(ValueError, match="'memory' is str"):
        report.render_table({"memory": "raw output text"})


def test_report_main_renders_a_results_file(tmp_path, capsys):
    path = tmp_path / "results.json"
    harness.record(path, "startup", {"10 CRDs x 100 CRs: restart s": 1.5})
    assert report.main([str(path)]) == 0
    assert "| startup | 10 CRDs x 100 CRs: restart s | 1.50 |" in capsys.readouterr().out
    assert report.main([str(tmp_path / "missing.json")]) == 2


# --- make bench -------------------------------------------------------------------------------
@pytest.mark.parametrize("quick", [False, True])
def test_every_bench_runs_from_its_script_and_records_under_its_own_name(quick):
    for name, (script, _, _) in run_all.BENCHES.items():
        cmd = run_all.command(name, quick, "/kc", Path("/r.json"))
        assert cmd[1] == str(BENCH / script) and Path(cmd[1]).exists()
        assert cmd[-4:] == ["--kubeconfig", "/kc", "--results", "/r.json"]
        assert f'harness.record(args.results, "{name}"' in Path(cmd[1]).read_text()


def test_memory_runs_parse_crds_by_crs():
    assert bench_memory.parse_runs("1x100, 10x100,100x10") == [(1, 100), (10, 100), (100, 10)]
    for bad in ("10", "0x5", "ax5", "10x"):
        with pytest.raises(Exception, match="CRDSxCRS"):
            bench_memory.parse_runs(bad)


# --- default settings and clean-up ------------------------------------------------------------
def test_entries_keep_orkestras_shipped_settings_unless_told_otherwise():
    kind = harness.Kind("BenchX", "benchxs")
    assert harness.entry(kind)["operatorBox"]["reconciler"] == {}
    assert harness.entry(kind, 10, resync="30s")["operatorBox"]["reconciler"] == {"workers": 10, "resync": "30s"}
    spec = harness.katalog([kind])["spec"]["crds"]["benchxs"]["operatorBox"]
    assert spec["reconciler"] == {} and set(spec["onReconcile"]) == {"configMaps", "custom", "deployments"}


def _live_members(pgid: int) -> list[int]:
    """Pids of processes in group `pgid` that are not zombies (/proc/PID/stat: state, ppid, pgrp)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except OSError:
            continue
        if int(pgrp) == pgid and state != "Z":
            members.append(int(stat.parent.name))
    return members


def test_stop_process_leaves_nothing_of_the_group_behind():
    # The leader exits on SIGTERM; its child ignores SIGTERM (as a worker busy draining might) and
    # would be orphaned by a stop that only waits for the leader.
    proc = subprocess.Popen(["sh", "-c", '(trap "" TERM; exec sleep 60) & wait'], start_new_session=True)
    harness.wait_for(lambda: len(_live_members(proc.pid)) == 2, 5, "sh and its sleep")
    harness.stop_process(proc, timeout=5)
    assert proc.returncode is not None
    harness.wait_for(lambda: not _live_members(proc.pid), 5, "the group to be gone")


def test_run_all_summarises_the_load_it_sampled():
    assert run_all.load_summary([9.5, 14.0, 11.25]) == "min 9.5, median 11.2, max 14.0 (3 samples)"
    assert run_all.load_summary([]) == "not sampled"


def test_run_all_names_the_commit_its_figures_belong_to():
    assert re.fullmatch(r"[0-9a-f]{12}( \+ changes)?|unknown", run_all.commit())


# --- bench_webhooks ---------------------------------------------------------------------------
def test_the_admission_bench_refuses_a_run_where_a_contender_missed_calls():
    """`failurePolicy: Ignore` turns a failing webhook server into fast allowed creates: the run
    must stop instead of recording them as that contender's latency."""
    from orkestra.webhooks.stats import WebhookStats

    stats = WebhookStats(10)
    for _ in range(3):
        stats.count("admission:widget", "validationTotal")
        stats.count("admission:widget", "mutationTotal")
    served = {bench_webhooks.PEER: [6], bench_webhooks.NOOP: [7], bench_webhooks.FLOOR: [6]}
    bench_webhooks.check_served(served, stats, 3)                      # both calls of 3 creates each
    with pytest.raises(SystemExit, match="minimal no-op"):
        bench_webhooks.check_served({**served, bench_webhooks.FLOOR: [5]}, stats, 3)
    with pytest.raises(SystemExit, match="orkestra"):
        bench_webhooks.check_served(served, stats, 4)
