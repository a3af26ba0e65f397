"""Compile-time (TemplateSyntaxError) and render-time (TemplateEvalError) failures."""
from __future__ import annotations

import pytest

from orkestra.errors import OrkestraError
from orkestra.template import TemplateEvalError, TemplateSyntaxError, compile_template

SYNTAX_CASES = [
    ("{{ .a ", "unclosed action"),
    ("{{ nosuchfn .a }}", 'function "nosuchfn" not defined'),
    ("{{ .a | nosuchfn }}", 'function "nosuchfn" not defined'),
    ("{{ if .a }}x", "missing {{end}} for {{if}}"),
    ("{{ range .a }}x{{ else }}y", "missing {{end}} for {{range}}"),
    ("x{{ end }}", "unexpected {{end}}"),
    ("x{{ else }}", "unexpected {{else}}"),
    ("{{ if .a }}x{{ else }}y{{ else }}z{{ end }}", "expected {{end}} for {{if}}"),
    ("{{ $x }}", 'undefined variable "$x"'),
    ("{{ $x = 1 }}", 'undefined variable "$x"'),
    ("{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}", 'undefined variable "$y"'),
    ("{{ break }}", "{{break}} outside {{range}}"),
    ("{{ continue }}", "{{continue}} outside {{range}}"),
    ("{{ range .a }}{{ else }}{{ break }}{{ end }}", "{{break}} outside {{range}}"),
    ("{{ }}", "missing value for command"),
    ("{{ .a | }}", "missing value for command"),
    ('{{ "unterminated }}', "unterminated quoted string"),
    ("{{ `raw }}", "unterminated raw quoted string"),
    ('{{ "bad \\q escape" }}', "unknown escape sequence"),
    ("{{ 12abc }}", "bad number syntax"),
    ("{{ (.a }}", "unclosed left paren"),
    ("{{ .a) }}", "unexpected right paren"),
    ("{{ .a 1 }}", "not a function"),
    ("{{ 1 | 2 }}", "not a function"),
    ("{{ nil }}", "nil is not a command"),
    ("{{ default }}", "wrong number of args for default: want 2 got 0"),
    ("{{ .a | default }}", "wrong number of args for default: want 2 got 1"),
    ('{{ upper "a" "b" }}', "wrong number of args for upper: want 1 got 2"),
    ("{{ and }}", "wrong number of args for and: want at least 1 got 0"),
    ("{{ /* not a comment */ }}", "unexpected '/'"),
    ("{{/* unclosed comment }}", "unclosed comment"),
    ("{{/* c */ .a }}", "comment ends before closing delimiter"),
    ("{{ template \"x\" }}", "{{template}} is not supported"),
    ("{{ upper.x }}", "after ident"),
    ('{{ "a""b" }}', "missing space"),
    ("{{ $x, $y := .a }}", "two variables can only be declared in {{range}}"),
    ("{{ ; }}", "unexpected ';' in action"),
    ("{{ " + "(" * 101 + "1" + ")" * 101 + " }}", "template nested too deeply (more than 100 levels)"),
    ("{{ if 1 }}" * 101 + "{{ end }}" * 101, "template nested too deeply"),
]


@pytest.mark.parametrize("src,message", SYNTAX_CASES)
def test_syntax_errors(src: str, message: str) -> None:
    with pytest.raises(TemplateSyntaxError) as info:
        compile_template(src)
    assert message in str(info.value)


def test_syntax_error_names_line_and_column() -> None:
    with pytest.raises(TemplateSyntaxError) as info:
        compile_template("line one\n  {{ .ok }} {{ bogus .x }}")
    err = info.value
    assert (err.line, err.col) == (2, 16)
    assert str(err) == 'function "bogus" not defined (line 2, column 16)'
    assert err.reason == 'function "bogus" not defined'


EVAL_CASES = [
    ("{{ .spec.name.first }}", "can't evaluate field first in type string"),
    ("{{ range .spec.name }}{{ end }}", "range can't iterate over string"),
    ("{{ index .spec.list 5 }}", "index out of range: 5"),
    ("{{ index .spec.list -1 }}", "index out of range: -1"),
    ('{{ index .spec.list "x" }}', "cannot index list with string"),
    ("{{ index 3 1 }}", "can't index item of type int"),
    ("{{ lt .spec.list 1 }}", "incompatible types for comparison"),
    ("{{ lt true false }}", "invalid type for comparison"),
    ("{{ len 3 }}", "len of type int"),
    ("{{ slice .spec.name 2 1 }}", "invalid slice index"),
    ('{{ printf "%d" "x" }}', "%d needs an integer"),
    ('{{ printf "%d %d" 1 }}', "missing argument"),
    ('{{ printf "%d" 1 2 }}', "extra argument"),
    ('{{ printf "%y" 1 }}', "unsupported verb %y"),
    ('{{ required "spec.image is required" .spec.missing }}', "spec.image is required"),
    ('{{ fail "stop here" }}', "stop here"),
    ('{{ printf "%099999d" 1 }}', "printf: width or precision above 4096"),
    ("{{ range 100001 }}{{ end }}", "range over an integer is limited to 10000 iterations"),
]


@pytest.mark.parametrize("src,message", EVAL_CASES)
def test_eval_errors(src: str, message: str) -> None:
    data = {"spec": {"name": "web", "list": [1, 2]}}
    with pytest.raises(TemplateEvalError) as info:
        compile_template(src).render(data)
    assert message in str(info.value)
    assert isinstance(info.value, OrkestraError)


def test_library_exceptions_become_eval_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from orkestra.template import functions

    def broken(v: object) -> object:
        raise ZeroDivisionError("boom")

    monkeypatch.setitem(functions.FUNCTIONS, "brokenForTest", broken)
    t = compile_template("{{ brokenForTest 1 }}")
    with pytest.raises(TemplateEvalError, match="error calling brokenForTest: boom"):
        t.render({})


@pytest.mark.parametrize("src,action", [
    ("{{ div 1 0 }}", "div 1 0"),
    ("text {{ .spec.name.first }} more", ".spec.name.first"),
    ("{{ if eq (div 1 0) 1 }}x{{ end }}", "eq (div 1 0) 1"),
    ("{{ range .spec.name }}{{ end }}", ".spec.name"),
    ("{{ range .spec.list }}ok {{ div 1 (sub . 1) }}{{ end }}", "div 1 (sub . 1)"),
    ("{{ $x := div 1 0 }}", "$x := div 1 0"),
])
def test_eval_errors_name_the_failing_action(src: str, action: str) -> None:
    with pytest.raises(TemplateEvalError) as info:
        compile_template(src).render({"spec": {"name": "web", "list": [2, 1]}})
    assert info.value.action == action
    assert str(info.value) == f"{info.value.reason} (in {{{{ {action} }}}})"


def test_required_keeps_the_authors_message_as_reason() -> None:
    with pytest.raises(TemplateEvalError) as info:
        compile_template('{{ .spec.image | required "spec.image is required" }}').render({"spec": {}})
    assert info.value.reason == "spec.image is required"
