"""Issue 16 item 5: a Katalog regex cannot freeze the process (linear-time engine, capped input)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from orkestra.conditions.regex import MAX_INPUT, compile_search
from orkestra.conditions.rules import evaluate_validation

REDOS = "^([a-z0-9]+-?)+$"
EVIL = "a" * 40 + "!"          # 41 characters: hours with a backtracking engine


def test_redos_pattern_answers_at_once_in_a_child_process():
    """In a child so that a backtracking engine (which holds the GIL) cannot hang the test run."""
    code = textwrap.dedent(f"""
        import time
        from orkestra.conditions.rules import evaluate_validation
        rule = {{"field": "spec.image", "regex": {REDOS!r}, "message": "bad image"}}
        start = time.monotonic()
        out = evaluate_validation([rule], {{"spec": {{"image": {EVIL!r}}}}})
        print(len(out.denials), round(time.monotonic() - start, 3))
    """)
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{REDOS!r} against a 41-character value did not finish in 20 s")
    assert proc.returncode == 0, proc.stderr
    denials, seconds = proc.stdout.split()
    assert denials == "1" and float(seconds) < 1.0


def test_valid_value_still_matches_and_invalid_one_is_denied():
    rule = {"field": "spec.image", "regex": REDOS, "message": "bad image"}
    assert not evaluate_validation([rule], {"spec": {"image": "web-1-a"}}).denials
    assert len(evaluate_validation([rule], {"spec": {"image": EVIL}}).denials) == 1


def test_input_over_the_cap_does_not_match():
    search = compile_search("a")
    assert search("a" * MAX_INPUT)
    assert not search("a" * (MAX_INPUT + 1))


@pytest.mark.parametrize("pattern, reason", [
    (r"(a)\1", 'invalid escape sequence at "\\1" (RE2 syntax: no backreferences or lookarounds)'),
    ("(?=a)b", 'invalid perl operator at "(?=" (RE2 syntax: no backreferences or lookarounds)'),
    ("a{2000}", 'invalid repetition size at "{2000}"'),
])
def test_patterns_re2_cannot_run_are_refused_with_the_reason(pattern, reason):
    with pytest.raises(ValueError) as err:
        compile_search(pattern)
    assert str(err.value) == f'invalid regex "{pattern}": {reason}'
