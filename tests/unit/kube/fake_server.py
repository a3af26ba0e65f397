"""A scripted HTTP server on loopback, for wire-level edge cases a real API server cannot be
forced into (throttling on demand, an expired continue token, a stream that stalls mid-way).

Each test registers `routes[(method, path)] = handler(request) -> None` where the handler writes
the response itself through `request` (a BaseHTTPRequestHandler).
"""
from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from orkestra.kube.client import KubeClient
from orkestra.kube.kubeconfig import ClusterAccess


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output quiet
        pass

    def _dispatch(self):
        url = urlsplit(self.path)
        self.query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        self.body = json.loads(self.rfile.read(length)) if length else None
        self.server.requests.append((self.command, url.path, self.query, self.body, dict(self.headers)))
        handler = self.server.routes.get((self.command, url.path))
        if handler is None:
            send_json(self, 404, {"kind": "Status", "reason": "NotFound", "message": "no route", "code": 404})
        else:
            handler(self)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch


def send_json(req: BaseHTTPRequestHandler, status: int, body: dict, headers: dict | None = None) -> None:
    data = json.dumps(body).encode()
    req.send_response(status)
    req.send_header("Content-Type", "application/json")
    req.send_header("Content-Length", str(len(data)))
    for k, v in (headers or {}).items():
        req.send_header(k, v)
    req.end_headers()
    req.wfile.write(data)


def start_chunked(req: BaseHTTPRequestHandler) -> None:
    req.send_response(200)
    req.send_header("Content-Type", "application/json")
    req.send_header("Transfer-Encoding", "chunked")
    req.end_headers()


def write_chunk(req: BaseHTTPRequestHandler, data: bytes) -> None:
    req.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
    req.wfile.flush()


def end_chunks(req: BaseHTTPRequestHandler) -> None:
    req.wfile.write(b"0\r\n\r\n")
    req.wfile.flush()


class FakeApiServer:
    """`tls` (a server-side SSLContext) makes it an https server."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.httpd.server_address[1]}"
        self.httpd.daemon_threads = True
        self.httpd.routes = {}
        self.httpd.requests = []
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    @property
    def routes(self) -> dict:
        return self.httpd.routes

    @property
    def requests(self) -> list:
        return self.httpd.requests

    def client(self, **kw) -> KubeClient:
        return KubeClient(ClusterAccess(server=self.url), **kw)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
