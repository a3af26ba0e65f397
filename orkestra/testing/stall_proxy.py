"""`StallProxy`: a TCP proxy on loopback that can stop forwarding bytes while keeping every
connection open, the way a dead NAT entry or a network partition looks to a client.

Put between a client and kube-apiserver (TLS passes through untouched: the serving certificate
names 127.0.0.1, which is where the proxy listens too):

* `freeze()`: the connections open now stop forwarding in both directions (nothing is read from
  either side, nothing is closed); connections opened later flow normally. A watch on a frozen
  connection looks alive to the kernel and silent to the client: only an inactivity timeout
  notices it.
* `partition()`: like `freeze()`, and connections opened later are accepted but frozen too; they
  reach the upstream only on `resume()` (so a client cannot tell whether the server is up).
* `resume()`: everything flows again (bytes held during the freeze are forwarded then).
* `close()`: stop listening and close every connection.

One thread accepts, one thread per connection pumps both directions.
"""
from __future__ import annotations

import select
import socket
import threading

from orkestra.testing.ports import LOOPBACK

_POLL = 0.05
_CHUNK = 64 * 1024


class _Pipe:
    """One client connection and its upstream connection (opened when it first flows)."""

    def __init__(self, client: socket.socket, upstream: tuple[str, int], *, frozen: bool) -> None:
        self.client = client
        self._address = upstream
        self.upstream: socket.socket | None = None
        self.flowing = threading.Event()
        if not frozen:
            self.flowing.set()
        self.closed = threading.Event()
        self._forwarding = threading.Lock()   # held while bytes move; `stop` waits for it

    def stop(self) -> None:
        """Stop forwarding; once this returns, not one more byte goes through."""
        self.flowing.clear()
        if self._forwarding.acquire(timeout=2):    # a peer that reads nothing could hold it
            self._forwarding.release()

    def pump(self) -> None:
        try:
            while not self.flowing.wait(_POLL):
                if self.closed.is_set():
                    return
            self.upstream = socket.create_connection(self._address, timeout=5)
            self.upstream.settimeout(None)
            peers = {self.client: self.upstream, self.upstream: self.client}
            while not self.closed.is_set():
                if not self.flowing.wait(_POLL):
                    continue
                readable, _, _ = select.select(list(peers), [], [], _POLL)
                with self._forwarding:
                    if not self.flowing.is_set():     # frozen while select waited
                        continue
                    for sock in readable:
                        data = sock.recv(_CHUNK)
                        if not data:
                            return
                        peers[sock].sendall(data)
        except (OSError, ValueError):    # ValueError: select() on a socket `close()` just closed
            return
        finally:
            self.close()

    def close(self) -> None:
        self.closed.set()
        for sock in (self.client, self.upstream):
            if sock is None:
                continue
            try:
                sock.close()
            except OSError:
                pass


class StallProxy:
    """A stallable TCP proxy from 127.0.0.1:<port> to `upstream` (host, port)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self._upstream = upstream
        self._listener = socket.create_server((LOOPBACK, 0))
        self._lock = threading.Lock()
        self._pipes: list[_Pipe] = []
        self._freeze_new = False
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="ork-stall-proxy", daemon=True)

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"

    def start(self) -> StallProxy:
        self._thread.start()
        return self

    def freeze(self) -> int:
        """Stop forwarding on every open connection; returns how many were frozen."""
        with self._lock:
            live = [pipe for pipe in self._pipes if not pipe.closed.is_set()]
            for pipe in live:
                pipe.stop()
            return len(live)

    def partition(self) -> None:
        """Freeze every connection, open now or later."""
        with self._lock:
            self._freeze_new = True
        self.freeze()

    def resume(self) -> None:
        with self._lock:
            self._freeze_new = False
            for pipe in self._pipes:
                pipe.flowing.set()

    def close(self) -> None:
        self._closed.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)   # wakes the blocked accept(); close() alone does not
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            for pipe in self._pipes:
                pipe.close()
            self._pipes.clear()
        if self._thread.is_alive():
            self._thread.join(2)

    def __enter__(self) -> StallProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._pipes = [pipe for pipe in self._pipes if not pipe.closed.is_set()]
                pipe = _Pipe(client, self._upstream, frozen=self._freeze_new)
                self._pipes.append(pipe)
            threading.Thread(target=pipe.pump, name="ork-stall-proxy-pipe", daemon=True).start()
