"""Issue 16 items 5 and 9 against a running `ork run` with admission on: a ReDoS-prone Katalog
pattern with a 41-character value, an oversized body, a client dripping its request and a
connection flood on the webhook port. Throughout, /health answers within 1 s and the process
tree stays under RSS_BOUND; the hostile requests get clear answers."""
from __future__ import annotations

import json
import os
import socket
import ssl
import threading
import time
from pathlib import Path

from orkestra.webhooks.listener import MAX_CONNECTIONS, READ_DEADLINE
from orkestra.webhooks.review import MAX_BODY
from tests.e2e.ork_runtime import ork_runtime  # noqa: F401
from tests.e2e.webhook_helpers import VALIDATING, crd, eventually, webhook_cleanup  # noqa: F401

GROUP = "dos.wh.example.io"
RSS_BOUND = 300 * 1024 * 1024     # measured: 111 MiB for the whole process tree
KATALOG = {
    "apiVersion": "orkestra.orkspace.io/v1", "kind": "Katalog", "metadata": {"name": "dos"},
    "spec": {"crds": {"app": {
        "apiTypes": {"group": GROUP, "version": "v1", "kind": "App", "plural": "apps"},
        "validation": {"rules": [{"field": "spec.image", "regex": "^([a-z0-9]+-?)+$", "message": "bad image"}]},
    }}},
}


def app(name: str, namespace: str, image: str) -> str:
    return json.dumps({"apiVersion": f"{GROUP}/v1", "kind": "App", "metadata": {"name": name, "namespace": namespace},
                       "spec": {"image": image}})


def _tree_rss(session: int) -> int:
    """Resident bytes of every process in the `ork run` session (gunicorn workers included)."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[3]) != session:
                continue
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    return total


class Watch:
    """Polls /health every 0.2 s in the background; records the slowest answer and peak RSS."""

    def __init__(self, ork):
        self.ork, self.slowest, self.failures, self.peak_rss = ork, 0.0, [], 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            start = time.monotonic()
            status, _ = self.ork.get("/health", timeout=2)
            took = time.monotonic() - start
            self.slowest = max(self.slowest, took)
            if status != 200:
                self.failures.append(status)
            self.peak_rss = max(self.peak_rss, _tree_rss(self.ork.pid))
            self._stop.wait(0.2)

    def stop(self):
        self._stop.set()
        self._thread.join(5)


def _tls(port: int) -> ssl.SSLSocket:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE     # an anonymous peer, as an attacker is
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=15))


def test_hostile_inputs_do_not_stall_ork_run(namespace, apply_crd, webhook_cleanup, ork_runtime, kubectl, kube):
    apply_crd(crd(GROUP, "App", "apps", ["v1"]))
    ork = ork_runtime(KATALOG, env={"ENABLE_CONVERSION": "true", "ENABLE_ADMISSION_WEBHOOK": "true",
                                    "NAMESPACE": namespace})
    eventually(lambda: kube.get(VALIDATING, "orkestra-validation"), what="orkestra-validation")
    eventually(lambda: kubectl("apply", "-f", "-", input=app("ok", namespace, "web-1"), check=False).returncode == 0,
               what="a valid App to be admitted")
    watch = Watch(ork)
    try:
        start = time.monotonic()                                      # item 5: denied at once, not admitted
        denied = kubectl("apply", "-f", "-", input=app("redos", namespace, "a" * 40 + "!"), check=False)
        assert denied.returncode != 0 and "bad image" in denied.stderr, denied.stderr
        assert time.monotonic() - start < 4

        with _tls(ork.webhook_port) as conn:                          # item 9: oversized body -> 413
            conn.sendall(f"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {MAX_BODY + 1}\r\n\r\n".encode())
            head = b""
            while chunk := conn.recv(4096):                           # the answer closes the connection
                head += chunk
        assert head.startswith(b"HTTP/1.1 413") and f"limit {MAX_BODY} bytes".encode() in head

        slow = _tls(ork.webhook_port)                                 # dripping client: cut at the deadline
        slow.sendall(b"POST /validate HTTP/1.1\r\n")
        start, cut = time.monotonic(), False
        while time.monotonic() - start < READ_DEADLINE + 5:
            try:
                slow.sendall(b"X")
            except OSError:
                cut = True
                break
            time.sleep(0.5)
        slow.close()
        assert cut and time.monotonic() - start < READ_DEADLINE + 3

        flood = [socket.create_connection(("127.0.0.1", ork.webhook_port), timeout=5)
                 for _ in range(MAX_CONNECTIONS + 20)]
        ok = kubectl("apply", "-f", "-", input=app("during-flood", namespace, "api-2"), check=False)
        for s in flood:
            s.close()
        assert ok.returncode == 0 or "webhook" in ok.stderr            # refused connections fail the call, never hang
        eventually(lambda: kubectl("apply", "-f", "-", input=app("after", namespace, "api-3"),
                                   check=False).returncode == 0, what="admission after the flood")
        denied = kubectl("apply", "-f", "-", input=app("bad-after", namespace, "Bad!"), check=False)
        assert denied.returncode != 0 and "bad image" in denied.stderr
    finally:
        watch.stop()
    assert watch.failures == [] and watch.slowest < 1.0, (watch.failures, watch.slowest)
    assert 0 < watch.peak_rss < RSS_BOUND, watch.peak_rss
    print(f"slowest /health {watch.slowest:.3f}s, peak RSS {watch.peak_rss / 2**20:.0f} MiB")
