"""Start, watch and stop the control-plane processes, always by PID.

Each component runs with its output in its own log file. Two modes:

* *attached* (tests, `with LocalControlPlane()`): the processes are our children and, when
  started from the main thread, get PR_SET_PDEATHSIG so they die with us even after SIGKILL;
* *detached* (`ork local up`): each process gets its own session, so it outlives the command
  that started it and ignores the terminal's signals; `ork local down` stops it by PID later.

A PID can be reused once its process is gone, so before signalling one we check that it still
runs the binary we started (/proc/<pid>/exe, or the first word of its cmdline). Zombies (dead
but not yet reaped, which happens to detached processes in containers without an init) count as
stopped.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Component:
    """One started process: what it is, its PID, the binary it runs and its log."""

    name: str
    pid: int
    exe: str
    log: Path


def _die_with_parent() -> None:  # runs in the child between fork and exec
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(name: str, command: list[str], log: Path, *, detached: bool) -> tuple[Component, subprocess.Popen]:
    """Start `command` with stdout+stderr appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    # PDEATHSIG fires when the *thread* that forked exits, so only use it from the main thread.
    tie_to_parent = not detached and threading.current_thread() is threading.main_thread()
    with open(log, "ab") as out:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=detached,
                                preexec_fn=_die_with_parent if tie_to_parent else None)
    return Component(name=name, pid=proc.pid, exe=command[0], log=log), proc


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def runs(pid: int, exe: str) -> bool:
    """True when `pid` is a live (non-zombie) process running the binary `exe`."""
    state = _proc_state(pid)
    if state is None or state in ("Z", "X"):
        return False
    try:
        if os.path.realpath(f"/proc/{pid}/exe").removesuffix(" (deleted)") == os.path.realpath(exe):
            return True
    except OSError:
        pass
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode()
    except OSError:
        return False
    return os.path.realpath(argv0) == os.path.realpath(exe)


def _alive(component: Component, proc: subprocess.Popen | None) -> bool:
    # Our own child cannot have its PID reused before we reap it, so poll() is exact (and reaps).
    if proc is not None:
        return proc.poll() is None
    return runs(component.pid, component.exe)


def _gone_within(component: Component, proc: subprocess.Popen | None, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(component, proc):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def stop(component: Component, *, grace: float = 10.0, proc: subprocess.Popen | None = None) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; returns once the process is gone.

    Pass `proc` for a process this interpreter started, so it is reaped (no zombie left).
    """
    if not _alive(component, proc):
        return
    _signal(component.pid, signal.SIGTERM)
    if not _gone_within(component, proc, grace):
        _signal(component.pid, signal.SIGKILL)
        _gone_within(component, proc, float("inf"))


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def tail(path: Path, lines: int = 20) -> str:
    """The last `lines` lines of a log file ('' when it does not exist)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])
