"""`ork run` start-up contract (docs/cli.md#ork-run, docs/runtime.md §1, §11): everything is checked before the
server starts, errors are readable lines with exit 1, a fatal engine start inside the gunicorn
worker ends `ork run` with exit 3, an unreachable API server is retried (not fatal), and SIGTERM under
`--server builtin` drains in-flight reconciles (with /ready 503 meanwhile) and exits 0."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.e2e.ork_runtime import (create_cr, crd_entry, crd_manifest, free_port, katalog_doc, new_kind,
                                   ork_runtime)  # noqa: F401

ORK = str(Path(sys.executable).with_name("ork"))


def _run(args: list[str], tmp_path: Path, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ORK_", "ENABLE_", "LEASE", "RENEW", "RETRY"))}
    full_env.update({"ORK_PORT": str(free_port()), "ORK_WEBHOOK_PORT": str(free_port()),
                     "ORK_BIND_ADDRESS": "127.0.0.1", **(env or {})})
    return subprocess.run([ORK, "run", *args], capture_output=True, text=True, cwd=tmp_path, env=full_env,
                          timeout=timeout)


def _katalog(tmp_path: Path) -> Path:
    kind, plural = new_kind("Cli")
    path = tmp_path / "katalog.yaml"
    path.write_text(yaml.safe_dump(katalog_doc("cli", {"cli": crd_entry(kind, plural)})))
    return path


def test_invalid_environment_exits_1_before_anything_starts(tmp_path):
    path = _katalog(tmp_path)
    out = _run(["-f", str(path)], tmp_path, {"ORK_PORT": "http", "LOG_LEVEL": "loud"})
    assert out.returncode == 1
    assert 'invalid ORK_PORT "http": expected a port number between 1 and 65535' in out.stderr
    assert 'invalid LOG_LEVEL "loud": expected one of debug, info, warn, error' in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_admission_without_conversion_is_refused(tmp_path):
    out = _run(["-f", str(_katalog(tmp_path))], tmp_path, {"ENABLE_ADMISSION_WEBHOOK": "true"})
    assert out.returncode == 1
    assert ("ENABLE_ADMISSION_WEBHOOK requires ENABLE_CONVERSION — set ENABLE_CONVERSION=true to start the "
            "HTTPS server that serves /validate and /mutate") in out.stderr.splitlines()


def test_lease_timings_are_checked(tmp_path):
    out = _run(["-f", str(_katalog(tmp_path))], tmp_path, {"LEASE_DURATION": "5", "RENEW_DEADLINE": "10"})
    assert out.returncode == 1 and "leader election: LEASE_DURATION must be greater than RENEW_DEADLINE" in out.stderr


def test_invalid_katalog_prints_the_report_and_exits_1(tmp_path):
    path = tmp_path / "katalog.yaml"
    path.write_text("apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: broken}\n"
                    "spec:\n  crds:\n    web:\n      apiTypes: {kind: Website}\n")
    out = _run(["-f", str(path)], tmp_path)
    assert out.returncode == 1 and out.stderr.strip()
    assert "Traceback" not in out.stderr
    assert '"level"' not in out.stdout, "nothing was started"


def test_no_katalog_found(tmp_path):
    out = _run([], tmp_path)
    assert out.returncode == 1
    assert f"no Katalog found: pass -f or create katalog.yaml or komposer.yaml in {tmp_path}" in out.stderr


def test_unreadable_kubeconfig_ends_with_exit_3(tmp_path):
    path = _katalog(tmp_path)
    for server in ("gunicorn", "builtin"):
        out = _run(["-f", str(path), "--kubeconfig", str(tmp_path / "missing"), "--server", server], tmp_path)
        assert out.returncode == 3, (server, out.stdout[-2000:], out.stderr[-2000:])
        assert "engine cannot start: cannot load kubeconfig" in out.stdout


SLOW_HOOK = '''
import time


def make_hooks():
    def on_reconcile(ctx, obj):
        ctx.log.info("slow reconcile started")
        time.sleep(3)
        ctx.log.info("slow reconcile finished")
    return {"on_reconcile": on_reconcile}
'''


def test_builtin_server_drains_in_flight_reconciles_on_sigterm(ork_runtime, apply_crd, kube, namespace, tmp_path):
    kind, plural = new_kind("Builtin")
    apply_crd(crd_manifest(kind, plural))
    (tmp_path / "slow_hook.py").write_text(SLOW_HOOK)
    path = tmp_path / "katalog.yaml"
    path.write_text(yaml.safe_dump(katalog_doc("builtin", {"builtin": crd_entry(
        kind, plural, config_map=False, hooks={"module": "slow_hook", "function": "make_hooks"})})))
    ork = ork_runtime(path, server="builtin", env={"WATCH_NAMESPACE": namespace})
    ork.wait_for(lambda: ork.get("/ready")[0] == 200, message="ready")
    create_cr(kube, kind, plural, "slow", namespace)
    ork.wait_for(lambda: any(line.get("message") == "slow reconcile started" for line in ork.log_lines()),
                 message="a reconcile in flight")
    ork.proc.send_signal(signal.SIGTERM)
    # the builtin server keeps answering while the in-flight reconcile drains (docs/runtime.md §11)
    ork.wait_for(lambda: ork.get("/ready")[0] == 503, timeout=5, interval=0.05, message="/ready 503 at once")
    assert ork.get("/health")[0] == 200, "still healthy while draining"
    assert ork.proc.wait(timeout=60) == 0
    messages = [line.get("message") for line in ork.log_lines()]
    assert messages.index("shutting down") < messages.index("slow reconcile finished") < \
        messages.index("shutdown complete"), "the in-flight reconcile finished before shutdown completed"


POLLING_HOOK = '''
def make_hooks():
    def on_reconcile(ctx, obj):
        ctx.log.info("polling reconcile started")
        if ctx.cancelled.wait(60):               # what docs/katalog.md#hooks tells long hooks to do
            ctx.log.info("polling reconcile saw cancelled")
    return {"on_reconcile": on_reconcile}
'''


def test_sigterm_sets_ctx_cancelled_for_in_flight_hooks(ork_runtime, apply_crd, kube, namespace, tmp_path):
    """Issue 9 item 22: a hook polling ctx.cancelled used to run past the whole drain budget."""
    kind, plural = new_kind("Polling")
    apply_crd(crd_manifest(kind, plural))
    (tmp_path / "polling_hook.py").write_text(POLLING_HOOK)
    path = tmp_path / "katalog.yaml"
    path.write_text(yaml.safe_dump(katalog_doc("polling", {"polling": crd_entry(
        kind, plural, config_map=False, hooks={"module": "polling_hook", "function": "make_hooks"})})))
    ork = ork_runtime(path, server="builtin", env={"WATCH_NAMESPACE": namespace, "DRAIN_TIMEOUT": "20s"})
    ork.wait_for(lambda: ork.get("/ready")[0] == 200, message="ready")
    create_cr(kube, kind, plural, "poll", namespace)
    ork.wait_for(lambda: any(line.get("message") == "polling reconcile started" for line in ork.log_lines()),
                 message="a reconcile in flight")
    started = time.monotonic()
    ork.proc.send_signal(signal.SIGTERM)
    assert ork.proc.wait(timeout=60) == 0
    assert time.monotonic() - started < 10, "shutdown waited for the drain budget instead of cancelling"
    messages = [line.get("message") for line in ork.log_lines()]
    assert messages.index("shutting down") < messages.index("polling reconcile saw cancelled") < \
        messages.index("shutdown complete")


def _run_against_nowhere(tmp_path: Path) -> tuple[subprocess.Popen, int, Path]:
    """`ork run` (gunicorn) with a kubeconfig naming an API server that is not there: the worker
    starts and retries. (process, HTTP port, log file)."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "nowhere",
        "clusters": [{"name": "nowhere", "cluster": {"server": f"https://127.0.0.1:{free_port()}",
                                                      "insecure-skip-tls-verify": True}}],
        "users": [{"name": "nobody", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": "nowhere", "context": {"cluster": "nowhere", "user": "nobody"}}]}))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORK_")}
    env.update({"ORK_PORT": str(port), "ORK_WEBHOOK_PORT": str(free_port()), "ORK_BIND_ADDRESS": "127.0.0.1",
                "LEADER_ELECTION": "false"})
    log = tmp_path / "ork.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([ORK, "run", "-f", str(_katalog(tmp_path)), "--kubeconfig", str(kubeconfig)],
                                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return proc, port, log


def _status(port: int, path: str) -> tuple[int, dict]:
    import json
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())
    except OSError:
        return 0, {}


def _wait_healthy(proc: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while _status(port, "/health")[0] != 200:
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.2)


def test_unreachable_api_server_is_not_fatal(tmp_path):
    """/startup stays 503 while the engine retries; /health is 200; the process keeps running."""
    proc, port, log = _run_against_nowhere(tmp_path)
    try:
        _wait_healthy(proc, port, log)
        time.sleep(2)
        assert _status(port, "/startup") == (503, {**_status(port, "/startup")[1], "status": "starting"})
        assert _status(port, "/ready")[0] == 503
        assert proc.poll() is None, "an unreachable API server is not fatal"
        assert "API server not reachable, retrying" in log.read_text()
        assert "not-a-real-token" not in log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return out


def _handover_fds(pid: int) -> list[str]:
    return [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir() if "orkestra-handover" in os.readlink(fd)]


def test_the_lean_arbiter_respawns_a_killed_worker_and_sigint_ends_it_with_0(tmp_path):
    """docs/runtime.md §1: `ork run` execs the lean arbiter (same PID); the worker reads the
    hand-over and closes it, the arbiter keeps it, so a worker that dies is replaced by one that
    reads it again; SIGINT shuts down gracefully with exit 0 (docs/cli.md#ork-run)."""
    proc, port, log = _run_against_nowhere(tmp_path)
    try:
        _wait_healthy(proc, port, log)
        assert "orkestra.server.arbiter" in Path(f"/proc/{proc.pid}/cmdline").read_text()
        [worker] = _children(proc.pid)
        assert len(_handover_fds(proc.pid)) == 1 and _handover_fds(worker) == []
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not [w for w in _children(proc.pid) if w != worker] or _status(port, "/health")[0] != 200:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        [respawned] = [w for w in _children(proc.pid) if w != worker]
        assert _status(port, "/katalog")[0] == 200 and _handover_fds(respawned) == []
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    assert code == 0, log.read_text()[-2000:]
