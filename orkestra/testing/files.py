"""Private files and directories for the local control plane (keys, kubeconfigs, etcd data).

Keys are created with mode 0600 in the `open` call itself: writing first and calling chmod after
leaves a window in which another local user can read a 0644 key (umask 022). Directories are
0700, so nothing below them can be listed or opened by other users at all.
"""
from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700; an existing directory is narrowed to 0700."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != PRIVATE_DIR:
        path.chmod(PRIVATE_DIR)
    return path


def write_private(path: Path, data: bytes | str) -> Path:
    """Write `data` to a new 0600 file (an old file is replaced, never reopened; symlinks are refused)."""
    if isinstance(data, str):
        data = data.encode()
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path
