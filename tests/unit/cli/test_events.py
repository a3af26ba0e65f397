"""`ork events` table (docs/cli.md#ork-events): pure formatting, sorting, tail and selector."""
from datetime import datetime, timezone

from click.testing import CliRunner

from orkestra.cli.events import cut_message, events, field_selector, render_table

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def ev(reason, message, ts, *, type_="Normal", name="site-a", namespace="default"):
    return {"type": type_, "reason": reason, "message": message, "lastTimestamp": ts,
            "involvedObject": {"kind": "Website", "name": name, "namespace": namespace}}


def test_table_matches_the_spec_layout():
    # Column layout of docs/cli.md#ork-events; ages use the project's human_age (two units: `6m1s`).
    table = render_table([
        ev("Reconciled", "reconciled generation 1: created Deployment default/site-a-deployment", "2026-03-01T11:54:00Z"),
        ev("FinalizerAdded", "added finalizer orkestra.io/finalizer", "2026-03-01T11:53:59Z"),
        ev("ReconcileError", "reconciler panic: AttributeError: 'NoneType' object has no attribute 'endpoint'",
           "2026-03-01T11:59:48Z", type_="Warning", name="site-b"),
    ], now=NOW, tail=25)
    assert table.splitlines() == [
        "TYPE     REASON          OBJECT                  MESSAGE                                                  AGE",
        "Normal   FinalizerAdded  default/Website/site-a  added finalizer orkestra.io/finalizer                    6m1s",
        "Normal   Reconciled      default/Website/site-a  reconciled generation 1: created Deployment default/s…   6m0s",
        "Warning  ReconcileError  default/Website/site-b  reconciler panic: AttributeError: 'NoneType' object h…   12s",
    ]


def test_tail_keeps_the_newest_and_says_so():
    items = [ev("Reconciled", f"m{i}", f"2026-03-01T11:{i:02d}:00Z") for i in range(31)]
    lines = render_table(items, now=NOW, tail=25).splitlines()
    assert len(lines) == 1 + 25 + 1
    assert "m6 " in lines[1] and "m30 " in lines[25]
    assert lines[-1] == "(showing last 25 of 31 events — use --tail to see more)"
    assert len(render_table(items, now=NOW, tail=0).splitlines()) == 32


def test_cluster_scoped_objects_and_cut_messages():
    row = render_table([ev("Deleting", "x", "2026-03-01T11:59:00Z", namespace=None)], now=NOW, tail=0).splitlines()[1]
    assert "Website/site-a " in row and row.endswith("  1m0s")
    assert cut_message("a" * 55) == "a" * 55
    assert cut_message("a" * 56) == "a" * 53 + "…"


def test_field_selector():
    assert field_selector("Website", None) == "involvedObject.kind=Website"
    assert field_selector("Website", "a") == "involvedObject.kind=Website,involvedObject.name=a"


def test_namespace_flags_are_exclusive():
    result = CliRunner().invoke(events, ["website", "-n", "x", "-A"])
    assert result.exit_code == 2 and "mutually exclusive" in result.output
