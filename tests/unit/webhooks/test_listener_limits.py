"""Issue 16 item 9: the webhook listener's limits on loopback (body size, slow clients,
connection count); through all of them the listener keeps answering."""
from __future__ import annotations

import json
import socket
import ssl
import threading
import time

import pytest

from orkestra.webhooks import certs
from orkestra.webhooks import listener
from orkestra.webhooks.listener import HttpsServer
from orkestra.webhooks.review import MAX_BODY
from orkestra.webhooks.app import WebhookState, create_webhook_app
from orkestra.webhooks.switches import WebhookSettings
from orkestra.webhooks.tls import GeneratedSource, TlsManager

from .katalogs import admission, load, obj


@pytest.fixture
def server(tmp_path):
    tls = TlsManager(GeneratedSource("s", "n", certs.required_names("s", "n")), tmp_root=str(tmp_path))
    tls.start()
    k = load(tmp_path)
    state = WebhookState.build(k, WebhookSettings(enable_conversion=True, enable_admission=True, namespace="n"))
    srv = HttpsServer("127.0.0.1", 0, create_webhook_app(k, state), tls, read_deadline=1.0, max_connections=4)
    srv.ssl_context = tls.context()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    tls.close()


def _tls(srv) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cadata=srv.tls.ca_bundle().decode())
    raw = socket.create_connection(("127.0.0.1", srv.server_port), timeout=5)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def _post(srv, body: bytes, *, length: int | None = None) -> tuple[int, dict]:
    with _tls(srv) as conn:
        head = (f"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body) if length is None else length}\r\nConnection: close\r\n\r\n")
        conn.sendall(head.encode() + body)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, json.loads(data.split(b"\r\n\r\n", 1)[1])


def _answers(srv) -> bool:
    review = admission("CREATE", obj(labels={"team": "t"}, image="registry.internal/x", replicas=1), uid="u")
    start = time.monotonic()
    status, body = _post(srv, json.dumps(review).encode())
    return status == 200 and body["response"]["uid"] == "u" and time.monotonic() - start < 1.0


def test_an_oversized_body_gets_413_with_a_message(server):
    status, body = _post(server, b"", length=MAX_BODY + 1)                 # declared: rejected unread
    assert (status, body) == (413, {"error": f"request body too large (limit {MAX_BODY} bytes)"})
    status, body = _post(server, b"[" + b" " * MAX_BODY + b"]")           # sent in full
    assert status == 413 and "too large" in body["error"]
    assert MAX_BODY <= 8 * 1024 * 1024


def test_an_update_of_two_large_objects_is_reviewed(server):
    """An UPDATE carries object and oldObject: near the API server's 3 MiB limit each, the review
    is well over 3.5 MiB and must still be answered, not refused with 413 (a write failed or let
    through by failurePolicy)."""
    big = "x" * (2_600 * 1024)
    new = obj(labels={"team": "t"}, image="registry.internal/x", replicas=1, blob=big)
    old = obj(labels={"team": "t"}, image="registry.internal/x", replicas=1, blob=big[1:])
    body = json.dumps(admission("UPDATE", new, old, uid="big")).encode()
    assert len(body) > 5 * 1024 * 1024
    status, answer = _post(server, body)
    assert status == 200 and answer["response"]["uid"] == "big"
    assert _answers(server)


def test_a_client_dripping_its_request_is_cut_at_the_read_deadline(server):
    slow = _tls(server)
    slow.sendall(b"POST /validate HTTP/1.1\r\n")
    start, closed = time.monotonic(), False
    try:
        while time.monotonic() - start < 5:
            slow.sendall(b"X")                   # one byte every 0.2 s: the socket timeout never fires
            assert _answers(server)
            time.sleep(0.2)
    except OSError:
        closed = True
    finally:
        slow.close()
    assert closed and time.monotonic() - start < 3.0
    assert _answers(server)


def test_a_client_that_never_handshakes_is_cut_too(server):
    raw = socket.create_connection(("127.0.0.1", server.server_port), timeout=5)
    start = time.monotonic()
    assert raw.recv(1) == b""                     # closed by the server, not by our timeout
    assert time.monotonic() - start < 3.0
    raw.close()


def test_connections_over_the_limit_are_closed_and_the_listener_recovers(server):
    held = [socket.create_connection(("127.0.0.1", server.server_port), timeout=5) for _ in range(4)]
    time.sleep(0.2)
    extra = socket.create_connection(("127.0.0.1", server.server_port), timeout=5)
    start = time.monotonic()
    try:
        assert extra.recv(1) == b""               # refused at once, long before the read deadline
    except ConnectionResetError:
        pass
    assert time.monotonic() - start < 0.5
    extra.close()
    for s in held:
        s.close()
    time.sleep(0.3)
    assert _answers(server)


def test_large_bodies_are_evaluated_one_at_a_time(monkeypatch):
    """Parsing a 7 MiB body can take ~160 MiB: only one large body is in the application at once
    (the next waits, then gets 503), while small reviews keep their slots."""
    monkeypatch.setattr(listener, "BUSY_WAIT", 0.3)
    release, entered = threading.Event(), []

    def app(environ, start_response):
        entered.append(environ["CONTENT_LENGTH"])
        release.wait(5)
        start_response("200 OK", [])
        return [b"ok"]

    limited = listener._Limited(app)
    statuses: list[str] = []

    def call(length: int) -> None:
        body = limited({"CONTENT_LENGTH": str(length)}, lambda status, headers: statuses.append(status))
        statuses.append(b"".join(body).decode())

    big = threading.Thread(target=call, args=(listener.LARGE_BODY + 1,))
    big.start()
    while not entered:
        time.sleep(0.01)
    call(listener.LARGE_BODY + 1)                       # a second large body: busy
    assert statuses == ["503 Service Unavailable", '{"error":"webhook server busy"}']
    small = threading.Thread(target=call, args=(1000,))
    small.start()
    time.sleep(0.1)
    assert entered == [str(listener.LARGE_BODY + 1), "1000"]   # a small one still gets in
    release.set()
    big.join(5)
    small.join(5)
    assert statuses.count("200 OK") == 2
