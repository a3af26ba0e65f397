"""dependsOn (docs/katalog.md#dependson): the three input forms, cycle detection and the start order.

Pure functions over `{key: [Dependency]}` so the engine, `ork validate --full` and
`ork template --graph` share one definition of cycles, levels and ordering.
"""
from __future__ import annotations

import heapq
from typing import Any

from orkestra.katalog.model import Dependency

CONDITIONS = ("started", "healthy")


def parse_depends_on(value: Any) -> tuple[list[Dependency], list[tuple[tuple, str]]]:
    """The dependencies as written (declaration order) and `(relative path, message)` problems."""
    deps: list[Dependency] = []
    problems: list[tuple[tuple, str]] = []
    if value is None:
        return deps, problems
    if isinstance(value, list):
        for i, name in enumerate(value):
            if isinstance(name, str) and name:
                deps.append(Dependency(name, "started"))
            else:
                problems.append(((i,), "expected a CRD key (string)"))
        return deps, problems
    if not isinstance(value, dict):
        return deps, [((), "expected a list of CRD keys or a map of CRD key to condition")]
    for name, spec in value.items():
        cond = spec.get("condition", "started") if isinstance(spec, dict) else spec
        if isinstance(spec, dict) and set(spec) - {"condition"}:
            extra = sorted(set(spec) - {"condition"})[0]
            problems.append(((name, extra), f'unknown field "{extra}" (allowed: condition)'))
        if cond not in CONDITIONS:
            problems.append(((name,), f'invalid condition "{cond}" (allowed: started, healthy)'))
            continue
        deps.append(Dependency(str(name), cond))
    return deps, problems


def find_cycles(graph: dict[str, list[str]]) -> dict[str, str]:
    """`{key: "circular dependency: a → b → a"}` for every key on a cycle.

    Depth-first, keys and their dependencies visited alphabetically; reaching a key already on
    the stack reports the stack from that key back to itself.
    """
    found: dict[str, str] = {}
    done: set[str] = set()

    def visit(start: str) -> None:
        stack: list[str] = [start]
        on_stack = {start}
        iters = [iter(sorted(set(graph.get(start, ()))))]
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                iters.pop()
                node = stack.pop()
                on_stack.discard(node)
                done.add(node)
                continue
            if nxt in on_stack:
                cycle = stack[stack.index(nxt):] + [nxt]
                message = "circular dependency: " + " → ".join(cycle)
                for key in cycle:
                    found.setdefault(key, message)
                continue
            if nxt in done or nxt not in graph:
                continue
            stack.append(nxt)
            on_stack.add(nxt)
            iters.append(iter(sorted(set(graph.get(nxt, ())))))

    for key in sorted(graph):
        if key not in done:
            visit(key)
    return found


def start_order(graph: dict[str, list[str]]) -> list[str]:
    """Kahn's algorithm over dependency → dependent edges, alphabetically smallest ready key first.

    Keys on cycles never become ready and are left out.
    """
    indegree = {key: len({d for d in deps if d in graph}) for key, deps in graph.items()}
    dependents: dict[str, list[str]] = {key: [] for key in graph}
    for key, deps in graph.items():
        for dep in set(deps):
            if dep in graph:
                dependents[dep].append(key)
    ready = [key for key, n in indegree.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        key = heapq.heappop(ready)
        order.append(key)
        for dependent in dependents[key]:
            indegree[dependent] -= 1
            if indegree[dependent] == 0:
                heapq.heappush(ready, dependent)
    return order


def levels(graph: dict[str, list[str]]) -> dict[str, int]:
    """Dependency level of each key in start order: 0 without dependencies, else 1 + deepest dependency."""
    out: dict[str, int] = {}
    for key in start_order(graph):
        out[key] = 1 + max((out[d] for d in graph[key] if d in out), default=-1)
    return out
