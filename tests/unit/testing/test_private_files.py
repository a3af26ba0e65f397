"""Issue 16 item 11: local control plane keys are 0600 from the moment they exist, directories 0700."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from orkestra.testing import flags
from orkestra.testing.controlplane import LocalControlPlane
from orkestra.testing.files import private_dir, write_private


@pytest.fixture
def open_umask():
    """umask 0: a file created without an explicit mode would be world-readable."""
    old = os.umask(0)
    yield
    os.umask(old)


@pytest.fixture
def no_chmod(monkeypatch):
    """A chmod after writing is the race this item removes: forbid it on files."""
    real = Path.chmod

    def guarded(self, mode, **kw):
        if self.is_file():
            raise AssertionError(f"chmod after write: {self}")
        return real(self, mode, **kw)
    monkeypatch.setattr(Path, "chmod", guarded)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_private_creates_0600_and_replaces_instead_of_reopening(tmp_path, open_umask, no_chmod):
    target = tmp_path / "k.key"
    target.write_text("old")
    assert mode(target) == 0o666
    write_private(target, b"secret")
    assert mode(target) == 0o600 and target.read_bytes() == b"secret"
    link = tmp_path / "link.key"
    link.symlink_to(tmp_path / "elsewhere")
    write_private(link, "x")                      # the symlink is replaced, its target never written
    assert not (tmp_path / "elsewhere").exists() and not link.is_symlink()


def test_private_dir_is_0700_and_narrows_an_existing_one(tmp_path, open_umask):
    assert mode(private_dir(tmp_path / "a" / "b")) == 0o700
    wide = tmp_path / "wide"
    wide.mkdir(mode=0o755)
    assert mode(private_dir(wide)) == 0o700


def test_control_plane_certs_are_private_from_creation(tmp_path, open_umask, no_chmod):
    layout = flags.Layout(bin_dir=tmp_path, root=private_dir(tmp_path / "cp"), etcd_client_port=1,
                          etcd_peer_port=2, apiserver_port=3)
    LocalControlPlane(root=layout.root)._write_certs(layout)
    assert mode(layout.root) == 0o700 and mode(layout.certs) == 0o700
    files = sorted(layout.certs.iterdir()) + [layout.kubeconfig]
    assert {p.name for p in files} >= {"client-ca.key", "sa.key", "admin.key", "etcd.key",
                                       "apiserver-etcd-client.key", "admin.kubeconfig"}
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}


def test_etcd_requires_client_certificates():
    layout = flags.Layout(bin_dir=Path("/b"), root=Path("/r"), etcd_client_port=1, etcd_peer_port=2, apiserver_port=3)
    etcd = flags.etcd_command(layout)
    assert layout.etcd_url == "https://127.0.0.1:1"
    assert "--client-cert-auth=true" in etcd and "--peer-client-cert-auth=true" in etcd
    assert "--trusted-ca-file=/r/certs/etcd-ca.crt" in etcd
    assert not any(arg.startswith("--listen-peer-urls=http://") for arg in etcd)
    api = flags.apiserver_command(layout, has_default_route=True)
    assert {"--etcd-certfile=/r/certs/apiserver-etcd-client.crt", "--etcd-keyfile=/r/certs/apiserver-etcd-client.key",
            "--etcd-cafile=/r/certs/etcd-ca.crt"} <= set(api)
