"""The benchmarks call the loader and the API client with arguments their signatures accept.

`make lint` only compiles bench/, and no test runs it, so a changed signature (issue 10 item 4
replaced `load_katalog(paths, env=...)` with `load_katalog(paths, inputs)`) would break a benchmark
unnoticed until `make bench`. Each call of these names in bench/*.py is bound, with `ast`
placeholders, against the real signature.
"""
from __future__ import annotations

import ast
import inspect
from pathlib import Path

from orkestra.katalog.loader import load_katalog, load_report
from orkestra.kube.client import KubeClient

BENCH = Path(__file__).resolve().parents[2] / "bench"
CALLEES = {"load_katalog": load_katalog, "load_report": load_report, "from_config": KubeClient.from_config}


def bad_calls(source: str, filename: str) -> list[str]:
    problems = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if name not in CALLEES or any(isinstance(a, ast.Starred) for a in node.args) \
                or any(k.arg is None for k in node.keywords):
            continue
        try:
            inspect.signature(CALLEES[name]).bind(*node.args, **{k.arg: k.value for k in node.keywords})
        except TypeError as err:
            problems.append(f"{filename}:{node.lineno}: {name}: {err}")
    return problems


def test_bench_calls_match_the_signatures():
    found = [p for path in sorted(BENCH.glob("*.py")) for p in bad_calls(path.read_text(), path.name)]
    assert found == []


def test_the_check_sees_a_stale_keyword():
    assert bad_calls("load_katalog(['k.yaml'], env={})\nKubeClient.from_config(cfg)\n", "x.py") == [
        "x.py:1: load_katalog: got an unexpected keyword argument 'env'"]
