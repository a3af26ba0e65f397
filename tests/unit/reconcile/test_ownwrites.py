"""`OwnWrites` (issue 15): the update event of the reconciler's own CR write queues nothing, any
other update does, also when the event comes before the write's answer."""
from __future__ import annotations

import pytest

from orkestra.reconcile.ownwrites import OwnWrites
from tests.unit.reconcile.test_reconciler import CONFIGMAPS, WEBSITES, Setup


def at(rv: str) -> dict:
    return {"metadata": {"name": "a", "namespace": "ns", "resourceVersion": rv}}


class Requeues:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def test_an_answered_write_matches_its_own_event_once_and_nothing_else():
    own, requeue = OwnWrites(), Requeues()
    with own.writing("ns/a", at("1")) as answered:
        answered(at("2"))
    assert not own.caused("ns/a", at("2"), at("3"), requeue)     # someone else, after our write
    assert own.caused("ns/a", at("1"), at("2"), requeue)
    assert not own.caused("ns/a", at("1"), at("2"), requeue)     # consumed
    assert requeue.count == 0


def test_an_event_before_the_answer_is_held_then_dropped_if_it_is_the_write():
    own, requeue = OwnWrites(), Requeues()
    with own.writing("ns/a", at("1")) as answered:
        assert own.caused("ns/a", at("1"), at("2"), requeue)      # held
        answered(at("2"))
    assert requeue.count == 0


def test_a_held_event_of_another_writer_is_queued_when_the_answer_comes():
    own, requeue = OwnWrites(), Requeues()
    with own.writing("ns/a", at("1")) as answered:
        assert own.caused("ns/a", at("1"), at("2"), requeue)      # someone else wrote first
        answered(at("3"))                                         # ours went on top of theirs
    assert requeue.count == 1
    assert not own.caused("ns/a", at("2"), at("3"), requeue)      # and ours did not start from 1


def test_a_write_from_an_object_without_resource_version_is_simply_not_recorded():
    own, requeue = OwnWrites(), Requeues()
    with own.writing("ns/a", {"metadata": {"name": "a"}}) as answered:
        answered(at("2"))
    assert not own.caused("ns/a", at("1"), at("2"), requeue) and requeue.count == 0


def test_a_held_event_is_queued_when_the_write_fails():
    own, requeue = OwnWrites(), Requeues()
    with pytest.raises(RuntimeError):
        with own.writing("ns/a", at("1")):
            assert own.caused("ns/a", at("1"), at("2"), requeue)
            raise RuntimeError("409")
    assert requeue.count == 1


def test_a_new_crs_own_metadata_writes_are_all_recognised():
    """The reconcile of a new CR patches its metadata (finalizers, then labels, katalog annotation
    and child record): replaying the CR's versions as the informer would see them, no update is
    left to queue it."""
    s = Setup(templates={"onReconcile": {"configMaps": [{"data": {"a": "b"}}]}}, labels={"team": "web"},
              finalizers=["example.com/cleanup"])
    s.runtime.child_informer_gvrs = lambda: [CONFIGMAPS]
    s.create()
    versions = [s.api.object(WEBSITES, "site", "default")]
    patch = s.api.patch

    def recording_patch(gvr, name, body, namespace=None, patch_type="merge", subresource=None):
        out = patch(gvr, name, body, namespace, patch_type, subresource)
        if gvr == WEBSITES and subresource is None:
            versions.append(out)
        return out

    s.api.patch = recording_patch
    s.reconcile()
    assert len(versions) == 3          # the finalizers, then the metadata with the child record
    requeue = Requeues()
    for old, new in zip(versions, versions[1:]):
        assert s.rec.own_writes.caused("default/site", old, new, requeue)
    assert requeue.count == 0
