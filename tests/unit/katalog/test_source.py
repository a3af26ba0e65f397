from __future__ import annotations

import time

import pytest

from orkestra.katalog.source import MAX_DEPTH, SourceError, locate, parse_yaml, plain, read_source


def test_marks_are_one_based_and_follow_keys_and_items():
    doc = parse_yaml("a:\n  b:\n    - x\n    - {c: 1}\n", "k.yaml")
    mark = locate(doc, ("a", "b", 1, "c"))
    assert (mark.file, mark.line, mark.col) == ("k.yaml", 4, 8)
    assert locate(doc, ("a", "b", 0)).line == 3
    # a missing tail falls back to the deepest known node
    assert locate(doc, ("a", "nope", "deeper")).line == 1


def test_anchors_aliases_and_merge_keys():
    doc = parse_yaml("base: &b {group: g, kind: K}\nuse:\n  <<: *b\n  version: v1\nagain: *b\n", "k.yaml")
    assert plain(doc["use"]) == {"group": "g", "kind": "K", "version": "v1"}
    assert plain(doc["again"]) == {"group": "g", "kind": "K"}


@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    ("# only a comment\n", "empty file"),
    ("a: 1\n---\nb: 2\n", "more than one YAML document"),
    ("a: [1, 2\n", "invalid YAML"),
    ("? [a]\n: 1\n", "mapping key must be a scalar"),
])
def test_bad_files_are_clear_errors(text, message):
    with pytest.raises(SourceError) as exc:
        parse_yaml(text, "k.yaml")
    assert message in exc.value.message


def test_syntax_error_has_a_position():
    with pytest.raises(SourceError) as exc:
        parse_yaml("a: 1\nb: [\n", "k.yaml")
    assert exc.value.mark is not None and exc.value.mark.file == "k.yaml"


def test_deep_nesting_and_alias_bombs_are_rejected():
    deep = "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    with pytest.raises(SourceError, match="nests deeper"):
        parse_yaml(deep, "k.yaml")
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    with pytest.raises(SourceError, match="expands to more than"):
        parse_yaml("\n".join(lines) + "\n", "k.yaml")
    with pytest.raises(SourceError, match="nests deeper"):
        parse_yaml("a: &a [*a]\n", "k.yaml")


def test_read_source_errors(tmp_path):
    with pytest.raises(SourceError, match="file not found"):
        read_source(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "bin.yaml"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SourceError, match="not UTF-8"):
        read_source(str(bad))


def _merge_chain(lines: int) -> str:
    """Each map merges the previous one and adds a key: pairs grow quadratically with lines."""
    return "\n".join(["a0: &a0 {k0: 1}"] + [f"a{i}: &a{i} {{<<: *a{i - 1}, k{i}: 1}}" for i in range(1, lines)]) + "\n"


def _merge_laughs(levels: int) -> str:
    """Billion laughs through merge keys: every level merges the previous one twice."""
    return "\n".join(["a0: &a0 {k0: 1}"] + [f"a{i}: &a{i} {{<<: [*a{i - 1}, *a{i - 1}], k{i}: 1}}"
                                             for i in range(1, levels)]) + "\n"


def test_merge_key_bomb_fails_fast_with_a_clear_error():
    """Issue 16 item 7: merged pairs are counted while composing (before: this 70 KB chain took 19 s)."""
    start = time.thread_time()   # CPU time of this thread: the work done, whatever the machine's load
    with pytest.raises(SourceError) as err:
        parse_yaml(_merge_chain(2000), "bomb.yaml")
    elapsed = time.thread_time() - start
    assert elapsed < 3.0, f"took {elapsed:.1f} s"
    assert str(err.value).startswith("merge keys (<<) expand the document to more than 200000 entries")


def test_merge_key_laughs_end_fast():
    """Doubling merges: PyYAML >= 6.0.4 de-duplicates them; on 6.0.3 the count stops them early."""
    start = time.thread_time()
    try:
        parse_yaml(_merge_laughs(40), "laughs.yaml")
    except SourceError as err:
        assert "merge keys (<<) expand" in str(err)
    assert time.thread_time() - start < 3.0


def test_ordinary_merge_keys_still_work():
    doc = parse_yaml("base: &b {x: 1, y: 2}\nuse: {<<: *b, y: 3}\n", "m.yaml")
    assert dict(doc["use"]) == {"x": 1, "y": 3}
