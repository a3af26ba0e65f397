"""Benchmark: the Control Center watching 10 runtimes × 20 CRDs.

What it measures, on a real `ork control` process (gunicorn, one gthread worker):

1. the poll cycle time: every cycle reads `/katalog`, then each CRD's detail and health, from all
   runtimes (8 in parallel); read from the Control Center's own debug log line `poll cycle`;
2. its RSS (arbiter + worker, psutil) after the cycles, and the memory a full 30-minute history
   of that many CRDs takes (built in this process, since a run does not last 30 minutes);
3. how long the CRD Detail page (and, beside it, the Control Panel of 20 CRDs and the Control
   Center overview) takes to answer, measured by a client on the same host.

The runtimes are canned (`orkestra.testing.fake_runtime`) and run in a child process: each
serves, for 20 CRDs, the documents recorded from a real `ork run` in
`bench/data/runtime_recording.json`. So this needs no cluster.

Run from the repository root:
    .venv/bin/python bench/bench_control_center.py
    .venv/bin/python bench/bench_control_center.py --runtimes 10 --crds 20 --cycles 30
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orkestra.testing.fake_runtime import FakeRuntime, katalog_documents  # noqa: E402

ORK = str(Path(sys.executable).with_name("ork"))
RECORDING = ROOT / "bench" / "data" / "runtime_recording.json"
MB = 1024 * 1024


def serve_runtimes(count: int, crds: int, urls: "multiprocessing.Queue[list[str]]") -> None:
    recording = json.loads(RECORDING.read_text())
    runtimes = [FakeRuntime(katalog_documents(recording, name=f"katalog-{i}", crds=crds)).start() for i in range(count)]
    urls.put([r.url for r in runtimes])
    while True:
        time.sleep(3600)


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss(pid: int) -> int:
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)])


def full_history_mb(runtimes: int, crds: int) -> float:
    """Memory of a History holding the whole 30-minute window for every CRD (measured in this
    process with tracemalloc, because a bench run does not last 30 minutes)."""
    import tracemalloc

    from orkestra.controlcenter.history import SPACING, WINDOW, History, Sample
    tracemalloc.start()
    history = History()
    for step in range(int(WINDOW / SPACING) + 1):
        for r in range(runtimes):
            for c in range(crds):
                history.add(f"runtime-{r}", f"crd-{c}", Sample(step * SPACING, 1000 + step * 7, step, step % 13))
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return round(size / MB, 1)


def cycle_times(log: Path) -> list[float]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if '"poll cycle"' in line:
            out.append(json.loads(line)["seconds"])
    return out


class Client:
    def __init__(self, base: str) -> None:
        import http.cookiejar
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as resp:
            return resp.read().decode()

    def login(self, user: str, password: str) -> None:
        token = re.search(r'name="csrf_token" value="([^"]+)"', self.get("/login")).group(1)
        data = urllib.parse.urlencode({"csrf_token": token, "username": user, "password": password}).encode()
        self.opener.open(urllib.request.Request(self.base + "/login", data=data), timeout=30).read()

    def timed(self, path: str, n: int) -> dict:
        self.get(path)      # warm-up: template compilation and first-use imports
        times = []
        for _ in range(n):
            start = time.perf_counter()
            body = self.get(path)
            times.append((time.perf_counter() - start) * 1000)
        assert "Control Center" in body, path
        times.sort()
        return {"median_ms": round(statistics.median(times), 1), "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
                "bytes": len(body)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtimes", type=int, default=10)
    parser.add_argument("--crds", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=30, help="poll cycles to wait before measuring")
    parser.add_argument("--requests", type=int, default=50, help="requests per page for the render times")
    args = parser.parse_args()

    queue: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve_runtimes, args=(args.runtimes, args.crds, queue), daemon=True)
    server.start()
    urls = queue.get(timeout=30)
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="bench-cc-")) / "control.log"
    env = {**os.environ, "ADMIN_USERNAME": "bench", "ADMIN_PASSWORD": "bench-password", "LOG_LEVEL": "debug"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([ORK, "control", "--port", str(port), "--urls", ",".join(urls), "--refresh", "1s"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while len(cycle_times(log)) < args.cycles:
            if proc.poll() is not None or time.monotonic() > deadline + args.cycles * 2:
                raise SystemExit(f"ork control stopped or stalled:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        cycles = cycle_times(log)[2:]        # the first cycles warm up imports and connections
        client = Client(base)
        client.login("bench", "bench-password")
        snapshot = json.loads(client.get("/api/snapshot"))
        assert all(r["status"] == "online" for r in snapshot["runtimes"]), snapshot
        rid = snapshot["runtimes"][0]["id"]
        first_crd = json.loads(urllib.request.urlopen(urls[0] + "/katalog").read())["crds"][0]["name"]
        pages = {"crd_detail": client.timed(f"/k/{rid}/crd/{first_crd}", args.requests),
                 "control_panel": client.timed(f"/k/{rid}", args.requests),
                 "control_center": client.timed("/", args.requests)}
        result = {
            "runtimes": args.runtimes, "crds_per_runtime": args.crds,
            "poll_cycle_ms": {"median": round(statistics.median(cycles) * 1000, 1),
                              "max": round(max(cycles) * 1000, 1), "cycles": len(cycles)},
            "rss_mb": round(rss(proc.pid) / MB, 1),
            "full_30min_history_mb": full_history_mb(args.runtimes, args.crds),
            "pages": pages,
        }
        print(json.dumps(result, indent=2))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        server.terminate()


if __name__ == "__main__":
    main()
