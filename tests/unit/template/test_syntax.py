"""Every syntax form of docs/katalog.md#templates, rendered against one CR (table-driven)."""
from __future__ import annotations

import pytest

from orkestra.template import compile_template, is_template

CR = {
    "apiVersion": "example.com/v1",
    "kind": "Website",
    "metadata": {"name": "web", "namespace": "team-a", "labels": {"tier": "front"}},
    "spec": {
        "image": "nginx:1.25",
        "replicas": 3,
        "ratio": 2.5,
        "whole": 2.0,
        "enabled": True,
        "off": False,
        "empty": "",
        "zero": 0,
        "list": ["a", "b", "c"],
        "nums": [1, 2, 3, 4],
        "map": {"b": 2, "a": 1, "c": 3},
        "nested": [{"name": "x", "port": 80}, {"name": "y", "port": 81}],
        "tags": [],
    },
}

RENDER_CASES = [
    # plain text and field chains
    ("no actions at all", "no actions at all"),
    ("{{ .metadata.name }}", "web"),
    ("{{.metadata.name}}", "web"),
    ("{{ .metadata.labels.tier }}", "front"),
    ("{{ $.metadata.name }}", "web"),
    ("{{ $ | len }}", "4"),
    ("{{ .kind }}/{{ .metadata.namespace }}", "Website/team-a"),
    ("{{ (index .spec.nested 1).name }}", "y"),
    ("{{ (index .spec.nested 0).port }}", "80"),
    ("{{ $n := index .spec.nested 1 }}{{ $n.name }}:{{ $n.port }}", "y:81"),
    # missing keys render empty, never <no value>
    ("[{{ .spec.missing }}]", "[]"),
    ("[{{ .spec.missing.deeper.still }}]", "[]"),
    ("[{{ .nothing }}]", "[]"),
    ("[{{ $.spec.missing }}]", "[]"),
    # literals
    ('{{ "a\\tb\\n\\"q\\" \\u00e9 \\x41 \\101" }}', 'a\tb\n"q" é A A'),
    ("{{ `raw \\n stays` }}", "raw \\n stays"),
    ("{{ 42 }}", "42"),
    ("{{ -7 }}", "-7"),
    ("{{ 0x1F }}", "31"),
    ("{{ 0o17 }}", "15"),
    ("{{ 017 }}", "15"),
    ("{{ 0b101 }}", "5"),
    ("{{ 1_000 }}", "1000"),
    ("{{ 3.25 }}", "3.25"),
    ("{{ 1e3 }}", "1000"),
    ("{{ .5 }}", "0.5"),
    ("{{ 'a' }}", "97"),
    ("{{ '\\n' }}", "10"),
    ('{{ "\\U0001F600|\\a\\b\\f\\v\\r|\\\\" | printf "%q" }}', '"\U0001f600|\\a\\b\\f\\v\\r|\\\\"'),
    ("{{ `multi\nline raw` }}", "multi\nline raw"),
    ("{{ 1. }} {{ -2.5e-3 }} {{ +4 }}", "1 -0.0025 4"),
    ("{{ true }} {{ false }}", "true false"),
    # printing rules
    ("{{ .spec.whole }}", "2"),
    ("{{ .spec.ratio }}", "2.5"),
    ("{{ .spec.enabled }}", "true"),
    ("{{ .spec.list }}", '["a","b","c"]'),
    ("{{ .spec.map }}", '{"a":1,"b":2,"c":3}'),
    ("{{ .spec.nested }}", '[{"name":"x","port":80},{"name":"y","port":81}]'),
    # pipelines: the piped value is the last argument
    ('{{ .metadata.name | printf "%s-%s" "pre" }}', "pre-web"),
    ('{{ .spec.missing | default "fallback" }}', "fallback"),
    ('{{ .spec.image | default "fallback" }}', "nginx:1.25"),
    ("{{ .metadata.name | upper | quote }}", '"WEB"'),
    ('{{ "a_b_c" | replace "_" "-" }}', "a-b-c"),
    ('{{ printf "%d" (len .spec.list) }}', "3"),
    ("{{ (.metadata.name) }}", "web"),
    ('{{ ("x" | upper) | printf "<%s>" }}', "<X>"),
    # variables
    ("{{ $x := .spec.replicas }}{{ $x }}", "3"),
    ("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", "2"),
    ("{{ $x := 1 }}{{ if true }}{{ $x = 5 }}{{ end }}{{ $x }}", "5"),
    ("{{ $x := 1 }}{{ if true }}{{ $x := 9 }}{{ $x }}{{ end }}{{ $x }}", "91"),
    # if / else if / else
    ("{{ if .spec.enabled }}yes{{ end }}", "yes"),
    ("{{ if .spec.off }}yes{{ else }}no{{ end }}", "no"),
    ("{{ if .spec.empty }}a{{ else if .spec.zero }}b{{ else if .spec.list }}c{{ else }}d{{ end }}", "c"),
    ("{{ if .spec.empty }}a{{ else if .spec.zero }}b{{ else }}d{{ end }}", "d"),
    ("{{ if .spec.tags }}t{{ else }}no tags{{ end }}", "no tags"),
    ("{{ if .spec.missing }}t{{ else }}nil is false{{ end }}", "nil is false"),
    ("{{ if $v := .spec.image }}{{ $v }}{{ end }}", "nginx:1.25"),
    ("{{ if and .spec.enabled (gt .spec.replicas 2) }}scale{{ end }}", "scale"),
    ("{{ if not .spec.off }}on{{ end }}", "on"),
    # range
    ("{{ range .spec.list }}{{ . }}{{ end }}", "abc"),
    ("{{ range $i, $v := .spec.list }}{{ $i }}={{ $v }};{{ end }}", "0=a;1=b;2=c;"),
    ("{{ range $v := .spec.list }}{{ $v }}{{ end }}", "abc"),
    ("{{ range $k, $v := .spec.map }}{{ $k }}{{ $v }}{{ end }}", "a1b2c3"),
    ("{{ range .spec.map }}{{ . }}{{ end }}", "123"),
    ("{{ range .spec.tags }}x{{ else }}none{{ end }}", "none"),
    ("{{ range .spec.missing }}x{{ else }}none{{ end }}", "none"),
    ("{{ range .spec.nested }}{{ .name }}:{{ .port }} {{ end }}", "x:80 y:81 "),
    ("{{ range .spec.nested }}{{ $.metadata.name }}-{{ .name }} {{ end }}", "web-x web-y "),
    ("{{ range .spec.nums }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}", "13"),
    ("{{ range .spec.nums }}{{ . }}{{ if eq . 2 }}{{ break }}{{ end }}!{{ end }}", "1!2"),
    ("{{ range 3 }}{{ . }}{{ end }}", "012"),
    ("{{ range $i, $v := .spec.list }}{{ range $.spec.nums }}{{ if eq . 2 }}{{ break }}{{ end }}{{ $i }}{{ end }}{{ end }}", "012"),
    # with
    ("{{ with .spec.image }}image={{ . }}{{ end }}", "image=nginx:1.25"),
    ("{{ with .spec.missing }}x{{ else }}absent{{ end }}", "absent"),
    ("{{ with $m := .metadata }}{{ $m.name }}{{ .namespace }}{{ end }}", "webteam-a"),
    ("{{ with .spec.empty }}a{{ else with .spec.image }}{{ . }}{{ end }}", "nginx:1.25"),
    # trim markers and comments
    ("a  {{- .metadata.name -}}  b", "awebb"),
    ("a\n  {{- .metadata.name }}\n b", "aweb\n b"),
    ("{{/* a comment */}}x", "x"),
    ("a {{- /* trimmed comment */ -}} b", "ab"),
    ("{{- 3}}", "3"),
    ("{{-3}}", "-3"),
    ('{{ "}}" }}|{{ `{{x}}` }}', "}}|{{x}}"),
    ("a {{- 1 }}\n\n{{- 2 -}}\n b", "a12b"),
    # multiline actions
    ("{{ if\n .spec.enabled\n }}ok{{ end }}", "ok"),
]


@pytest.mark.parametrize("src,expected", RENDER_CASES)
def test_render(src: str, expected: str) -> None:
    assert compile_template(src).render(CR) == expected


def test_extra_names_are_top_level() -> None:
    t = compile_template("{{ .metadata.name }}-{{ .region.name }}-{{ .item.name }}")
    region = {"name": "eu"}
    assert t.render(CR, item=region, region=region) == "web-eu-eu"
    # the CR itself is not modified by extra names
    assert "item" not in CR


NATIVE_CASES = [
    ("{{ .spec.replicas }}", 3),
    ("  {{ .spec.replicas }}\n", 3),
    ("{{/* note */}}{{ .spec.replicas }}", 3),
    ("{{ .spec.ratio }}", 2.5),
    ("{{ .spec.enabled }}", True),
    ("{{ .spec.list }}", ["a", "b", "c"]),
    ("{{ .spec.map }}", {"a": 1, "b": 2, "c": 3}),
    ("{{ .metadata.name }}", "web"),
    ("{{ .spec.missing }}", None),
    ("{{ default nil .spec.missing }}", None),
    ("{{ .spec.empty }}", ""),
    ("{{ .spec.replicas }}x", "3x"),
    ("{{ .spec.replicas }}{{ .spec.replicas }}", "33"),
    ("{{ if .spec.missing }}x{{ end }}", None),
    ("{{ $x := 5 }}", None),
    ("plain", "plain"),
    ("", ""),
]


@pytest.mark.parametrize("src,expected", NATIVE_CASES)
def test_render_value_native_types(src: str, expected: object) -> None:
    value = compile_template(src).render_value(CR)
    assert value == expected
    assert type(value) is type(expected)


def test_render_value_does_not_alias_the_cr() -> None:
    value = compile_template("{{ .spec.nested }}").render_value(CR)
    value[0]["name"] = "changed"
    assert CR["spec"]["nested"][0]["name"] == "x"


def test_compile_is_memoised() -> None:
    assert compile_template("{{ .a }}") is compile_template("{{ .a }}")


@pytest.mark.parametrize("value,expected", [("{{ x }}", True), ("a {{", True), ("plain", False),
                                            ("{ {", False), (3, False), (None, False)])
def test_is_template(value: object, expected: bool) -> None:
    assert is_template(value) is expected


def test_functions_used_are_reported() -> None:
    t = compile_template('{{ trim "x" | upper }}{{ default "a" .b }}')
    assert t.functions_used == {"trim", "upper", "default"}


def test_one_template_renders_concurrently_without_sharing_state() -> None:
    """Worker threads share compiled templates; variables live in a per-render frame."""
    from concurrent.futures import ThreadPoolExecutor

    t = compile_template("{{ $n := .name }}{{ range $i, $v := .items }}{{ $n }}{{ $i }}{{ $v }},{{ end }}")

    def render(k: int) -> tuple[str, str]:
        data = {"name": f"cr{k}", "items": list(range(k % 7))}
        expected = "".join(f"cr{k}{i}{i}," for i in range(k % 7))
        return t.render(data), expected

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(render, range(400)))
    assert all(got == expected for got, expected in results)
