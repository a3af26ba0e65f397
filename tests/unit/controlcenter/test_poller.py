"""A poll cycle with a fake fetcher and clock: statuses, leader retries, gateway stats, history."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from orkestra.controlcenter.poller import Poller
from orkestra.controlcenter.tracker import RuntimeStatus
from tests.unit.controlcenter import samples
from tests.unit.controlcenter.fakes import Clock, FakeFetcher

A, B = "http://a:8080", "http://b:8080"


def _poller(fetcher: FakeFetcher, clock: Clock, urls=(A,), interval: float = 10) -> Poller:
    return Poller(tuple(urls), interval=interval, fetcher=fetcher, clock=clock)


def test_a_cycle_reads_every_runtime_and_marks_each_one():
    fetcher = FakeFetcher({**samples.documents(A), **samples.documents(B, leader=False)})
    poller = _poller(fetcher, Clock(), urls=(A, B, "http://gone:8080"))
    poller.poll_once()
    by_id = {t.rid: t for t in poller.trackers()}
    assert by_id["a-8080"].status is RuntimeStatus.ONLINE
    assert by_id["b-8080"].status is RuntimeStatus.STARTING
    gone = by_id["gone-8080"]
    assert gone.status is RuntimeStatus.OFFLINE and "Connection refused" in gone.last_error and gone.data is None
    assert set(by_id["a-8080"].data.details) == {"cache", "website"}
    assert by_id["a-8080"].data.health["website"]["isKonductor"] is True
    assert poller.cycles == 1 and poller.updated is not None


def test_offline_keeps_the_snapshot_and_returns_online_by_itself():
    docs = samples.documents(A)
    fetcher, clock = FakeFetcher(docs), Clock()
    poller = _poller(fetcher, clock)
    poller.poll_once()
    fetcher.docs = {}
    clock.advance(10)
    poller.poll_once()
    t = poller.trackers()[0]
    assert t.status is RuntimeStatus.OFFLINE and t.data.katalog["name"] == "website-operator"
    assert t.offline_since == clock.now
    fetcher.docs = docs
    clock.advance(10)
    poller.poll_once()
    assert poller.trackers()[0].status is RuntimeStatus.ONLINE


def test_per_crd_reads_are_retried_until_the_leader_answers():
    docs = samples.documents(A)
    answers = iter([(200, samples.health("website", leader=False)), (200, samples.health("website", leader=False)),
                    (200, samples.health("website", leader=True))])
    docs[f"{A}/katalog/website/health"] = lambda: next(answers)
    fetcher = FakeFetcher(docs)
    poller = _poller(fetcher, Clock())
    poller.poll_once()
    assert fetcher.calls.count(f"{A}/katalog/website/health") == 3
    assert poller.trackers()[0].data.health["website"]["isKonductor"] is True


def test_an_answer_that_is_not_a_katalog_marks_the_runtime_offline():
    fetcher = FakeFetcher({f"{A}/katalog": (200, {"crds": "nope"})})
    poller = _poller(fetcher, Clock())
    poller.poll_once()
    t = poller.trackers()[0]
    assert t.status is RuntimeStatus.OFFLINE and "not an Orkestra Katalog document" in t.last_error
    fetcher.docs = {f"{A}/katalog": (500, {"error": "internal error"})}
    poller.poll_once()
    assert poller.trackers()[0].last_error == f"HTTP 500 from {A}/katalog"


def test_gateway_stats_fill_the_blocks_the_runtime_leaves_empty():
    katalog = samples.katalog(crds=[samples.crd_summary("website")])
    katalog["gatewayEndpoint"] = "http://gw:8080"
    docs = samples.documents(A, katalog)
    gateway_detail = samples.detail("website")
    gateway_detail["admission"] = {"webhooksEnabled": True, "validationRules": 3, "denied": 2}
    docs["http://gw:8080/katalog/website"] = (200, gateway_detail)
    poller = _poller(FakeFetcher(docs), Clock())
    poller.poll_once()
    detail = poller.trackers()[0].data.details["website"]
    assert detail["admission"] == {"webhooksEnabled": True, "validationRules": 3, "denied": 2}


def test_history_is_kept_per_crd_from_accepted_snapshots():
    docs = samples.documents(A)
    fetcher, clock = FakeFetcher(docs), Clock()
    poller = _poller(fetcher, clock)
    poller.poll_once()
    katalog = docs[f"{A}/katalog"][1]
    katalog["crds"][1]["totalReconciles"] += 100
    katalog["crds"][1]["queueDepth"] = 7
    clock.advance(10)
    poller.poll_once()
    series = poller.history.series("a-8080", "website")
    assert series.reconcile_rate == [10.0] and series.queue_depth == [7.0]


def test_wait_for_cycle_wakes_up_after_the_next_cycle():
    poller = _poller(FakeFetcher(samples.documents(A)), Clock())
    seen: list[int] = []
    waiter = threading.Thread(target=lambda: seen.append(poller.wait_for_cycle(0, timeout=5)))
    waiter.start()
    poller.poll_once()
    waiter.join(timeout=5)
    assert seen == [1]
    assert poller.wait_for_cycle(1, timeout=0.01) == 1    # nothing new: returns at the timeout


def test_a_runtime_slower_than_its_budget_is_cut_off_and_shown_offline():
    """Every request of `slow` answers in 4 s, inside the 5 s timeout; its whole read may take
    15 s (three timeouts, the interval being shorter), so it is cut off after four requests."""
    clock = Clock()
    slow = "http://slow:8080"
    docs = {**samples.documents(A), **samples.documents(slow)}

    def after_4s(answer):
        def respond():
            clock.advance(4)
            return answer
        return respond

    for url in list(docs):
        if url.startswith(slow):
            docs[url] = after_4s(docs[url])
    fetcher = FakeFetcher(docs)
    poller = Poller((A, slow), interval=10, fetcher=fetcher, clock=clock)
    poller._pool = ThreadPoolExecutor(max_workers=1)    # one at a time: the shared clock stays exact
    poller.poll_once()
    by_id = {t.rid: t for t in poller.trackers()}
    assert by_id["a-8080"].status is RuntimeStatus.ONLINE
    late = by_id["slow-8080"]
    assert late.status is RuntimeStatus.OFFLINE and "took longer than 15s" in late.last_error
    assert sum(u.startswith(slow) for u in fetcher.calls) == 4
    assert min(fetcher.timeouts) == 3.0, "the last request may only use what is left of the budget"
