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
        answered(at("2"), at("1"))
    assert not own.caused("ns/a", at("2"), at("3"), requeue)     # someone else, after our write
    assert own.caused("ns/a", at("1"), at("2"), requeue)
    assert not own.caused("ns/a", at("1"), at("2"), requeue)     # consumed
    assert requeue.count == 0


def test_an_event_before_the_answer_is_held_then_dropped_if_it_is_the_write():
    own, requeue = OwnWrites(), Requeues()
    with own.writing("ns/a", at("1")) as answered:
        assert own.caused("ns/a", at("1"), at("2"), requeue)      # held
        answered(at("2"), at("1"))
    assert requeue.count == 0


def test_a_held_event_of_another_writer_is_queued_when_the_answer_comes():
    own, requeue = OwnWrites(), Requeues()
    with own.writing("ns/a", at("1")) as answered:
        assert own.caused("ns/a", at("1"), at("2"), requeue)      # someone else wrote first
        answered(at("3"), None)                                   # ours, unguarded, went on top of theirs
    assert requeue.count == 1
    assert not own.caused("ns/a", at("2"), at("3"), requeue)      # and ours did not start from 1


def test_a_write_from_an_object_without_resource_version_is_simply_not_recorded():
    own, requeue = OwnWrites(), Requeues()
    with own.writing("ns/a", {"metadata": {"name": "a"}}) as answered:
        answered(at("2"), {"metadata": {"name": "a"}})
    assert not own.caused("ns/a", at("1"), at("2"), requeue) and requeue.count == 0


def test_a_held_event_is_queued_when_the_write_fails():
    own, requeue = OwnWrites(), Requeues()
    with pytest.raises(RuntimeError):
        with own.writing("ns/a", at("1")):
            assert own.caused("ns/a", at("1"), at("2"), requeue)
            raise RuntimeError("409")
    assert requeue.count == 1


def test_a_new_crs_own_metadata_writes_are_all_recognised():
    """The reconcile of a new CR patches its metadata (finalizers, labels, katalog annotation and
    child record, in one write since issue 15): replaying the CR's versions as the informer would see them, no update is
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
    assert len(versions) == 2          # the CR as created, then after its one metadata write
    requeue = Requeues()
    for old, new in zip(versions, versions[1:]):
        assert s.rec.own_writes.caused("default/site", old, new, requeue)
    assert requeue.count == 0


# --- review: a write that did not start from the version the reconcile read -------------------------
def _stale_cache_then_external_label(**entry_kw) -> tuple[Setup, dict]:
    """The reconcile reads version v1 from its cache while someone else already wrote v2."""
    s = Setup(**entry_kw)
    s.create()
    s.runtime.sync()
    read = s.api.object(WEBSITES, "site", "default")
    s.api.patch(WEBSITES, "site", {"metadata": {"labels": {"someone": "else"}}}, "default")
    return s, read


def _reconcile_on_the_stale_cache(s: Setup) -> list[dict]:
    """Reconcile without refreshing the cache; returns the CR versions its metadata writes answered."""
    import threading
    answers: list[dict] = []
    patch = s.api.patch

    def recording_patch(gvr, name, body, namespace=None, patch_type="merge", subresource=None):
        out = patch(gvr, name, body, namespace, patch_type, subresource)
        if gvr == WEBSITES and subresource is None:
            answers.append(out)
        return out

    s.api.patch = recording_patch
    s.rec.reconcile("default/site", threading.Event())
    return answers


def test_a_guarded_write_retried_on_a_newer_version_never_claims_the_jump_over_it():
    """The finalizer patch fails its resourceVersion test, is recomputed on v2 and lands as v3. A
    relist that saw v1 and now v3 carries the other writer's v2: it must queue."""
    s, read = _stale_cache_then_external_label(finalizers=["example.com/cleanup"])
    now = _reconcile_on_the_stale_cache(s)[0]
    assert "example.com/cleanup" in now["metadata"]["finalizers"]
    assert not s.rec.own_writes.caused("default/site", read, now, Requeues())


def test_a_metadata_write_over_someone_elses_newer_version_never_claims_the_jump_over_it():
    """The same for the step-5 metadata write (labels, katalog annotation): it must not land
    unguarded over v2 and then be remembered as v1 -> v3."""
    s, read = _stale_cache_then_external_label(labels={"team": "web"})
    now = _reconcile_on_the_stale_cache(s)[-1]
    assert now["metadata"]["labels"] == {"someone": "else", "team": "web"}
    assert not s.rec.own_writes.caused("default/site", read, now, Requeues())


def test_the_retried_write_itself_is_still_recognised_by_its_real_pair():
    own, requeue = OwnWrites(), Requeues()
    with own.writing("ns/a", at("1")) as answered:
        assert own.caused("ns/a", at("1"), at("2"), requeue)      # the other writer's update: held
        answered(at("3"), at("2"))                                # recomputed on 2, landed as 3
    assert requeue.count == 1                                     # theirs queued
    assert not own.caused("ns/a", at("1"), at("3"), requeue)      # no jump over theirs
    assert own.caused("ns/a", at("2"), at("3"), requeue)          # ours, when it comes


def test_an_unguarded_write_is_never_claimed():
    own, requeue = OwnWrites(), Requeues()
    with own.writing("ns/a", at("1")) as answered:
        assert own.caused("ns/a", at("1"), at("2"), requeue)
        answered(at("2"), None)                                   # base unknown: may have landed over a newer one
    assert requeue.count == 1
    assert not own.caused("ns/a", at("1"), at("2"), requeue)


class _AnswerOnFirstRelease:
    """A lock that runs `then` once, right after its first release: the write's answer landing
    on the worker between two steps of the informer thread's `caused`."""

    def __init__(self, then) -> None:
        import threading
        self._lock, self._then = threading.Lock(), then

    def __enter__(self):
        self._lock.acquire()

    def __exit__(self, *exc):
        self._lock.release()
        then, self._then = self._then, None
        if then is not None:
            then()


def test_an_answer_landing_while_the_event_is_looked_at_neither_queues_it_nor_leaves_its_pair():
    from contextlib import ExitStack
    own, requeue = OwnWrites(), Requeues()
    with ExitStack() as stack:
        answered = stack.enter_context(own.writing("ns/a", at("1")))

        def answer() -> None:
            answered(at("2"), at("1"))
            stack.close()

        own._lock = _AnswerOnFirstRelease(answer)
        mine = own.caused("ns/a", at("1"), at("2"), requeue)
    assert (mine, requeue.count) == (True, 0)
    assert own._pairs == {}          # the pair was used, not left behind


def test_a_held_event_is_queued_when_the_cr_is_deleted_under_the_write_and_nothing_is_left_held():
    own, requeue = OwnWrites(), Requeues()
    with own.writing("ns/a", at("1")) as answered:
        assert own.caused("ns/a", at("1"), at("2"), requeue)      # the deletion's update
        own.forget("ns/a")                                         # then the delete event
        answered(None, at("1"))                                   # patch_cr: None, the CR is gone
    assert requeue.count == 1
    assert (own._held, own._flying, own._pairs) == ({}, {}, {})


def test_a_resync_during_a_write_is_held_and_then_queued():
    own, requeue = OwnWrites(), Requeues()
    with own.writing("ns/a", at("1")) as answered:
        assert own.caused("ns/a", at("1"), at("1"), requeue)      # resync: same version
        answered(at("2"), at("1"))
    assert requeue.count == 1


def test_nothing_stays_held_or_in_flight_after_a_failed_write():
    own, requeue = OwnWrites(), Requeues()
    for _ in range(3):
        with pytest.raises(TimeoutError):
            with own.writing("ns/a", at("1")):
                own.caused("ns/a", at("1"), at("2"), requeue)
                raise TimeoutError("no answer")
    assert requeue.count == 3 and (own._held, own._flying) == ({}, {})
    assert not own.caused("ns/a", at("1"), at("2"), requeue)      # no write in flight: queued at once
