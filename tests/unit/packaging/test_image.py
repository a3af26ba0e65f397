"""What can be tested of the container image without Docker (docs/deploying.md).

The Dockerfile's build stage copies a few paths and runs `pip wheel`; the final stage installs
that wheel and runs `ork` as uid 10001 with PYTHONDONTWRITEBYTECODE=1, no home directory and a
read-only root filesystem. Here the same paths are copied into a temp dir, the wheel is built
from them (`python -m build`, offline), installed into a fresh virtualenv, and `ork` is run from
it with an unwritable HOME; afterwards the virtualenv must be byte-for-byte unchanged.
"""
from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = (REPO / "Dockerfile").read_text()


def build_stage_copies() -> list[str]:
    """Sources of the COPY instructions that read the build context (not `--from=` another stage)."""
    sources: list[str] = []
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            sources += line.split()[1:-1]
    return sources


def admitted_by_dockerignore(path: str) -> bool:
    """.dockerignore here is "exclude everything, then re-include": the last matching pattern wins."""
    admitted = True
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            admitted = negated
    return admitted


def test_dockerfile_follows_the_image_contract():
    assert re.findall(r"^FROM (\S+)", DOCKERFILE, re.M) == ["python:3.12-slim", "python:3.12-slim"]
    assert "USER 10001:10001" in DOCKERFILE.splitlines()
    assert "--uid 10001 --gid 10001 --no-create-home" in DOCKERFILE
    assert "PYTHONDONTWRITEBYTECODE=1" in DOCKERFILE and "PYTHONUNBUFFERED=1" in DOCKERFILE
    assert 'ENTRYPOINT ["ork"]' in DOCKERFILE
    assert 'CMD ["run", "-f", "/etc/orkestra/katalog/katalog.yaml"]' in DOCKERFILE
    assert "EXPOSE 8080 8443 8081" in DOCKERFILE
    final = DOCKERFILE.split("\nFROM ")[-1]
    assert "pip wheel" not in final and "rm -rf /tmp/wheels" in final   # no build step, no wheel left behind


def test_every_copied_path_exists_and_passes_dockerignore():
    sources = build_stage_copies()
    assert sources == ["setup.cfg", "pyproject.toml", "README.md", "orkestra"]
    for source in sources:
        assert (REPO / source).exists(), source
        assert admitted_by_dockerignore(source), f"{source} is copied but .dockerignore excludes it"
    assert not admitted_by_dockerignore("tests")
    assert not admitted_by_dockerignore(".venv")
    for raw in (REPO / ".dockerignore").read_text().splitlines():   # every re-included path exists
        if raw.startswith("!"):
            assert (REPO / raw[1:].rstrip("/")).exists(), raw


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtualenv with only the wheel built from the Dockerfile's copies (its deps come
    from the test virtualenv through a .pth file, so nothing is downloaded)."""
    tmp = tmp_path_factory.mktemp("image")
    src = tmp / "src"
    src.mkdir()
    for source in build_stage_copies():
        origin = REPO / source
        if origin.is_dir():
            shutil.copytree(origin, src / source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(origin, src / source)
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp / "wheels"),
                    str(src)], check=True, capture_output=True)
    venv = tmp / "venv"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], check=True)
    wheel = next((tmp / "wheels").glob("orkestra-*.whl"))
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "zz_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_the_installed_wheel_runs_ork_without_writing_anything(installed, tmp_path):
    env = {"PATH": f"{installed / 'bin'}:/usr/bin:/bin", "HOME": "/nonexistent", "PYTHONDONTWRITEBYTECODE": "1",
           "NO_COLOR": "1"}
    before = _tree(installed)

    def ork(*args: str, cwd: Path) -> subprocess.CompletedProcess:
        return subprocess.run([str(installed / "bin" / "ork"), *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=120)

    where = subprocess.run([str(installed / "bin" / "python"), "-c", "import orkestra; print(orkestra.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(installed)), where      # the wheel, not the source checkout

    version = ork("version", cwd=tmp_path)
    assert version.returncode == 0, version.stderr
    assert re.fullmatch(r"ork \S+ \(python 3\.\d+\.\d+, kubernetes client \S+\)\n", version.stdout)

    # The README's path for a new user: a pack from the package data, then an offline validate.
    init = ork("init", "demo", "--pack", "beginner", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    validate = ork("validate", cwd=tmp_path / "demo")     # the literal command: every example
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert validate.stdout.splitlines()[-1] == "3 examples: 3 valid, 0 invalid"

    hooks = ork("init", "sr", "--pack", "resilience/safe-reconcile", cwd=tmp_path)
    assert hooks.returncode == 0, hooks.stderr
    assert ork("validate", cwd=tmp_path / "sr").returncode == 0     # imports hooks/app_hooks.py
    assert not list((tmp_path / "sr").rglob("__pycache__"))

    assert _tree(installed) == before, "running ork wrote into the installation (the image's read-only root)"
    assert sorted(os.listdir(tmp_path)) == ["demo", "sr"]
