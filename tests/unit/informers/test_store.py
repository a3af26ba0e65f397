import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orkestra.informers.store import Store, index_owner, index_uid, object_key


def obj(name, ns="ns", uid=None, rv="1", owner=None):
    meta = {"name": name, "resourceVersion": rv, "uid": uid or f"uid-{name}"}
    if ns:
        meta["namespace"] = ns
    if owner:
        meta["labels"] = {"orkestra.io/owner-uid": owner}
    return {"metadata": meta}


def test_keys_are_namespace_slash_name_or_name():
    assert object_key(obj("a", "ns")) == "ns/a"
    assert object_key(obj("node1", None)) == "node1"


def test_upsert_get_delete():
    s = Store()
    assert s.upsert(obj("a")) is None
    old = s.upsert(obj("a", rv="2"))
    assert old["metadata"]["resourceVersion"] == "1"
    assert s.get("ns/a")["metadata"]["resourceVersion"] == "2"
    assert s.delete("ns/a")["metadata"]["resourceVersion"] == "2"
    assert s.get("ns/a") is None and len(s) == 0
    assert s.delete("ns/a") is None


def test_namespace_index_is_always_present_and_follows_updates():
    s = Store()
    s.upsert(obj("a", "x"))
    s.upsert(obj("b", "y"))
    assert [o["metadata"]["name"] for o in s.by_index("namespace", "x")] == ["a"]
    s.delete("x/a")
    assert s.by_index("namespace", "x") == []


def test_owner_and_uid_indexes():
    s = Store({"uid": index_uid, "owner": index_owner})
    s.upsert(obj("child1", owner="P"))
    s.upsert(obj("child2", owner="P"))
    s.upsert(obj("child3", owner="Q"))
    assert sorted(o["metadata"]["name"] for o in s.by_index("owner", "P")) == ["child1", "child2"]
    s.upsert(obj("child2", owner="Q", rv="2"))
    assert [o["metadata"]["name"] for o in s.by_index("owner", "P")] == ["child1"]
    assert s.by_index("uid", "uid-child3")[0]["metadata"]["name"] == "child3"


def test_unknown_index_raises_key_error():
    with pytest.raises(KeyError):
        Store().by_index("owner", "x")


def test_add_indexers_indexes_existing_objects():
    s = Store()
    s.upsert(obj("a", owner="P"))
    s.add_indexers({"owner": index_owner})
    assert len(s.by_index("owner", "P")) == 1


def test_replace_reports_added_updated_removed_and_reindexes():
    s = Store({"owner": index_owner})
    s.upsert(obj("keep", rv="1"))
    s.upsert(obj("change", rv="1", owner="P"))
    s.upsert(obj("gone", rv="1", owner="P"))
    added, updated, removed = s.replace([obj("keep", rv="1"), obj("change", rv="2"), obj("new", rv="3")])
    assert [o["metadata"]["name"] for o in added] == ["new"]
    assert [(o["metadata"]["resourceVersion"], n["metadata"]["resourceVersion"]) for o, n in updated] == [("1", "2")]
    assert [o["metadata"]["name"] for o in removed] == ["gone"]
    assert sorted(s.keys()) == ["ns/change", "ns/keep", "ns/new"]
    assert s.by_index("owner", "P") == []


def test_concurrent_writers_keep_indexes_consistent():
    s = Store({"owner": index_owner})

    def writer(n):
        for i in range(300):
            s.upsert(obj(f"o{i % 20}", owner=f"P{(i + n) % 3}", rv=str(i)))
            if i % 7 == 0:
                s.delete(f"ns/o{i % 20}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    indexed = sorted(object_key(o) for p in ("P0", "P1", "P2") for o in s.by_index("owner", p))
    assert indexed == sorted(s.keys())


# --- compact stores (JSON text inside, fresh dicts out) -----------------------------------------

def deployment(i, owner="P"):
    d = obj(f"d{i}", owner=owner, rv=str(i))
    d["spec"] = {"replicas": 1, "template": {"spec": {"containers": [
        {"name": f"d{i}", "image": "nginx:1.27", "ports": [{"containerPort": 8080, "protocol": "TCP"}],
         "terminationMessagePath": "/dev/termination-log", "imagePullPolicy": "IfNotPresent"}]}}}
    d["metadata"]["annotations"] = {"note": "é ✓"}       # non-ASCII survives the round trip
    return d


def test_compact_store_returns_equal_but_fresh_objects():
    s = Store({"owner": index_owner}, compact=True)
    original = deployment(1)
    s.upsert(original)
    got = s.get("ns/d1")
    assert got == original and got is not original
    got["spec"]["replicas"] = 5                          # a careless reader cannot change the cache
    assert s.get("ns/d1") == original
    assert s.list() == [original] and s.by_index("owner", "P") == [original]


def test_compact_store_answers_like_a_plain_store():
    plain, compact = Store({"owner": index_owner}), Store({"owner": index_owner}, compact=True)
    for s in (plain, compact):
        s.add_indexers({"uid": index_uid})
    steps = [
        lambda s: s.upsert(deployment(1)),
        lambda s: s.upsert(deployment(2, owner="Q")),
        lambda s: s.upsert(deployment(1, owner="Q")),
        lambda s: s.by_index("owner", "Q"),
        lambda s: s.by_index("uid", "uid-d2"),
        lambda s: s.delete("ns/d2"),
        lambda s: s.delete("ns/absent"),
        lambda s: s.replace([deployment(1, owner="Q"), deployment(3)]),
        lambda s: s.add_indexers({"namespace": index_owner}) or s.by_index("namespace", "ns"),
        lambda s: sorted(s.keys()) + [len(s)],
    ]
    for step in steps:
        assert step(compact) == step(plain)


def test_compact_store_takes_a_fraction_of_the_memory():
    import json
    import tracemalloc

    texts = [json.dumps(deployment(i, owner=f"P{i}")) for i in range(300)]

    def cached_bytes(compact):
        tracemalloc.start()
        try:
            s = Store({"owner": index_owner}, compact=compact)
            for text in texts:
                s.upsert(json.loads(text))      # as the reflector does: a decoded event, then dropped
            return tracemalloc.get_traced_memory()[0], s
        finally:
            tracemalloc.stop()

    plain, _ = cached_bytes(False)
    compact, store = cached_bytes(True)
    assert len(store) == 300
    assert compact < plain / 2


def test_an_index_value_goes_from_one_key_to_many_and_back():
    s = Store({"owner": index_owner})
    names = lambda: sorted(o["metadata"]["name"] for o in s.by_index("owner", "P"))   # noqa: E731
    s.upsert(obj("a", owner="P"))
    s.upsert(obj("a", owner="P", rv="2"))          # the same key again: still one
    assert names() == ["a"]
    s.upsert(obj("b", owner="P"))
    s.upsert(obj("c", owner="P"))
    assert names() == ["a", "b", "c"]
    s.delete("ns/a")
    s.delete("ns/c")
    assert names() == ["b"]
    s.upsert(obj("b", owner="Q", rv="2"))
    assert names() == [] and [o["metadata"]["name"] for o in s.by_index("owner", "Q")] == ["b"]
    s.delete("ns/zzz")
    assert len(s) == 1


_NAMES, _OWNERS = ("a", "b", "c", "d"), ("P", "Q", None)
_op = st.one_of(
    st.tuples(st.just("upsert"), st.sampled_from(_NAMES), st.sampled_from(_OWNERS)),
    st.tuples(st.just("delete"), st.sampled_from(_NAMES), st.none()),
    st.tuples(st.just("replace"), st.lists(st.tuples(st.sampled_from(_NAMES), st.sampled_from(_OWNERS)),
                                           max_size=4, unique_by=lambda t: t[0]), st.none()))


@settings(max_examples=200, deadline=None)
@given(st.lists(_op, max_size=25), st.booleans())
def test_indexes_always_answer_what_a_scan_of_the_store_would(ops, compact):
    """Any sequence of upserts, deletes and relists (the one-key / set transitions of the
    owner index included): by_index equals filtering the store's objects."""
    s, rv = Store({"owner": index_owner}, compact=compact), iter(range(1, 10_000))
    for op, arg, owner in ops:
        if op == "upsert":
            s.upsert(obj(arg, owner=owner, rv=str(next(rv))))
        elif op == "delete":
            s.delete(f"ns/{arg}")
        else:
            s.replace([obj(name, owner=o, rv=str(next(rv))) for name, o in arg])
        for value in ("P", "Q"):
            scanned = sorted(object_key(o) for o in s.list() if index_owner(o) == [value])
            assert sorted(object_key(o) for o in s.by_index("owner", value)) == scanned
        assert sorted(object_key(o) for o in s.by_index("namespace", "ns")) == sorted(s.keys())
