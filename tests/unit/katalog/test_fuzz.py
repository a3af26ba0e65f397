"""Fuzzing the loader and `ork validate` with thousands of broken Katalogs.

A seeded mutator breaks the six examples in ways that must always fail (unknown keys, dropped
required keys, wrong types on typed fields, garbage YAML, deep nesting, huge files); hypothesis adds
arbitrary documents and text. Every case must end in `KatalogErrors` from the loader and exit 1 with
an `error:` line from the CLI, never a traceback.
"""
from __future__ import annotations

import copy
import glob
import os
import random
import re

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orkestra.cli.main import cli
from orkestra.katalog.issues import KatalogErrors
from orkestra.katalog.loader import load_katalog

SEEDS = [yaml.safe_load(open(p)) for p in sorted(glob.glob("examples/*.yaml"))]
REQUIRED = [("apiVersion",), ("kind",), ("spec",), ("metadata", "name"), ("spec", "crds", "*", "apiTypes"),
            ("spec", "crds", "*", "apiTypes", "kind")]
TYPED = [("spec", "crds", "*", "enabled"), ("spec", "crds", "*", "operatorBox", "reconciler", "workers"),
         ("spec", "crds", "*", "apiTypes", "kind"), ("metadata", "name"), ("spec", "crds")]
WRONG = [["a", "list"], {"a": {"map": 1}}, 3.5]


def _strict_maps(doc: dict) -> list[dict]:
    """Objects whose keys Orkestra interprets (raw Kubernetes fields and `anchors` are open)."""
    out = [doc, doc["metadata"], doc["spec"]]
    for entry in doc["spec"]["crds"].values():
        out += [entry, entry["apiTypes"]]
        box = entry.get("operatorBox") or {}
        out += [m for m in (box, box.get("reconciler"), box.get("status")) if m]
        for phase in ("onCreate", "onReconcile", "onDelete"):
            out += [tpl for tpls in (box.get(phase) or {}).values() for tpl in tpls]
        out += list((entry.get("validation") or {}).get("rules", []))
    return out


def _resolve(doc, pattern, rng):
    node = doc
    for part in pattern[:-1]:
        if not isinstance(node, dict) or not node:
            return None, None
        part = rng.choice(sorted(node)) if part == "*" else part
        if part not in node:
            return None, None
        node = node[part]
    return (node, pattern[-1]) if isinstance(node, dict) else (None, None)


def mutate(rng: random.Random) -> str:
    """A YAML text that is certainly invalid."""
    doc = copy.deepcopy(rng.choice(SEEDS))
    kind = rng.randrange(7)
    if kind == 0:                                   # unknown key in a strict object
        rng.choice(_strict_maps(doc))["zz_unknown_" + str(rng.randrange(1000))] = 1
    elif kind == 1:                                 # required key dropped
        parent, key = _resolve(doc, rng.choice(REQUIRED), rng)
        if parent is None or key not in parent:
            return "spec: {crds: {}}\n"
        del parent[key]
    elif kind == 2:                                 # wrong type on a typed field
        parent, key = _resolve(doc, rng.choice(TYPED), rng)
        if parent is None:
            return "kind: [Katalog]\n"
        parent[key] = rng.choice([w for w in WRONG if type(w) is not type(parent.get(key))])
    elif kind == 3:                                 # garbage line before a key line
        lines = yaml.safe_dump(doc).splitlines(keepends=True)
        keys = [i for i, line in enumerate(lines) if re.match(r"^\s*[A-Za-z][\w-]*:", line)]
        at = rng.choice(keys)
        junk = "".join(rng.choice("{}[]&*!|>'\"%@`") for _ in range(rng.randrange(1, 8)))
        return "".join(lines[:at]) + f"]{junk}: [\n" + "".join(lines[at:])
    elif kind == 4:                                 # deep nesting
        depth = rng.randrange(70, 400)
        return "spec:\n  crds:\n    x: " + "[" * depth + "]" * depth + "\n"
    elif kind == 5:                                 # several documents or an empty one
        return rng.choice(["", "---\n", yaml.safe_dump(doc) + "---\n" + yaml.safe_dump(doc), "# nothing\n"])
    else:                                           # a scalar or list at the top
        return rng.choice(["just text\n", "- a\n- b\n", "42\n", "null\n"])
    return yaml.safe_dump(doc, sort_keys=False)


def _assert_rejected(path: str) -> None:
    with pytest.raises(KatalogErrors) as exc:
        load_katalog([path])
    assert exc.value.issues and all(str(i) for i in exc.value.issues)


def test_seeded_mutations_fail_cleanly_through_the_loader_and_the_cli(tmp_path):
    rng = random.Random(20260301)
    runner = CliRunner()
    for i in range(2000):
        path = tmp_path / f"case{i % 7}.yaml"
        path.write_text(mutate(rng))
        _assert_rejected(str(path))
        if i % 5 == 0:
            result = runner.invoke(cli, ["validate", "-f", str(path)], env={})
            assert result.exit_code == 1, result.output
            assert "Traceback" not in result.output and "error:" in result.output
            assert result.exception is None or isinstance(result.exception, SystemExit)


def test_huge_files_are_refused(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("spec:\n  crds:\n" + "".join(f"    k{i}: {{apiTypes: {{kind: ConfigMap}}}}\n" for i in range(320_000)))
    _assert_rejected(str(path))
    result = CliRunner().invoke(cli, ["validate", "-f", str(path)], env={})
    assert result.exit_code == 1 and "larger than 10 MiB" in result.output


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=25)
CRD_KEYS = st.sampled_from(["enabled", "apiTypes", "dependsOn", "operatorBox", "validation", "mutation", "conversion",
                            "labels", "webhooks", "namespace", "labelSelector", "crdFile", "reconciler", "queue",
                            "imports"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entry=st.dictionaries(CRD_KEYS, documents, max_size=5), top=documents)
def test_arbitrary_documents_never_crash(tmp_path_factory, entry, top):
    path = tmp_path_factory.mktemp("hyp") / "k.yaml"
    doc = {"apiVersion": "orkestra.orkspace.io/v1", "kind": "Katalog", "metadata": {"name": "f"},
           "spec": {"crds": {"a": entry, "b": top}}}
    path.write_text(yaml.safe_dump(doc))
    try:
        load_katalog([str(path)])
    except KatalogErrors as exc:
        assert exc.issues
    result = CliRunner().invoke(cli, ["validate", "-f", str(path)], env={})
    assert result.exit_code in (0, 1) and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_arbitrary_text_never_crashes(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("txt") / "k.yaml"
    path.write_text(text)
    _assert_rejected(str(path))


# -- Katalogs in the Go Orkestra's forms (issue 13) ---------------------------------------------
GO_SEEDS = [(p, yaml.safe_load(open(p))) for p in sorted(glob.glob("tests/unit/katalog/goforms/*.yaml"))]
# Go keys of deferred features: (parent path, key, value); "*" is the first CRD entry.
GO_DEFERRED = [
    (("metadata",), "namespace", "team-a"), (("security",), "certManager", {"enabled": True}),
    (("security",), "conversion", {"enabled": True}), (("spec", "crds", "*"), "imports", [{"motif": "m"}]),
    (("spec", "crds", "*"), "crFiles", ["cr.yaml"]), (("spec", "crds", "*"), "setup", {"kind": True}),
    (("spec", "crds", "*", "operatorBox"), "cross", {"read": ["x"]}),
    (("spec", "crds", "*", "operatorBox"), "rollback", {"enabled": True}),
    (("spec", "crds", "*", "operatorBox"), "watch", {"kinds": ["Pod"]}),
    (("spec", "crds", "*", "operatorBox"), "imports", [{"motif": "m"}]),
    (("spec", "crds", "*", "operatorBox"), "constructor", {"image": "x"}),
    (("spec", "crds", "*"), "queue", {"default": True}),
    (("security",), "webhooks", {"admission": {"enabled": True}}),
]


def _go_parent(doc: dict, parent: tuple) -> dict:
    node = doc
    for part in parent:
        key = next(iter(node)) if part == "*" else part
        node = node.setdefault(key, {})
    return node


def go_mutate(rng: random.Random) -> tuple[str, str]:
    """A Go-form Katalog broken in one way, and a text every error report must contain."""
    path, seed = rng.choice(GO_SEEDS)
    doc = copy.deepcopy(seed)
    entry = doc["spec"]["crds"][rng.choice(sorted(doc["spec"]["crds"]))]
    kind = rng.randrange(3)
    if kind == 0:                                   # a deferred Go key where Go writes it
        parent, key, value = rng.choice(GO_DEFERRED)
        _go_parent(doc, parent)[key] = copy.deepcopy(value)
        expected = "is not supported in this version"
    elif kind == 1:                                 # an unknown key in a strict object
        target = rng.choice([doc, doc["metadata"], doc["spec"], entry, entry.setdefault("operatorBox", {})])
        target["zz_unknown_" + str(rng.randrange(1000))] = 1
        expected = "unknown field"
    else:                                           # a wrong type on a Go-form key
        box = entry.setdefault("operatorBox", {})
        key = rng.choice(["default", "finalizers", "crdFile"])
        (entry if key == "crdFile" else box)[key] = rng.choice([{"a": {"map": 1}}, 3.5])
        expected = "expected "
    text = yaml.safe_dump(doc, sort_keys=False)
    return text.replace("crdFile: crds/", f"crdFile: {os.path.dirname(os.path.abspath(path))}/crds/"), expected


def test_go_form_mutations_fail_cleanly_and_never_call_a_go_key_unknown(tmp_path):
    rng = random.Random(20261206)
    runner = CliRunner()
    for i in range(600):
        text, expected = go_mutate(rng)
        path = tmp_path / f"go{i % 5}.yaml"
        path.write_text(text)
        with pytest.raises(KatalogErrors) as exc:
            load_katalog([str(path)])
        found = [i.message for i in exc.value.issues]
        assert any(expected in m for m in found), (expected, found, text)
        if expected != "unknown field":
            assert not any("unknown field" in m for m in found), (found, text)
        if i % 10 == 0:
            result = runner.invoke(cli, ["validate", "-f", str(path)], env={})
            assert result.exit_code == 1 and "Traceback" not in result.output, result.output
