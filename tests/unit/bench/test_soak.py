"""bench/soak.py (issue 14's soak) is not run in CI: these tests import it, parse its command
line and check its pure parts (the level churn, the convergence check, the RSS slope), so that
a change elsewhere (the bench rework once moved names it imports) cannot break it unseen."""
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))

import soak  # noqa: E402


class Kube:
    """The calls the churn makes, on dicts: CRs by (plural, name), ConfigMaps by name."""

    def __init__(self) -> None:
        self.crs: dict[tuple[str, str], dict] = {}
        self.configmaps: dict[str, dict] = {}

    def create(self, gvr, obj, namespace=None):
        self.crs[(gvr.resource, obj["metadata"]["name"])] = obj
        return obj

    def patch(self, gvr, name, patch, namespace=None):
        self.crs[(gvr.resource, name)]["spec"].update(patch["spec"])

    def delete(self, gvr, name, namespace=None):
        return self.crs.pop((gvr.resource, name), None) is not None

    def list(self, gvr, namespace=None):
        assert gvr == soak.CONFIGMAPS
        return list(self.configmaps.values()), "1"

    def converge(self) -> None:
        """What the runtime does: one ConfigMap per CR with its value, none for a deleted CR."""
        self.configmaps = {f"{name}-config": {"metadata": {"name": f"{name}-config"}, "data": {"value": cr["spec"]["value"]}}
                           for (_, name), cr in self.crs.items()}


KINDS = [("BenchA", "bencha"), ("BenchB", "benchb")]


def test_the_soak_script_parses_its_command_line():
    out = subprocess.run([sys.executable, str(BENCH / "soak.py"), "--help"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    for flag in ("--minutes", "--kill-every", "--initial", "--warmup", "--audit", "--converge-timeout"):
        assert flag in out.stdout


def test_the_churn_holds_each_kind_near_its_initial_level():
    kube = Kube()
    churn = soak.Churn(kube, KINDS, "ns", rate=10, seed=14, target=20)
    churn.seed(20)
    for _ in range(2000):
        churn.step()
    assert set(churn.ops) == {"create", "update", "delete", "failed"} and churn.ops["delete"] > 500
    for _, plural in KINDS:
        live = sum(1 for (p, _) in churn.live if p == plural)
        assert 10 <= live <= 40, (plural, live)
    assert set(churn.live) == set(kube.crs)


def test_convergence_wants_every_live_value_and_no_configmap_of_a_deleted_cr():
    kube = Kube()
    churn = soak.Churn(kube, KINDS, "ns", rate=10, seed=1, target=5)
    churn.seed(5)
    for _ in range(100):
        churn.step()
    assert churn.unconverged()                   # nothing rendered yet
    kube.converge()
    assert churn.unconverged() == [] and churn.leftovers() == []
    (plural, name) = next(iter(churn.deleted))
    kube.configmaps[f"{name}-config"] = {"metadata": {"name": f"{name}-config"}, "data": {"value": "old"}}
    assert churn.unconverged() == [f"{plural}/{name}: deleted, ConfigMap still there"]
    assert [cm["metadata"]["name"] for cm in churn.leftovers()] == [f"{name}-config"]


def test_the_rss_slope_is_in_mib_per_hour_and_needs_three_samples():
    mib = soak.MB
    assert soak.slope_mib_per_hour([(0, 100 * mib), (60, 101 * mib)]) is None
    samples = [(t, 100 * mib + t * mib // 60, 0, 0, True) for t in (0, 60, 120, 180)]   # 1 MiB a minute
    assert abs(soak.slope_mib_per_hour(samples) - 60.0) < 1e-6
    assert soak.slope_mib_per_hour([(t, 100 * mib, 0, 0, True) for t in (0, 10, 20)]) == 0


def sample(t, rss_mib, leads=True, pids=(1, 2), threads=38, fds=48):
    return soak.Sample(t, int(rss_mib * soak.MB), threads, fds, leads, pids)


def test_a_replica_is_reported_per_leader_term_and_a_new_worker_starts_a_new_term():
    samples = ([sample(t, 90, leads=False, threads=17) for t in (0, 10, 20)]
               + [sample(t, 100 + t / 60, pids=(1, 2)) for t in range(30, 400, 10)]     # 1 MiB a minute
               + [sample(t, 95, pids=(1, 3)) for t in range(400, 500, 10)])              # lost it, new worker
    runs = soak.runs(samples)
    assert [(r[0].t, r[-1].t, r[0].leads) for r in runs] == [(0, 20, False), (30, 390, True), (400, 490, True)]
    line = soak.describe("replica-0", runs[1], warmup=60)
    assert "replica-0 leader term" in line and "slope +60.0 MiB/h" in line and "threads 38 → 38" in line
    assert "no slope" in soak.describe("replica-0", runs[0], warmup=60)


def test_the_churn_does_not_drift_above_its_initial_level():
    """An even create/delete split above the target is a random walk: the live set (and the
    caches, and the RSS) drifted up by a quarter in a 16-minute soak. It must stay level."""
    churn = soak.Churn(Kube(), KINDS, "ns", rate=10, seed=14, target=100)
    churn.seed(100)
    for _ in range(30000):
        churn.step()
    for _, plural in KINDS:
        assert 95 <= sum(1 for (p, _) in churn.live if p == plural) <= 105, plural


def test_samples_csv_has_one_row_per_process_adding_up_to_the_summed_sample(tmp_path):
    """samples.csv is what the worker's slope is read from apart from the arbiter's: its rows
    must be the same readings as the report's summed sample, one per process."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        replica = soak.Replica("replica-0", proc, f"http://127.0.0.1:{soak.free_port()}",
                               series=tmp_path / "samples.csv")
        replica.sample(10.0)
        replica.sample(20.0)
    finally:
        proc.kill()
        proc.wait()
    rows = [line.split(",") for line in (tmp_path / "samples.csv").read_text().splitlines()]
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [("10.0", "replica-0", "0", str(proc.pid)),
                                                        ("20.0", "replica-0", "0", str(proc.pid))]
    for row, summed in zip(rows, replica.samples):
        assert (int(row[4]), int(row[5]), int(row[6])) == (summed.rss, summed.threads, summed.fds)
        assert summed.rss > 0 and summed.fds > 0
