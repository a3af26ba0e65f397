"""`ork init`: list, unpack a pack or one example, never overwrite without --force (docs/cli.md)."""
from __future__ import annotations

from click.testing import CliRunner

from orkestra import packs
from orkestra.cli.main import cli


def run(*args: str):
    return CliRunner().invoke(cli, ["init", *args])


def test_list_prints_every_pack_with_its_examples_and_the_default():
    result = run("--list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "Packs (ork init [DIR] --pack NAME)"
    assert lines[1] == "  beginner       First CRDs: a Deployment, a Service, copying Secrets (default)"
    assert lines[2] == "                 hello-website · website-with-service · secret-copy"
    assert "  resilience     Failure isolation, leader failover, CRD loss and recovery" in lines
    assert len(lines) == 1 + 2 * len(packs.index())


def test_no_arguments_writes_the_hello_website_starter_into_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run()
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "cr.yaml", "crd.yaml", "katalog.yaml"]
    assert "kind: Website" in (tmp_path / "crd.yaml").read_text()
    assert result.output.splitlines() == ["Created README.md, katalog.yaml, crd.yaml, cr.yaml",
                                          "Next: kubectl apply -f crd.yaml && ork run"]


def test_a_pack_unpacks_every_example_under_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("demo", "--pack", "beginner")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["hello-website", "secret-copy",
                                                                     "website-with-service"]
    assert "Created demo/hello-website/ (README.md, katalog.yaml, crd.yaml, cr.yaml)" in result.output
    assert result.output.splitlines()[-1] == ("Next: cd demo && ork validate, "
                                              "then cd into an example and follow its README.md")


def test_a_pack_without_dir_goes_to_a_directory_named_after_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("--pack", "security").exit_code == 0
    assert (tmp_path / "security" / "admission" / "bad-cr.yaml").is_file()


def test_an_example_path_unpacks_one_example_with_its_hooks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("--pack", "resilience/safe-reconcile")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [   # word for word the example of docs/cli.md#ork-init
        "Created safe-reconcile/ (README.md, katalog.yaml, crd.yaml, cr.yaml, hooks/app_hooks.py)",
        "Next: cd safe-reconcile && kubectl apply -f crd.yaml && ork run"]
    assert not (tmp_path / "safe-reconcile" / "expect.yaml").exists()   # the pack test's fixture stays inside
    assert "config.endpoint" in (tmp_path / "safe-reconcile" / "hooks" / "app_hooks.py").read_text()


def test_an_unknown_pack_or_example_fails_with_the_hint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("expert", "beginner/nope"):
        result = run("--pack", name)
        assert result.exit_code == 1
        assert f'unknown pack "{name}" — run ork init --list' in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_never_overwritten_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "hello"
    target.mkdir()
    (target / "katalog.yaml").write_text("mine\n")
    result = run("hello", "--pack", "beginner/hello-website")
    assert result.exit_code == 1
    assert result.output == "refusing to overwrite hello/katalog.yaml (use --force)\n"
    assert sorted(p.name for p in target.iterdir()) == ["katalog.yaml"]   # the check comes before any write
    assert (target / "katalog.yaml").read_text() == "mine\n"


def test_force_overwrites(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "katalog.yaml").write_text("mine\n")
    assert run().exit_code == 1
    result = run("--force")
    assert result.exit_code == 0, result.output
    assert "kind: Katalog" in (tmp_path / "katalog.yaml").read_text()


def test_a_pack_into_the_current_directory_needs_no_cd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(".", "--pack", "beginner")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "secret-copy" / "katalog.yaml").is_file()
    assert result.output.splitlines()[-1] == "Next: ork validate, then cd into an example and follow its README.md"
