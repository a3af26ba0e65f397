"""docs/rbac.md's removal table lists exactly the rules the bundle generator produces for its
reference Katalog, so a rule added to or dropped from the generator cannot go undocumented; what
each row says is checked against the runtime by tests/e2e/test_rbac_least_privilege.py."""
from __future__ import annotations

from pathlib import Path

from orkestra import packs
from orkestra.katalog.loader import load_katalog
from orkestra.katalog.rbac import derive, namespace_rules
from tests.e2e.rbac_identity import DOC, case_id, rbac_table

REFERENCE = Path(packs.__file__).parent / "beginner" / "hello-website" / "katalog.yaml"
PLACES = {"reconcile.lastError", "activeWarnings[events]", "activeWarnings[leaderElection]"}


def test_the_removal_table_lists_exactly_the_reference_bundle_rules():
    katalog = load_katalog([str(REFERENCE)])
    rules = [case_id("ClusterRole", r.to_k8s()) for r in derive(katalog, "runtime")]
    rules += [case_id("Role", r.to_k8s()) for r in namespace_rules(katalog, "runtime")]
    assert list(rbac_table(DOC)) == rules


def test_every_row_says_what_breaks_and_where_it_shows():
    for rule, row in rbac_table(DOC).items():
        assert row["without"] and "403" in row["log"], rule
        assert row["katalog"] in PLACES, f"{rule}: {row['katalog']!r} is not a place /katalog/<crd> has"
