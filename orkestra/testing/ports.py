"""Loopback ports for the control plane's listeners.

Free ports are found the usual way (bind port 0 on 127.0.0.1 and read the port back), holding
every socket open until all are chosen so one call never returns the same port twice. A port
can still be taken between this check and the component binding it; the runner recognises
"address already in use" in the component's log and says so.
"""
from __future__ import annotations

import errno
import socket

LOOPBACK = "127.0.0.1"


def free_ports(count: int) -> list[int]:
    """`count` distinct ports that were free on 127.0.0.1 a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_in_use(port: int) -> bool:
    """True when something already listens on (or holds) 127.0.0.1:`port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return True
            raise
    return False
