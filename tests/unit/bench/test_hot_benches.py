"""The pure parts that bench_throughput.py (--count-requests) and bench_latency.py (the split of
event->reconcile time) add: both read Prometheus text, so a wrong parse would print a false floor."""
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))

import bench_latency  # noqa: E402
import bench_throughput  # noqa: E402

APISERVER = """\
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",resource="configmaps",scope="resource",subresource="",verb="GET"} 7
apiserver_request_total{code="404",component="apiserver",resource="configmaps",scope="resource",subresource="",verb="GET"} 3
apiserver_request_total{code="201",component="apiserver",resource="configmaps",scope="resource",subresource="",verb="APPLY"} 10
apiserver_request_total{code="200",component="apiserver",resource="configmaps",scope="namespace",subresource="",verb="WATCH"} 2
apiserver_request_total{code="200",component="apiserver",resource="deployments",scope="resource",subresource="status",verb="PUT"} 9
apiserver_request_total{code="200",component="apiserver",resource="sites",scope="resource",subresource="status",verb="PATCH"} 10
apiserver_request_total{code="200",component="apiserver",resource="secrets",scope="resource",subresource="",verb="GET"} 50
"""


def test_request_counts_keep_reads_and_sum_codes_but_leave_out_watches_and_deployment_status():
    counts = bench_throughput.request_counts(APISERVER, {"configmaps", "deployments", "sites"})
    assert counts == Counter({("GET", "configmaps", ""): 10, ("APPLY", "configmaps", ""): 10,
                              ("PATCH", "sites", "status"): 10})


def _runtime_metrics(reconciles: int, seconds: float, fast: int) -> str:
    """Two CRDs' reconcile histograms: `fast` of the `reconciles` per CRD took <= 50 ms."""
    lines = []
    for crd in ("a", "b"):
        labels = f'controller="{crd}"'
        for le, n in (("0.05", fast), ("0.5", reconciles), ("+Inf", reconciles)):
            lines.append(f'controller_runtime_reconcile_time_seconds_bucket{{{labels},le="{le}"}} {n}')
        lines.append(f"controller_runtime_reconcile_time_seconds_sum{{{labels}}} {seconds}")
        lines.append(f"controller_runtime_reconcile_time_seconds_count{{{labels}}} {reconciles}")
        lines.append(f'workqueue_queue_duration_seconds_sum{{name="{crd}",controller="{crd}"}} {seconds / 2}')
        lines.append(f'workqueue_queue_duration_seconds_count{{name="{crd}",controller="{crd}"}} {reconciles}')
    return "\n".join(lines) + "\n"


def test_histograms_are_summed_over_controllers():
    found = bench_latency.histograms(_runtime_metrics(10, 2.0, 4), {"controller_runtime_reconcile_time_seconds"})
    assert found["controller_runtime_reconcile_time_seconds"] == {
        "le=0.05": 8.0, "le=0.5": 20.0, "le=+Inf": 20.0, "sum": 4.0, "count": 20.0}


def test_split_counts_only_what_happened_between_the_two_scrapes():
    before = _runtime_metrics(10, 2.0, 10)          # 20 fast reconciles before the drive
    after = _runtime_metrics(110, 12.0, 20)         # then 200 more, 20 fast and 180 up to 0.5 s
    figures = bench_latency.split_figures(before, after, workers=6, rate=30.0)
    assert figures["reconcile duration mean ms"] == 100.0           # (24 - 4) s / 200
    assert figures["queue wait mean ms"] == 50.0
    assert figures["reconcile duration p50 bucket ms"] == 500.0
    assert figures["worker utilisation (rate x mean reconcile / workers)"] == 0.5   # 30/s x 0.1 s / 6


def test_a_percentile_past_the_last_finite_bucket_is_infinite():
    before = {"count": 0.0, "le=0.1": 0.0, "le=+Inf": 0.0}
    after = {"count": 10.0, "le=0.1": 5.0, "le=+Inf": 10.0}
    assert bench_latency.bucket_percentile(before, after, 99) == float("inf")
    assert bench_latency.bucket_percentile(before, after, 50) == 0.1


def test_the_clock_of_a_counted_run_starts_after_the_slow_first_scrape(monkeypatch, capsys):
    """With --count-requests every contender's time must leave out the API server's /metrics
    scrapes (up to seconds on a loaded server); Orkestra and kopf used to start their clock
    before the first one, the raw loops after it."""
    scrapes = iter([APISERVER, APISERVER.replace("} 10\n", "} 12\n")])

    def slow_metrics(kube):
        time.sleep(0.3)
        return next(scrapes)

    monkeypatch.setattr(bench_throughput.harness, "apiserver_metrics", slow_metrics)
    contender = object.__new__(bench_throughput.Contender)
    contender.kube, contender.kind, contender.count_requests = None, SimpleNamespace(plural="sites"), True
    elapsed = contender.counted(2, "orkestra", lambda start: time.monotonic() - start)
    assert elapsed < 0.2
    assert "orkestra: 2.00 requests per CR" in capsys.readouterr().out     # 2 APPLY + 2 status PATCH over 2 CRs
