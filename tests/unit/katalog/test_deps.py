from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from orkestra.katalog.deps import find_cycles, levels, parse_depends_on, start_order
from orkestra.katalog.model import Dependency


def test_three_forms():
    assert parse_depends_on(["a", "b"])[0] == [Dependency("a", "started"), Dependency("b", "started")]
    assert parse_depends_on({"a": "healthy"})[0] == [Dependency("a", "healthy")]
    assert parse_depends_on({"a": {"condition": "healthy"}, "b": {}})[0] == [Dependency("a", "healthy"),
                                                                           Dependency("b", "started")]
    assert parse_depends_on({"a": {"when": 1}})[1] == [(("a", "when"), 'unknown field "when" (allowed: condition)')]


def test_cycle_path_starts_where_the_stack_is_reentered():
    graph = {"a": ["b"], "b": ["c"], "c": ["b"], "d": []}
    assert find_cycles(graph) == {"b": "circular dependency: b → c → b", "c": "circular dependency: b → c → b"}


def test_levels():
    graph = {"cache": [], "tenant": [], "database": ["tenant"], "application": ["database", "tenant"]}
    assert levels(graph) == {"cache": 0, "tenant": 0, "database": 1, "application": 2}
    assert start_order(graph) == ["cache", "tenant", "database", "application"]


@given(st.dictionaries(st.sampled_from("abcdefgh"), st.lists(st.sampled_from("abcdefgh"), max_size=3), max_size=8))
def test_order_respects_every_edge_and_covers_all_acyclic_keys(graph):
    order = start_order(graph)
    cyclic = find_cycles(graph)
    position = {k: i for i, k in enumerate(order)}
    for key, deps in graph.items():
        for dep in deps:
            if key in position and dep in graph:
                assert position[dep] < position[key]
    if not cyclic:
        assert sorted(order) == sorted(graph)
    assert order == start_order(dict(reversed(list(graph.items()))))   # independent of input order
