from __future__ import annotations

import glob
import textwrap

import pytest
from click.testing import CliRunner

from orkestra.config import CliSettings
from orkestra.cli.main import cli

HEAD = "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: shop-platform}\n"


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, list(args), env=env or {})


@pytest.mark.parametrize("path", sorted(glob.glob("examples/*.yaml")))
def test_every_example_prints_the_block_layout_and_exits_0(path):
    result = run("validate", "-f", path)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"Validating {path} (Katalog ")
    assert lines[1] == ""
    blocks = [line for line in lines if line and line[0] in "✓⚠✗○"]
    assert blocks and all(b[0] in "✓⚠" for b in blocks)
    assert [b[2:] for b in blocks] == sorted(b[2:] for b in blocks)
    assert "─" * 60 in lines
    assert lines[-1].startswith(f"{len(blocks)} CRD")
    assert "Traceback" not in result.output


def test_tenant_stack_block_contents():
    out = run("validate", "-f", "examples/tenant-stack.yaml").output
    assert textwrap.dedent("""\
        ✓ application
            kind: Application
            group: platform.example.io / version: v1 / plural: applications / scope: Namespaced
            mode: dynamic / workers: 3 / resync: 15s
            dependsOn: database [healthy], tenant [started]
        """) in out
    assert "scope: Cluster" in out
    assert out.endswith("3 CRDs: 3 valid, 0 invalid (0 built-in, 3 custom)\n")


def test_circular_dependency_prints_cross_blocks_and_fails(tmp_path):
    path = tmp_path / "katalog.yaml"
    path.write_text(HEAD + textwrap.dedent("""\
        spec:
          crds:
            application:
              apiTypes: {group: a.io, version: v1, kind: App, plural: apps}
              dependsOn: [namespace]
            namespace:
              apiTypes: {group: a.io, version: v1, kind: Ns, plural: nss}
              dependsOn: {application: healthy}
            deployment-governance:
              apiTypes: {kind: Deployment}
              operatorBox:
                reconciler: {workers: 2, resync: 1m}
                onReconcile: {configMaps: [{data: {a: b}}]}
              validation: {rules: [{field: spec.replicas, max: 50, message: too many}]}
              mutation: {rules: [{field: metadata.labels.x, default: y}]}
        """))
    result = run("validate", "-f", str(path))
    assert result.exit_code == 1
    out = result.output
    assert f"✗ application\n    error: {path}:6:5: circular dependency: application → namespace → application\n" in out
    assert f"✗ namespace\n    error: {path}:9:5: circular dependency: application → namespace → application\n" in out
    assert textwrap.dedent("""\
        ⚠ deployment-governance
            kind: Deployment → enriched from built-in registry
            group: apps / version: v1 / plural: deployments / scope: Namespaced
            mode: dynamic / workers: 2 / resync: 1m
            validation: 1 rule / mutation: 1 rule
        """) in out
    assert "    warning: " in out and "onReconcile acts on every Deployment: set labelSelector to narrow it" in out
    assert out.endswith("3 CRDs: 1 valid, 2 invalid (1 built-in, 2 custom) · 1 warning\n")


def test_file_level_errors_come_first_and_disabled_entries(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text(HEAD + "bogus: 1\nsecurity: {deletionProtection: {strictMode: true}}\nspec:\n  crds:\n"
                    "    off-entry:\n      apiTypes: {kind: ConfigMap}\n      enabled: false\n"
                    "    web:\n      apiTypes: {group: d.io, version: v1, kind: W, plural: ws}\n")
    out = run("validate", "-f", str(path)).output
    lines = out.splitlines()
    assert lines[2] == f"✗ {path}"
    assert lines[3] == f'    error: {path}:4:1: unknown field "bogus"'
    assert "○ off-entry (disabled)\n    kind: ConfigMap\n" in out
    assert "    protection: full (CRD + CRs) · strict\n" in out


def test_yaml_syntax_errors_and_missing_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec: [\n")
    result = run("validate", "-f", str(bad))
    assert result.exit_code == 1
    assert f"✗ {bad}\n    error: {bad}:2:1: invalid YAML" in result.output
    result = run("validate", "-f", str(tmp_path / "none.yaml"))
    assert result.exit_code == 1 and f"file not found: {tmp_path / 'none.yaml'}" in result.output


def test_default_file_discovery(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("validate")
    assert result.exit_code == 1
    assert result.output == f"no Katalog found: pass -f or create katalog.yaml or komposer.yaml in {tmp_path}\n"
    (tmp_path / "komposer.yaml").write_text(HEAD + "spec: {crds: {a: {apiTypes: {kind: Secret}, labelSelector: {a: b}}}}\n")
    assert run("validate").output.startswith("Validating komposer.yaml")
    (tmp_path / "katalog.yaml").write_text(HEAD + "spec: {crds: {}}\n")
    result = run("validate")
    assert result.output.startswith("Validating katalog.yaml")
    assert "⚠ katalog.yaml\n    warning: " in result.output and result.exit_code == 0


def test_comma_separated_and_repeated_files_merge():
    result = run("validate", "-f", "examples/hello-website.yaml,examples/tenant-stack.yaml", "-f",
                 "examples/cache-service.yaml")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("6 CRDs: 6 valid")


def test_full_adds_permissions_startup_order_and_roles():
    out = run("validate", "-f", "examples/tenant-stack.yaml", "--full").output
    assert "    permissions:\n      platform.example.io  applications  " in out
    assert "startup order\n  1  tenant\n  2  database       ← tenant [started]\n" \
           "  3  application    ← database [healthy] · tenant [started]\n" in out
    assert "runtime (ServiceAccount orkestra)\n  core                       events" in out
    assert "runtime (Role orkestra in orkestra-system)\n  coordination.k8s.io  leases" in out
    assert "← leader election" in out
    assert "gateway (ServiceAccount orkestra-gateway)\n  (no permissions: the Katalog declares no webhook feature)" in out
    assert "control center (ServiceAccount orkestra-cc)\n  (no permissions with ORK_API_AUTH=none: " \
           "the runtime HTTP API it reads checks no token)" in out
    assert "tokenreviews" not in out
    out = run("validate", "-f", "examples/guarded-services.yaml", "--full").output
    assert "gateway (Role orkestra-gateway in orkestra-system)\n  core  secrets  " in out
    assert "  core  secrets [orkestra-webhook-tls]" in out
    assert "← provisions and rotates the webhook certificate" in out


def test_full_shows_the_roles_ork_generate_writes_under_api_auth():
    """With ORK_API_AUTH=kubernetes (what `ork generate` reads when --api-auth is absent), --full
    prints the token-review grants and the Control Center's ClusterRole, URL by URL, instead of
    claiming the Control Center needs nothing."""
    out = run("validate", "-f", "examples/tenant-stack.yaml", "--full", env={"ORK_API_AUTH": "kubernetes"}).output
    runtime = out[out.index("runtime (ServiceAccount orkestra)"):out.index("gateway (ServiceAccount")]
    assert [line.split()[:3] for line in runtime.splitlines() if "reviews" in line] == [
        ["authentication.k8s.io", "tokenreviews", "create"], ["authorization.k8s.io", "subjectaccessreviews", "create"]]
    cc = out[out.index("control center (ServiceAccount orkestra-cc)"):out.index("─" * 10)].splitlines()[1:]
    assert "no permissions" not in "\n".join(cc)
    urls = [line.split()[1] for line in cc if line.split()[:1] == ["url"]]
    assert urls == ["/katalog", "/katalog/application", "/katalog/application/health", "/katalog/database",
                    "/katalog/database/health", "/katalog/tenant", "/katalog/tenant/health"]
    assert all(line.split()[2] == "get" for line in cc if line.split()[:1] == ["url"])
    assert any(line.split()[:4] == ["core", "events", "list", "←"] for line in cc)
    assert sum(line.split()[2:4] == ["get", "list"] for line in cc) == 3    # one per entry's kind


def test_no_colour_when_not_a_terminal():
    out = run("validate", "-f", "examples/hello-website.yaml").output
    assert "\x1b[" not in out and "✓ website" in out


def test_colour_only_on_a_terminal_without_no_color(monkeypatch):
    from orkestra.cli import validate as mod
    monkeypatch.setattr(mod.sys.stdout, "isatty", lambda: True, raising=False)
    assert mod.use_color(CliSettings.from_env({})) is True
    assert mod.use_color(CliSettings.from_env({"NO_COLOR": "1"})) is False
    monkeypatch.setattr(mod.sys.stdout, "isatty", lambda: False, raising=False)
    assert mod.use_color(CliSettings.from_env({})) is False
    from orkestra.katalog.loader import load_report
    coloured = mod.format_report(load_report(["examples/hello-website.yaml"]), color=True)
    assert "\x1b[32m✓\x1b[0m website" in coloured


def test_file_option_splits_commas_and_keeps_order(tmp_path):
    from orkestra.cli._katalog_files import resolve_katalog_files
    assert resolve_katalog_files(["a.yaml, b.yaml", "https://x/c.yaml"]) == ["a.yaml", "b.yaml", "https://x/c.yaml"]
    (tmp_path / "komposer.yaml").write_text("x")
    assert resolve_katalog_files([], cwd=str(tmp_path)) == [str(tmp_path / "komposer.yaml")]


def test_hooks_conversion_and_protection_lines(tmp_path):
    (tmp_path / "sitehooks.py").write_text("def factory():\n    def on_create(ctx, obj): pass\n"
                                           "    def on_reconcile(ctx, obj): pass\n"
                                           "    return {'on_create': on_create, 'on_reconcile': on_reconcile}\n")
    path = tmp_path / "k.yaml"
    path.write_text(HEAD + textwrap.dedent("""\
        security: {deletionProtection: {enabled: true}}
        spec:
          crds:
            crd-only:
              apiTypes: {group: a.io, version: v1, kind: A, plural: as}
              deletionProtection: {protectCRs: false}
              operatorBox: {reconciler: {hooks: {module: sitehooks, function: factory}}}
            crs-only:
              apiTypes: {group: b.io, version: v1, kind: B, plural: bs}
              deletionProtection: {protectCRD: false}
              conversion: {storageVersion: v1, paths: []}
            none:
              apiTypes: {group: c.io, version: v1, kind: C, plural: cs}
              deletionProtection: {protectCRD: false, protectCRs: false}
            builtin:
              apiTypes: {kind: Secret}
              labelSelector: {a: b}
        """))
    out = run("validate", "-f", str(path)).output
    assert "✓ builtin\n" in out and "    protection: label-based (built-in)\n" in out
    assert "    hooks: sitehooks:factory (on_create, on_reconcile)\n    protection: CRD only (CRs not protected)\n" in out
    assert "    conversion: storage v1\n    protection: CRs only (CRD not protected)\n" in out
    assert "    protection: none\n" in out


def test_multi_line_messages_are_indented():
    from orkestra.cli.validate import _issue_line
    from orkestra.katalog.issues import KatalogIssue
    issue = KatalogIssue("k.yaml", 3, 5, "p", "first line\nsecond line", "a")
    assert _issue_line("error", issue) == ["    error: k.yaml:3:5: first line", "      second line"]


def test_an_error_without_a_line_carries_the_file_prefix(tmp_path):
    """docs/katalog.md#reading-rules: when no line is known, the prefix is just `file:`."""
    from orkestra.cli.validate import _issue_line
    from orkestra.katalog.issues import KatalogIssue
    issue = KatalogIssue("k.yaml", None, None, "", "empty file", None)
    assert _issue_line("error", issue) == ["    error: k.yaml: empty file"]


def test_a_disabled_entry_prints_the_warnings_the_summary_counts(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text(HEAD + "spec:\n  crds:\n    parked:\n      enabled: false\n      apiTypes: {kind: ConfigMap}\n"
                    "      operatorBox: {reconciler: {queue: {onLimit: drop}}}\n")
    out = run("validate", "-f", str(path)).output
    assert "○ parked (disabled)\n    kind: ConfigMap\n    warning: " in out
    assert out.endswith("1 CRD: 1 valid, 0 invalid (1 built-in, 0 custom) · 1 warning\n")


def test_a_secret_copy_onto_its_own_source_fails_with_file_and_line(tmp_path):
    """Issue 9 item 1: the copy would adopt the user's Secret (and GC would delete it with the CR)."""
    path = tmp_path / "katalog.yaml"
    path.write_text(HEAD + textwrap.dedent("""\
        spec:
          crds:
            website:
              apiTypes: {group: demo.io, version: v1, kind: Website, plural: websites}
              operatorBox:
                onReconcile:
                  secrets:
                    - fromSecret: registry-creds
        """))
    result = run("validate", "-f", str(path))
    assert result.exit_code == 1
    assert (f"error: {path}:11:15: spec.crds.website.operatorBox.onReconcile.secrets[0]: this copy would be "
            "written onto its own source Secret") in result.output


def _unpack_beginner(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("init", "demo", "--pack", "beginner").exit_code == 0
    monkeypatch.chdir(tmp_path / "demo")
    return tmp_path / "demo"


def test_an_unpacked_pack_validates_every_example_under_a_header(tmp_path, monkeypatch):
    _unpack_beginner(tmp_path, monkeypatch)
    result = run("validate")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith("=== ")]
    assert [lines[i] for i in headers] == ["=== hello-website/", "=== secret-copy/", "=== website-with-service/"]
    for i in headers:   # each header is followed by the usual report of that example's Katalog
        example = lines[i][4:]
        assert lines[i + 1].startswith(f"Validating {example}katalog.yaml (Katalog ")
    assert lines.count("─" * 60) == 3
    assert lines[-1] == "3 examples: 3 valid, 0 invalid"


def test_an_unpacked_pack_exits_1_when_one_example_fails_and_still_checks_the_others(tmp_path, monkeypatch):
    demo = _unpack_beginner(tmp_path, monkeypatch)
    (demo / "secret-copy" / "katalog.yaml").write_text(HEAD + "spec: {crds: {x: {apiTypes: {kind: 3}}}}\n")
    result = run("validate")
    assert result.exit_code == 1
    assert "=== website-with-service/" in result.output   # the failure does not stop the loop
    assert "✗ x" in result.output
    assert result.output.splitlines()[-1] == "3 examples: 2 valid, 1 invalid (secret-copy)"


def test_a_katalog_in_the_directory_wins_over_its_subdirectories(tmp_path, monkeypatch):
    demo = _unpack_beginner(tmp_path, monkeypatch)
    (demo / "katalog.yaml").write_bytes((demo / "hello-website" / "katalog.yaml").read_bytes())
    result = run("validate")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Validating katalog.yaml (Katalog ")
    assert "===" not in result.output


def test_no_katalog_here_or_one_level_down_is_still_an_error(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    (tmp_path / "deeper" / "a").mkdir(parents=True)
    (tmp_path / "deeper" / "a" / "katalog.yaml").write_text(HEAD)   # two levels down: not an unpacked pack
    (tmp_path / "notes.txt").write_text("x")
    monkeypatch.chdir(tmp_path)
    result = run("validate")
    assert result.exit_code == 1
    assert result.output == f"no Katalog found: pass -f or create katalog.yaml or komposer.yaml in {tmp_path}\n"


def test_subdirectory_katalogs_prefers_katalog_yaml_and_skips_files(tmp_path):
    from orkestra.cli._katalog_files import subdirectory_katalogs
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "komposer.yaml").write_text("x")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "komposer.yaml").write_text("x")
    (tmp_path / "a" / "katalog.yaml").write_text("x")
    (tmp_path / "c").mkdir()
    (tmp_path / "katalog.yaml.d").write_text("x")
    assert subdirectory_katalogs(str(tmp_path)) == ["a/katalog.yaml", "b/komposer.yaml"]
    (tmp_path / "komposer.yaml").write_text("x")
    assert subdirectory_katalogs(str(tmp_path)) == []


def test_regex_re2_cannot_run_is_an_error_with_file_and_line(tmp_path):
    """Issue 16 item 5: patterns run on RE2; one it refuses names file:line and the reason."""
    path = tmp_path / "k.yaml"
    path.write_text(HEAD + "spec:\n  crds:\n    web:\n      apiTypes: {group: d.io, version: v1, kind: W, plural: ws}\n"
                    "      validation:\n        rules:\n          - field: spec.name\n"
                    "            regex: '^(\\w+)-\\1$'\n            message: twice\n")
    result = run("validate", "-f", str(path))
    assert result.exit_code == 1
    assert (f'{path}:11:13: spec.crds.web.validation.rules[0].regex: invalid regex "^(\\w+)-\\1$": '
            f'invalid escape sequence at "\\1" (RE2 syntax: no backreferences or lookarounds)') in result.output


def test_hook_modules_run_only_with_exec_hooks(tmp_path):
    """Issue 16 item 8: `ork validate` on an untrusted Katalog must not run its Python."""
    marker = tmp_path / "ran"
    (tmp_path / "cli_exec_hooks.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n"
                                                "def factory():\n    return {'on_delete': print}\n")
    path = tmp_path / "k.yaml"
    path.write_text(HEAD + textwrap.dedent("""\
        spec:
          crds:
            w:
              apiTypes: {group: a.io, version: v1, kind: A, plural: as}
              operatorBox: {reconciler: {hooks: {module: cli_exec_hooks, function: factory}}}
        """))
    result = run("validate", "-f", str(path))
    assert result.exit_code == 0 and "    hooks: cli_exec_hooks:factory (on_delete)\n" in result.output
    assert not marker.exists()
    result = run("validate", "-f", str(path), "--exec-hooks")
    assert result.exit_code == 0, result.output
    assert marker.exists()
