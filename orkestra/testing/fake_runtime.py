"""A stand-in for a runtime's HTTP API that serves canned JSON documents on 127.0.0.1.

For the Control Center's tests and bench only: it answers GETs from a path → (status, body)
table that the caller can replace at any time, and 404 `{"error": "not found"}` otherwise. It
knows nothing about Kubernetes; tests of the runtime itself use a real `ork run`.
`katalog_documents` multiplies one recorded CRD into a Katalog of any size.
"""
from __future__ import annotations

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

Documents = dict[str, tuple[int, Any]]


class FakeRuntime:
    def __init__(self, documents: Documents | None = None) -> None:
        self._documents: Documents = dict(documents or {})
        self._lock = threading.Lock()
        self.requests: list[tuple[str, dict[str, str]]] = []   # (path, headers) of each request
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                path = urlsplit(self.path).path
                with owner._lock:
                    owner.requests.append((path, dict(self.headers)))
                    status, body = owner._documents.get(path, (404, {"error": "not found"}))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-runtime", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def set_documents(self, documents: Documents) -> None:
        with self._lock:
            self._documents = dict(documents)

    def start(self) -> "FakeRuntime":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def katalog_documents(recording: dict, *, name: str, crds: int) -> Documents:
    """A runtime serving `crds` copies of the recorded CRD.

    `recording` holds `katalog` (a `/katalog` body with at least one CRD), `detail` and `health`
    (that CRD's `/katalog/{crd}` and `/katalog/{crd}/health` bodies).
    """
    katalog = copy.deepcopy(recording["katalog"])
    template = katalog["crds"][0]
    katalog["name"] = name
    keys = [f"{template['name']}-{i:02d}" for i in range(crds)]
    katalog["crds"] = [{**copy.deepcopy(template), "name": key} for key in keys]
    katalog["total"] = katalog["totalEnabled"] = crds
    katalog["dependencyGraph"] = {"startupOrder": keys,
                                  "edges": [{"from": keys[i - 1], "to": keys[i], "condition": "healthy"}
                                            for i in range(1, crds, 4)]}
    docs: Documents = {"/katalog": (200, katalog)}
    for key in keys:
        docs[f"/katalog/{key}"] = (200, {**copy.deepcopy(recording["detail"]), "name": key})
        docs[f"/katalog/{key}/health"] = (200, {**copy.deepcopy(recording["health"]), "name": key})
    return docs
