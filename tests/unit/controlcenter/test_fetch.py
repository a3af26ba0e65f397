"""Reading a runtime over HTTP (a canned runtime on loopback) and the live views' micro-cache."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orkestra.controlcenter.fetch import FetchError, HttpFetcher
from orkestra.controlcenter.livecache import LiveReader
from orkestra.testing.fake_runtime import FakeRuntime
from tests.unit.controlcenter.fakes import Clock, FakeFetcher


@pytest.fixture
def runtime():
    fake = FakeRuntime({"/katalog": (200, {"name": "k"}), "/katalog/web/health": (503, {"state": "degraded"})}).start()
    yield fake
    fake.stop()


def test_nan_and_infinity_are_not_json():
    """Python's json module reads them; a browser's JSON.parse would not read them back."""
    fake = FakeRuntime({"/katalog": (200, {"errorRate": float("nan")})}).start()   # json.dumps writes NaN
    try:
        with pytest.raises(FetchError, match="not JSON"):
            HttpFetcher().get_json(fake.url + "/katalog")
    finally:
        fake.stop()


def test_json_answers_503_bodies_included_and_errors_as_fetch_errors(runtime):
    fetcher = HttpFetcher()
    assert fetcher.get_json(runtime.url + "/katalog") == (200, {"name": "k"})
    assert fetcher.get_json(runtime.url + "/katalog/web/health") == (503, {"state": "degraded"})
    assert fetcher.get_json(runtime.url + "/nope") == (404, {"error": "not found"})
    path, headers = runtime.requests[0]
    assert headers["Connection"] == "close" and "Authorization" not in headers
    runtime.stop()
    with pytest.raises(FetchError, match="Connection refused"):
        fetcher.get_json(runtime.url + "/katalog", timeout=1)


def test_the_bearer_token_is_read_from_its_file_on_every_request(runtime, tmp_path):
    token = tmp_path / "token"
    token.write_text("first-token\n")
    fetcher = HttpFetcher(token_file=token)
    fetcher.get_json(runtime.url + "/katalog")
    token.write_text("rotated-token")
    fetcher.get_json(runtime.url + "/katalog")
    assert [h["Authorization"] for _, h in runtime.requests] == ["Bearer first-token", "Bearer rotated-token"]
    token.unlink()
    with pytest.raises(FetchError, match="cannot read the token file"):
        fetcher.get_json(runtime.url + "/katalog")


def test_redirects_are_not_followed_and_only_http_urls_are_read(runtime, tmp_path):
    """A runtime (or whatever answers at its URL) must not be able to send the bearer token on
    to another host with a redirect, nor make the Control Center read a local file."""
    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(302)
            self.send_header("Location", runtime.url + "/katalog")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    token = tmp_path / "token"
    token.write_text("secret-token")
    try:
        with pytest.raises(FetchError, match="HTTP 302 from"):
            HttpFetcher(token_file=token).get_json(f"http://127.0.0.1:{server.server_port}/katalog")
    finally:
        server.shutdown()
        server.server_close()
    assert runtime.requests == [], "the redirect target was never asked"
    (tmp_path / "katalog").write_text('{"name": "from a file"}')
    with pytest.raises(FetchError, match="not an http"):
        HttpFetcher().get_json(f"file://{tmp_path}/katalog")


def test_an_answer_that_trickles_in_is_cut_off_at_the_timeout():
    """Each byte comes well within the socket timeout; the whole answer would take 6 s."""
    class Trickle(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(200)
            self.send_header("Content-Length", "60")
            self.end_headers()
            for _ in range(60):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(FetchError, match="did not arrive in time"):
            HttpFetcher().get_json(f"http://127.0.0.1:{server.server_port}/katalog", timeout=1)
    finally:
        server.shutdown()
        server.server_close()
    assert time.monotonic() - started < 3


def test_the_micro_cache_serves_two_seconds_and_stays_bounded():
    clock = Clock(0)
    fetcher = FakeFetcher({f"http://a/{i}": (200, {"i": i}) for i in range(10)})
    live = LiveReader(fetcher, clock=clock, ttl=2.0, max_entries=3)
    assert live.get_json("http://a/0") == (200, {"i": 0})
    clock.advance(1.9)
    live.get_json("http://a/0")
    assert fetcher.calls == ["http://a/0"]
    clock.advance(0.2)
    live.get_json("http://a/0")
    assert fetcher.calls == ["http://a/0", "http://a/0"]
    for i in range(10):
        live.get_json(f"http://a/{i}")
    assert len(live._cache) == 3
