"""The HTTPS server: werkzeug's ThreadedWSGIServer with per-connection TLS.

gunicorn cannot mix plain HTTP and TLS binds (docs/webhooks.md §1), so the webhook port is a
werkzeug server in a thread named `ork-https` inside the engine's process. Instead of wrapping
the listening socket once, each accepted connection is wrapped with the TLS manager's *current*
context, so a reloaded certificate serves new connections without a restart. The handshake
runs in the connection's own thread (not in the accept loop).

Keep-alive: werkzeug's handler always answers `Connection: close`, because it cannot know
whether the application drained the request body. This handler reads the whole body itself
(requests carry a Content-Length up to MAX_BODY) and hands the application an in-memory
copy, so the connection is always at a request boundary and may stay open; chunked, oversized
or ambiguously framed (two Content-Lengths) bodies still close it. An idle keep-alive
connection is closed after READ_DEADLINE (the wait for the next request counts towards it), or
by the 30 s socket timeout if that is shorter.
Responses are written through a buffer, so status line, headers and a small body leave in one
flush: one TLS record and one TCP send, and the client wakes once per response (werkzeug writes
headers and body separately; unbuffered, that was two records and two sends). TCP_NODELAY is set
so that a larger response, still written as several records, is not held back by Nagle's algorithm.
`service_actions` (called by the accept loop every poll interval) drives the TLS refresh timer.

Limits (docs/security.md): anyone who reaches the port can open connections, so at most
MAX_CONNECTIONS are served at once (more are closed on accept), at most MAX_IN_FLIGHT requests
run the application at once, only one of them with a body over LARGE_BODY (others wait up to
BUSY_WAIT, then get a 503), and each request must arrive in full (TLS handshake, headers, body)
within READ_DEADLINE: the socket timeout
alone restarts with every byte, so a client dripping one byte at a time would hold its thread
for ever. The accept loop's poll shuts down connections past their deadline.
"""
from __future__ import annotations

import io
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler, get_sockaddr, select_address_family

from orkestra.webhooks.review import MAX_BODY, declared_length

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from orkestra.webhooks.tls import TlsManager

log = logging.getLogger("orkestra.webhooks")
IDLE_TIMEOUT = 30.0
READ_DEADLINE = 10.0
MAX_CONNECTIONS = 32
MAX_IN_FLIGHT = 4
LARGE_BODY = MAX_BODY // 4   # bodies above this parse one at a time: JSON can take ~25x its size in memory
BUSY_WAIT = 4.0     # below the 5 s webhook timeout the configurations register
WRITE_BUFFER = 16 * 1024   # one TLS record's worth of payload


class _Handler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    wbufsize = WRITE_BUFFER   # headers and a small body leave in one flush: one TLS record, one send
    _reusable = False
    _stream: io.BufferedIOBase | None = None
    server: HttpsServer          # the only server this handler runs under

    def handle_one_request(self) -> None:
        self.server.arm(self.connection)
        self._reusable = False
        try:
            super().handle_one_request()
        finally:
            self.server.disarm(self.connection)
            if not self.wfile.closed:
                self.wfile.flush()               # error answers too, before waiting for the next request

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        self.wfile.flush()                       # a "100 Continue" must reach the client before we read
        if environ.get("wsgi.input_terminated") or len(set(self.headers.get_all("Content-Length", ()))) > 1:
            return environ                      # chunked (werkzeug's test) or two lengths: closes after the answer
        length = declared_length(environ.get("CONTENT_LENGTH") or "0")
        if length is None or length > MAX_BODY:
            return environ                      # the app rejects it unread; the connection closes
        body = self.rfile.read(length) if length else b""
        self.server.disarm(self.connection)      # read in full: in time
        environ["wsgi.input"] = io.BytesIO(body)
        self._reusable = len(body) == length
        if self._reusable:
            # werkzeug drains "leftover" input after the response; there is none, and draining
            # the socket would swallow the client's next request. `run_wsgi` restores the stream.
            self._stream, self.rfile = self.rfile, io.BytesIO()
        return environ

    def run_wsgi(self) -> None:
        self._stream = None
        try:
            super().run_wsgi()
        finally:
            if self._stream is not None:
                self.rfile = self._stream

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close" and self._reusable \
                and not self.close_connection:
            return                               # keep the connection for the client's next request
        super().send_header(keyword, value)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("webhook request", extra={"path": self.path, "status": str(code)})

    def log_error(self, format: str, *args: Any) -> None:
        log.debug("webhook connection error", extra={"error": format % args if args else format})


class HttpsServer(ThreadedWSGIServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, app: WSGIApplication, tls: TlsManager, *, idle_timeout: float = IDLE_TIMEOUT,
                 read_deadline: float = READ_DEADLINE, max_connections: int = MAX_CONNECTIONS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        handler = _Handler if idle_timeout == IDLE_TIMEOUT else type("_Handler", (_Handler,), {"timeout": idle_timeout})
        # bind here: werkzeug turns a bind failure into sys.exit(1); we want an OSError to report
        family = select_address_family(host, port)
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(get_sockaddr(host, port, family))
            sock.listen(self.request_queue_size)
            super().__init__(host, port, _Limited(app), handler=handler, fd=sock.fileno())   # werkzeug keeps a dup
        self.server_port = self.socket.getsockname()[1]
        self.tls = tls   # the runner sets `ssl_context` once TLS has started (marks the server as https)
        self._clock = clock
        self._next_refresh = clock() + tls.source.period
        self._refreshing = threading.Event()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._max_connections, self._read_deadline = max_connections, read_deadline
        self._deadlines: dict[Any, float] = {}
        self._deadlines_lock = threading.Lock()

    def arm(self, conn: Any) -> None:
        with self._deadlines_lock:
            self._deadlines[conn] = self._clock() + self._read_deadline

    def disarm(self, conn: Any) -> None:
        with self._deadlines_lock:
            self._deadlines.pop(conn, None)

    def _cut_late_readers(self) -> None:
        now = self._clock()
        with self._deadlines_lock:
            late = [c for c, t in self._deadlines.items() if t <= now]
            for conn in late:
                del self._deadlines[conn]
        for conn in late:
            log.debug("webhook request not received in time: connection closed")
            try:
                conn.shutdown(socket.SHUT_RDWR)   # wakes the handler's blocked read
            except OSError:
                pass

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            log.warning("webhook connection refused: too many open connections",
                        extra={"limit": self._max_connections})
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = self.socket.accept()
        # a response larger than the write buffer goes out as several TLS records: without NODELAY,
        # Nagle holds the later ones until the client's delayed ACK (~40 ms per request on Linux)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.tls.context().wrap_socket(conn, server_side=True, do_handshake_on_connect=False), addr

    def service_actions(self) -> None:
        """Called by the accept loop every poll interval: start a TLS refresh when one is due.

        The refresh may call the API server (the TLS Secret), so it runs on a short-lived thread
        and never stalls accepting connections; at most one runs at a time."""
        self._cut_late_readers()
        now = self._clock()
        if now < self._next_refresh or self._refreshing.is_set():
            return
        self._next_refresh = now + self.tls.source.period
        self._refreshing.set()
        threading.Thread(target=self._refresh, name="ork-https-tls", daemon=True).start()

    def _refresh(self) -> None:
        try:
            self.tls.refresh()
        finally:
            self._refreshing.clear()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("webhook connection dropped", extra={"client": str(client_address[0])})


class _Limited:
    """WSGI wrapper: at most MAX_IN_FLIGHT requests in the application, of which at most one has a
    body over LARGE_BODY (parsing seven MiB of `[[],[],…]` takes ~160 MiB); a 503 after BUSY_WAIT."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app
        self._slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)
        self._large = threading.BoundedSemaphore(1)

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Any:
        deadline = time.monotonic() + BUSY_WAIT
        held: list[threading.BoundedSemaphore] = []
        large = _content_length(environ) > LARGE_BODY
        for slots in ((self._slots, self._large) if large else (self._slots,)):
            if not slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
                for taken in held:
                    taken.release()
                start_response("503 Service Unavailable", [("Content-Type", "application/json"), ("Retry-After", "1")])
                return [b'{"error":"webhook server busy"}']
            held.append(slots)
        try:
            body = self.app(environ, start_response)
            try:
                return list(body)
            finally:
                if hasattr(body, "close"):
                    body.close()
        finally:
            for taken in held:
                taken.release()


def _content_length(environ: dict) -> int:
    return declared_length(environ.get("CONTENT_LENGTH")) or 0
