"""The lean gunicorn arbiter of `ork run` and `ork gateway` (docs/runtime.md §1).

The arbiter only forks, watches and signals its one worker, yet the `ork run` process reaches
gunicorn holding everything it imported and built to check the environment and the Katalog:
about 20 MB of RSS resident in a process that does no work (and counted again in the worker's
RSS, which shares those pages). So `serve` hands over what it checked, pickled into an anonymous
in-memory file, and replaces itself (same PID, same signals) with
`python -m orkestra.server.arbiter SPEC`. This module imports gunicorn and Orkestra's logger only;
the worker reads and unpickles the hand-over and builds the engine through `orkestra.server.serve`.

When the hand-over cannot be made (no `memfd_create`, or a Katalog that does not pickle), `serve`
keeps the arbiter in-process as before: slower to shed memory, same behaviour.
"""
from __future__ import annotations

import json
import os
import pickle
import sys
from collections.abc import Mapping
from typing import Any

from orkestra.gunicorn_run import run
from orkestra.logs import configure


def handover(state: tuple[Any, ...]) -> int | None:
    """`state` pickled into an anonymous file whose descriptor survives `exec`; None when this
    platform or this state does not allow it."""
    if not hasattr(os, "memfd_create"):
        return None
    try:
        payload = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return None
    fd = os.memfd_create("orkestra-handover", 0)      # no MFD_CLOEXEC: the new program inherits it
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view):]
    return fd


def exec_arbiter(fd: int, gunicorn: Mapping[str, Any], *, log_level: str, log_format: str) -> None:
    """Replace this process by the lean arbiter (never returns). `gunicorn` holds the plain
    (JSON) settings; the worker hooks are this module's. `-P`: unlike `python -m` alone, the
    working directory is not put first on `sys.path` (the arbiter and the worker import what
    `ork` would, and hooks find the working directory last, docs/hooks.md)."""
    spec = json.dumps({"fd": fd, "gunicorn": dict(gunicorn), "log_level": log_level, "log_format": log_format})
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-P", "-m", __name__, spec])


def read_handover(fd: int) -> tuple[Any, ...]:
    """The state `handover` wrote (read at offset 0: a respawned worker reads it again)."""
    size = os.fstat(fd).st_size
    chunks, offset = [], 0
    while offset < size:
        chunk = os.pread(fd, size - offset, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    state = pickle.loads(b"".join(chunks))
    assert isinstance(state, tuple)
    return state


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    fd = int(spec["fd"])
    os.set_inheritable(fd, False)       # the worker inherits it by fork; hook subprocesses do not
    configure(spec["log_level"], spec["log_format"])

    def load(application: Any) -> Any:
        """In the worker: rebuild the process from the hand-over, as `serve` would have. The
        worker closes its copy once read (the arbiter keeps its own for a respawned worker)."""
        from orkestra.server.serve import load_worker
        try:
            state = read_handover(fd)
        finally:
            os.close(fd)
        return load_worker(application, *state)

    return run({**spec["gunicorn"], "post_worker_init": _post_worker_init, "worker_exit": _worker_exit}, load)


def _post_worker_init(worker: Any) -> None:
    from orkestra.server.serve import post_worker_init
    post_worker_init(worker)


def _worker_exit(server: Any, worker: Any) -> None:
    from orkestra.server.serve import worker_exit
    worker_exit(server, worker)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
