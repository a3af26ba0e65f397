"""`ork gate` (docs/cli.md#ork-gate): output layout, exit codes, entry matching, offline `unique`."""
import textwrap

import pytest
from click.testing import CliRunner

from orkestra.cli.main import cli

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: guarded-services}
spec:
  crds:
    service-app:
      apiTypes: {group: apps.example.io, version: v1, kind: ServiceApp, plural: serviceapps}
      validation:
        rules:
          - {field: spec.image, prefix: "registry.internal/", message: "images must come from registry.internal/"}
          - {field: spec.replicas, between: "1,20", message: "replicas must be between 1 and 20"}
          - {field: metadata.labels.team, exists: true, action: warn, message: "declare a team owner label"}
          - field: spec.approvalTicket
            regex: "^CHG-[0-9]{6}$"
            message: "production changes need a CHG-nnnnnn ticket"
            when: [{field: spec.environment, equals: production}]
          - {field: spec.hostname, unique: true, message: "hostname already used by another ServiceApp"}
      mutation:
        mutateFirst: true
        rules:
          - {field: spec.replicas, default: 2}
          - {field: spec.environment, default: development}
          - {field: metadata.labels.tier, override: backend}
    labelled:
      apiTypes: {group: apps.example.io, version: v1, kind: Gadget, plural: gadgets}
      labelSelector: {managed: "yes"}
      validation:
        rules:
          - {field: spec.size, max: 3, message: "size at most 3"}
          - {field: "{{ required \\"needs a colour\\" .spec.colour }}", exists: true, message: "colour"}
      mutation:
        rules:
          - {field: spec.size.value, default: 1}
"""

PAYMENTS = """\
apiVersion: apps.example.io/v1
kind: ServiceApp
metadata: {name: payments, namespace: default}
spec:
  image: registry.internal/payments:1.4
  replicas: 40
  hostname: pay.example.com
"""

SAMPLE = """\
◆ service-app  (ServiceApp apps.example.io/v1)  default/payments
  mutations
    ↳ spec.environment       (absent) → development  default
    ↳ metadata.labels.tier   (absent) → backend      override
  validation
    ✓ spec.image             images must come from registry.internal/
    ✗ spec.replicas          replicas must be between 1 and 20 (got: "40")
    ⚠ metadata.labels.team   declare a team owner label
    – spec.hostname          unique: skipped (needs a cluster)
  denied — 1 of 3 rules passed · 1 denial · 1 warning
"""


@pytest.fixture
def files(tmp_path):
    katalog = tmp_path / "katalog.yaml"
    katalog.write_text(KATALOG)

    def write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return str(path)
    write.katalog = str(katalog)
    return write


def gate(*args, stdin=None):
    return CliRunner().invoke(cli, ["gate", *args], input=stdin)


def test_spec_sample_layout_and_denied_exit(files):
    result = gate("-f", files.katalog, "--cr", files("cr.yaml", PAYMENTS))
    assert result.exit_code == 1
    assert result.stdout == SAMPLE


def test_allowed_document_exits_zero_and_counts_only_evaluated_rules(files):
    cr = files("ok.yaml", """\
        apiVersion: apps.example.io/v1
        kind: ServiceApp
        metadata: {name: ok, namespace: shop, labels: {team: core, tier: backend}}
        spec: {image: registry.internal/a, replicas: 3, environment: production, approvalTicket: CHG-123456}
        """)
    result = gate("-f", files.katalog, "--cr", cr)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "◆ service-app  (ServiceApp apps.example.io/v1)  shop/ok"
    assert lines[1:3] == ["  mutations", "    (no changes)"]
    assert "    ✓ spec.approvalTicket    production changes need a CHG-nnnnnn ticket" in lines
    assert lines[-1] == "  allowed — 4 of 4 rules passed"


def test_every_document_gets_a_block_and_one_denial_fails_the_run(files):
    fine = textwrap.dedent("""\
        apiVersion: apps.example.io/v1
        kind: ServiceApp
        metadata: {name: fine, labels: {team: t}}
        spec: {image: registry.internal/a, replicas: 1}
        """)
    cr = files("two.yaml", fine + "---\n" + PAYMENTS)
    result = gate("-f", files.katalog, "--cr", cr)
    assert result.exit_code == 1
    blocks = result.stdout.split("\n\n")
    assert len(blocks) == 2
    assert blocks[0].startswith("◆ service-app  (ServiceApp apps.example.io/v1)  default/fine")
    assert blocks[0].rstrip().endswith("allowed — 3 of 3 rules passed")
    assert blocks[1] == SAMPLE


def test_stdin_and_default_katalog_in_cwd(files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = gate("--cr", "-", stdin=PAYMENTS)
    assert result.exit_code == 1 and result.stdout == SAMPLE


def test_selector_mismatch_is_allowed_without_rules(files):
    cr = files("gadget.yaml", """\
        apiVersion: apps.example.io/v1
        kind: Gadget
        metadata: {name: g, namespace: default}
        spec: {size: 9}
        """)
    result = gate("-f", files.katalog, "--cr", cr)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1] == "  not selected by this entry's namespace or labelSelector: allowed"


def test_mutation_and_evaluation_errors_are_reported_not_raised(files):
    cr = files("gadget.yaml", """\
        apiVersion: apps.example.io/v1
        kind: Gadget
        metadata: {name: g, namespace: default, labels: {managed: "yes"}}
        spec: {size: 9}
        """)
    result = gate("-f", files.katalog, "--cr", cr)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[2] == '    ⚠ mutation skipped: cannot set "spec.size.value": /spec/size is a number at "value"'
    assert lines[4].startswith("    ✗ spec.size")
    assert lines[4].endswith('size at most 3 (got: "9")')
    assert "could not be evaluated: " in lines[5] and "needs a colour" in lines[5]
    assert lines[-1] == "  denied — 0 of 2 rules passed · 1 denial · 1 warning"


def test_crd_option_chooses_the_entry(files):
    cr = files("other.yaml", """\
        apiVersion: example.io/v9
        kind: Unrelated
        metadata: {name: u}
        spec: {image: registry.internal/x, replicas: 2}
        """)
    result = gate("-f", files.katalog, "--cr", cr, "--crd", "service-app")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("◆ service-app  (ServiceApp apps.example.io/v1)  default/u\n")


@pytest.mark.parametrize("name, text, extra, message", [
    ("unknown.yaml", "apiVersion: v1\nkind: Foo\nmetadata: {name: x}\n", [],
     "error: unknown kind: no Katalog entry for Foo v1 (default/x); pass --crd to choose one"),
    ("cr.yaml", PAYMENTS, ["--crd", "nope"], 'error: unknown CRD "nope" (the Katalog has: labelled, service-app)'),
    ("list.yaml", "- a\n- b\n", [], "document 1 is not a Kubernetes object (apiVersion and kind are required)"),
    ("empty.yaml", "", [], "no YAML documents"),
    ("broken.yaml", "a: [\n", [], "cannot read"),
    ("meta.yaml", "apiVersion: apps.example.io/v1\nkind: ServiceApp\nmetadata: 5\n", [],
     "document 1: metadata must be a map"),
])
def test_bad_input_exits_two_with_a_message(files, name, text, extra, message):
    result = gate("-f", files.katalog, "--cr", files(name, text), *extra)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_missing_cr_file(files, tmp_path):
    result = gate("-f", files.katalog, "--cr", str(tmp_path / "absent.yaml"))
    assert result.exit_code == 2 and "cannot read" in result.stderr


def test_invalid_katalog_exits_two_with_issues(files):
    bad = files("bad.yaml", """\
        apiVersion: orkestra.orkspace.io/v1
        kind: Katalog
        metadata: {name: broken}
        spec:
          crds:
            app:
              apiTypes: {group: a.io, version: v1, kind: App, plural: apps}
              validation:
                rules:
                  - {field: spec.x, equal: 1, message: m}
        """)
    result = gate("-f", bad, "--cr", files("cr.yaml", PAYMENTS))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: invalid Katalog:\n")
    assert "rules[0].equal" in result.stderr and '(did you mean "equals"?)' in result.stderr


def test_no_katalog_found(files, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    result = gate("--cr", files("cr.yaml", PAYMENTS))
    assert result.exit_code == 2
    assert f"no Katalog found: pass -f or create katalog.yaml or komposer.yaml in {empty}" in result.stderr


def test_rules_the_loader_accepts_but_that_do_not_compile_exit_two(files):
    bad = files("uncompilable.yaml", """\
        apiVersion: orkestra.orkspace.io/v1
        kind: Katalog
        metadata: {name: m}
        spec:
          crds:
            app:
              apiTypes: {group: a.io, version: v1, kind: App, plural: apps}
              mutation:
                rules:
                  - {field: spec.x, default: abc, valueType: int}
        """)
    cr = files("app.yaml", "apiVersion: a.io/v1\nkind: App\nmetadata: {name: a}\n")
    result = gate("-f", bad, "--cr", cr)
    assert result.exit_code == 2 and result.stdout == ""
    assert 'spec.crds.app.mutation.rules[0].default: "abc" is not a valid int' in result.stderr
