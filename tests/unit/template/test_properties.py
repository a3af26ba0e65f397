"""Property tests (hypothesis) for the template engine.

* Rendering a corpus of valid templates against arbitrary JSON-like CR data raises nothing but
  TemplateEvalError, and render_value prints to exactly what render returns.
* Compiling arbitrary template-ish text raises nothing but TemplateSyntaxError.
* Strings without `{{` render to themselves.
* The `default` law: `default F V` is V when V is non-empty (Go truthiness), else F.
* Printing of ints and floats follows §9.1 and round-trips.
* `eq` is symmetric and `lt`/`gt` are mirror images on numbers.
"""
from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from orkestra.template import TemplateEvalError, TemplateSyntaxError, compile_template
from orkestra.template.values import to_text

_scalars = st.none() | st.booleans() | st.integers(-10**12, 10**12) | \
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
_json = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)
_keys = st.sampled_from(["name", "image", "replicas", "list", "map", "enabled", "x", "items", "version"])
_cr = st.fixed_dictionaries({
    "metadata": st.fixed_dictionaries({"name": _json}, optional={"labels": _json, "generation": _json}),
    "spec": st.dictionaries(_keys, _json, max_size=6) | _json,
}, optional={"status": _json})

CORPUS = [
    "{{ .metadata.name }}-{{ .spec.image }}",
    "{{ .spec.replicas | default 1 }}",
    '{{ .spec.name | default "x" | lower | replace "_" "-" | truncateName 63 }}',
    "{{ if .spec.enabled }}on{{ else if .spec.x }}x{{ else }}off{{ end }}",
    "{{ range $i, $v := .spec.list }}{{ $i }}={{ $v }};{{ else }}empty{{ end }}",
    "{{ range $k, $v := .spec.map }}{{ $k }}:{{ $v | toJson }}{{ end }}",
    "{{ with .spec.map }}{{ .name }}{{ end }}",
    "{{ toJson .spec }}|{{ typeOf .spec.x }}|{{ len (toJson .status) }}",
    '{{ printf "%v-%s-%q" .spec.x .metadata.name .spec.image }}',
    "{{ eq .spec.x 1 2 \"a\" }}{{ ne .spec.x nil }}{{ not .spec.list }}",
    "{{ and .spec.x .spec.image }}{{ or .spec.x .spec.image }}",
    '{{ getOr . "spec.map.a.b" "fb" }}{{ hasKey (default (dict) .spec.map) "k" }}',
    "{{ coalesce .spec.x .spec.image .metadata.name }}{{ empty .spec.list }}{{ notEmpty .status }}",
    "{{ quote .spec.name }}{{ dnsLabel .spec.name }}{{ b64enc .spec.image }}{{ sha256sum .spec.x }}",
    "{{ upper .spec.name }}{{ trim .spec.image }}{{ contains \"a\" .spec.x }}{{ hasPrefix \"v\" .spec.version }}",
    "{{ hasCondition .status \"Ready\" }}{{ readyReplicas . }}{{ allReplicasReady . }}{{ isTerminating . }}",
    "{{ jobSucceeded . }}{{ jobFailed . }}{{ conditionStatus . \"Ready\" }}{{ conditionReason . \"Ready\" }}",
    "{{ len .spec.list }}{{ index .spec.map \"a\" }}{{ first .spec.list }}{{ last .spec.list }}",
    "{{ add .spec.replicas 1 }}{{ mul .spec.replicas 2 }}{{ max .spec.replicas 0 }}{{ toInt .spec.replicas }}",
    "{{ lt .spec.replicas 3 }}{{ ge .spec.x .spec.replicas }}",
    "{{ semverCompare \">=1.0\" .spec.version }}{{ toBool .spec.enabled }}{{ toFloat .spec.replicas }}",
    "{{ split \",\" .spec.name | join \"+\" }}{{ keys .spec.map }}{{ has 1 .spec.list }}",
    "{{ timeSince .metadata.name }}{{ isExpired .spec.x \"1h\" }}{{ durationSeconds .spec.x }}",
    "{{ $n := .metadata.name }}{{ range .spec.list }}{{ $n }}{{ . }}{{ if eq . 1 }}{{ break }}{{ end }}{{ end }}",
    "{{ fromJson .spec.x }}{{ b64dec .spec.image }}{{ substr 1 3 .spec.name }}{{ truncate 2 .spec.name }}",
    "{{ slice .spec.list 1 }}{{ append .spec.list 1 }}{{ div .spec.replicas 2 }}{{ mod .spec.replicas 3 }}",
]
_COMPILED = [compile_template(src) for src in CORPUS]


@settings(max_examples=300, deadline=None)
@given(cr=_cr, which=st.integers(0, len(CORPUS) - 1))
def test_rendering_raises_only_template_eval_errors(cr: dict, which: int) -> None:
    template = _COMPILED[which]
    try:
        text = template.render(cr)
    except TemplateEvalError:
        return
    assert isinstance(text, str)
    # render_value is the same result before printing (native type for single actions)
    assert to_text(template.render_value(cr)) == text


_template_chars = st.sampled_from(
    list("{}{}{}{{}}-.$|()\"`' ,:=/*abcfdeilnrstuwx019\n") +
    ["if", "else", "end", "range", "with", "break", ":=", "nil", "true", "default", "printf", ".spec"])


@settings(max_examples=500, deadline=None)
@given(parts=st.lists(_template_chars, max_size=25))
def test_compiling_garbage_raises_only_syntax_errors(parts: list[str]) -> None:
    src = "".join(parts)
    try:
        template = compile_template(src)
    except TemplateSyntaxError:
        return
    try:
        template.render({"spec": {"a": 1}})
    except TemplateEvalError:
        pass


@given(text=st.text().filter(lambda s: "{{" not in s))
def test_strings_without_actions_round_trip(text: str) -> None:
    template = compile_template(text)
    assert template.render({"spec": {}}) == text
    assert template.render_value({"spec": {}}) == text


def _truthy(v: object) -> bool:
    if v is None or v is False:
        return False
    if isinstance(v, (str, list, dict)):
        return len(v) > 0
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v != 0
    return True


@given(fallback=_json, value=_json)
def test_default_law(fallback: object, value: object) -> None:
    got = compile_template("{{ default .f .v }}").render_value({"f": fallback, "v": value})
    expected = value if _truthy(value) else fallback
    assert got == expected
    assert compile_template("{{ .v | default .f }}").render_value({"f": fallback, "v": value}) == got


@given(n=st.integers())
def test_integers_print_plainly(n: int) -> None:
    assert compile_template("{{ .n }}").render({"n": n}) == str(n)


@given(f=st.floats(allow_nan=False, allow_infinity=False))
def test_floats_print_without_trailing_zero_and_round_trip(f: float) -> None:
    text = compile_template("{{ .f }}").render({"f": f})
    assert not text.endswith(".0")
    assert float(text) == f
    if f.is_integer() and abs(f) < 1e21:
        assert text == str(int(f))


@given(a=st.integers(-1000, 1000) | st.floats(-1e6, 1e6), b=st.integers(-1000, 1000) | st.floats(-1e6, 1e6))
def test_comparisons_are_consistent(a: float, b: float) -> None:
    data = {"a": a, "b": b}

    def render(src: str) -> str:
        return compile_template(src).render(data)

    assert render("{{ eq .a .b }}") == render("{{ eq .b .a }}") == ("true" if a == b else "false")
    assert render("{{ lt .a .b }}") == render("{{ gt .b .a }}")
    assert render("{{ le .a .b }}") == ("true" if a <= b else "false")
    assert not math.isnan(a) and not math.isnan(b)
