"""Every function of docs/katalog.md#templates (Go built-ins and the v1 library), table-driven.

Each case is (template, expected text) rendered against DATA; the value-last argument order is
exercised both as a call and in pipeline form.
"""
from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime, timedelta, timezone

import pytest

from orkestra.template import FUNCTIONS, TemplateEvalError, compile_template, functions

DATA = {
    "metadata": {"name": "web", "generation": 3, "creationTimestamp": "2026-11-24T06:00:00Z"},
    "spec": {
        "name": "My_App.Name", "n": 7, "f": 2.5, "neg": -7, "s": "  padded  ", "csv": "a,b,c",
        "list": ["x", "y", "z"], "nums": [3, 1, 2], "map": {"b": 2, "a": 1}, "empty": "",
        "zero": 0, "t": True, "json": '{"k":[1,2]}', "version": "1.4.2", "numstr": "42",
        "long": "a" * 70,
    },
    "deploy": {
        "metadata": {"generation": 4},
        "spec": {"replicas": 2},
        "status": {"readyReplicas": 2, "observedGeneration": 4,
                   "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                                  {"type": "Progressing", "status": "False", "reason": "Stalled"}]},
    },
    "job": {"status": {"succeeded": 1, "conditions": [{"type": "Failed", "status": "False"}]}},
    "failedJob": {"status": {"conditions": [{"type": "Failed", "status": "True"}]}},
    "terminating": {"metadata": {"deletionTimestamp": "2026-11-24T07:00:00Z"}},
}

NOW = datetime(2026, 11, 24, 7, 30, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(functions, "CLOCK", lambda: NOW)


CASES = [
    # Go built-ins: boolean logic returns the deciding operand
    ("{{ and 1 2 }}", "2"), ("{{ and 1 0 2 }}", "0"), ('{{ and "" (fail "not evaluated") }}', ""),
    ("{{ or 0 .spec.missing 3 }}", "3"), ("{{ or 0 false }}", "false"),
    ('{{ or "x" (fail "not evaluated") }}', "x"), ("{{ .spec.zero | or 5 }}", "5"),
    ("{{ not 0 }}", "true"), ("{{ not .spec.list }}", "false"),
    # eq / ne with numeric comparison and nil == "" == 0
    ("{{ eq 1 1.0 }}", "true"), ('{{ eq "a" "b" "a" }}', "true"), ('{{ eq "a" "b" "c" }}', "false"),
    ('{{ eq .spec.missing "" }}', "true"), ("{{ eq .spec.missing 0 }}", "true"),
    ("{{ eq .spec.missing nil }}", "true"), ('{{ eq .spec.missing "x" }}', "false"),
    ('{{ eq 1 "1" }}', "false"), ("{{ eq true 1 }}", "false"), ("{{ ne 1 2 }}", "true"),
    ("{{ ne .spec.n 7 }}", "false"), ("{{ eq .spec.list .spec.list }}", "true"),
    # ordering
    ("{{ lt 1 2.5 }}", "true"), ("{{ le 2 2 }}", "true"), ("{{ gt 3 2 }}", "true"),
    ("{{ ge 1 2 }}", "false"), ('{{ lt "abc" "abd" }}', "true"), ("{{ gt .spec.n .spec.missing }}", "true"),
    ('{{ lt .spec.missing "a" }}', "true"), ("{{ le .spec.missing .spec.missing }}", "true"),
    # len, index, slice
    ("{{ len .spec.list }}", "3"), ("{{ len .spec.map }}", "2"), ('{{ len "héllo" }}', "5"),
    ("{{ len .spec.missing }}", "0"), ("{{ index .spec.list 1 }}", "y"),
    ('{{ index .spec.map "b" }}', "2"), ('{{ index .spec.map "zz" }}', ""),
    ('{{ index .deploy "status" "conditions" 0 "type" }}', "Available"),
    ("{{ index .spec.missing 3 }}", ""), ('{{ index "abc" 1 }}', "98"),
    ("{{ slice .spec.list 1 }}", '["y","z"]'), ("{{ slice .spec.list 0 2 }}", '["x","y"]'),
    ('{{ slice "hello" 1 4 }}', "ell"), ('{{ slice "hello" }}', "hello"),
    # print family
    ('{{ print "a" "b" }}', "ab"), ("{{ print 1 2 }}", "1 2"), ('{{ print "n=" 1 }}', "n=1"),
    ('{{ println "a" 1 }}', "a 1\n"), ("{{ print .spec.missing }}", ""),
    ('{{ printf "%s|%d|%v" "a" 5 .spec.list }}', 'a|5|["x","y","z"]'),
    ('{{ printf "%q" "a\\"b\\n" }}', '"a\\"b\\n"'), ('{{ printf "%5.2f|%.0f|%f" 3.14159 2.5 1 }}', " 3.14|2|1.000000"),
    ('{{ printf "%x|%X|%x" 255 255 "hi" }}', "ff|FF|6869"), ('{{ printf "%t|%%|%c" true 65 }}', "true|%|A"),
    ('{{ printf "[%6s][%-6s][%04d][%+d]" "ab" "ab" 42 5 }}', "[    ab][ab    ][0042][+5]"),
    ('{{ printf "%.3s" "abcdef" }}', "abc"), ('{{ printf "%d" .spec.missing }}', "0"),
    ('{{ printf "%e|%g|%g" 1234.5 0.5 2.0 }}', "1.234500e+03|0.5|2"), ('{{ printf "%o|%b" 8 5 }}', "10|101"),
    ('{{ printf "%d" 2.0 }}', "2"), ('{{ printf "%v" nil }}', ""),
    # strings
    ('{{ lower "AbC" }}', "abc"), ('{{ "AbC" | toLower }}', "abc"), ('{{ upper "abc" }}', "ABC"),
    ('{{ toUpper "abc" }}', "ABC"), ("{{ trim .spec.s }}", "padded"), ("{{ .spec.s | trimSpace }}", "padded"),
    ('{{ trimPrefix "My_" .spec.name }}', "App.Name"), ('{{ .spec.name | trimSuffix ".Name" }}', "My_App"),
    ('{{ hasPrefix "My" .spec.name }}', "true"), ('{{ .spec.name | hasSuffix "x" }}', "false"),
    ('{{ contains "App" .spec.name }}', "true"), ('{{ .spec.name | replace "_" "-" }}', "My-App.Name"),
    ('{{ split "," .spec.csv }}', '["a","b","c"]'), ('{{ .spec.csv | split "," | len }}', "3"),
    ('{{ split "," .spec.missing }}', "[]"), ('{{ join "-" .spec.list }}', "x-y-z"),
    ('{{ .spec.nums | join "+" }}', "3+1+2"), ('{{ join "," .spec.missing }}', ""),
    ('{{ substr 0 2 "hello" }}', "he"), ('{{ "hello" | substr 1 -1 }}', "ello"), ('{{ substr 3 99 "hello" }}', "lo"),
    ('{{ substr 4 2 "hello" }}', ""), ('{{ truncate 3 "hello" }}', "hel"), ('{{ truncate -2 "hello" }}', "lo"),
    ('{{ truncate 10 "hi" }}', "hi"), ('{{ quote "a\\"b" }}', '"a\\"b"'), ("{{ .spec.missing | quote }}", '""'),
    ("{{ lower .spec.missing }}", ""), ("{{ upper .spec.n }}", "7"),
    # Kubernetes names
    ('{{ truncateName 10 "short" }}', "short"),
    ("{{ dnsLabel .spec.name }}", "my-app-name"), ('{{ dnsLabel "--Hello World!--" }}', "hello-world"),
    ("{{ dnsLabel .spec.missing }}", ""),
    # defaults and logic
    ('{{ default "d" .spec.missing }}', "d"), ('{{ default "d" .spec.zero }}', "d"),
    ('{{ default "d" .spec.empty }}', "d"), ('{{ default "d" .spec.n }}', "7"),
    ('{{ .spec.list | default "d" }}', '["x","y","z"]'), ('{{ coalesce .spec.missing .spec.empty "c" "d" }}', "c"),
    ("{{ coalesce .spec.missing .spec.empty }}", ""), ('{{ ternary "yes" "no" .spec.t }}', "yes"),
    ('{{ .spec.zero | ternary "yes" "no" }}', "no"), ("{{ empty .spec.list }}", "false"),
    ("{{ empty .spec.missing }}", "true"), ("{{ notEmpty .spec.map }}", "true"), ("{{ notEmpty .spec.zero }}", "false"),
    ('{{ required "needed" .spec.n }}', "7"), ('{{ .spec.list | required "needed" }}', '["x","y","z"]'),
    # types
    ("{{ toString .spec.f }}", "2.5"), ("{{ toString .spec.missing }}", ""), ("{{ toInt .spec.numstr }}", "42"),
    ("{{ toInt 3.9 }}", "3"), ("{{ toInt -3.9 }}", "-3"), ("{{ toInt .spec.missing }}", "0"), ("{{ toInt true }}", "1"),
    ('{{ toFloat "2.5" }}', "2.5"), ("{{ toFloat 2 | typeOf }}", "number"), ('{{ toBool "true" }}', "true"),
    ('{{ toBool "0" }}', "false"), ("{{ toBool 2 }}", "true"), ("{{ toBool .spec.missing }}", "false"),
    ("{{ typeOf .spec.name }}", "string"), ("{{ typeOf .spec.n }}", "number"), ("{{ typeOf .spec.t }}", "bool"),
    ("{{ typeOf .spec.list }}", "list"), ("{{ typeOf .spec.map }}", "map"), ("{{ typeOf .spec.missing }}", "null"),
    ("{{ toJson .spec.map }}", '{"a":1,"b":2}'), ('{{ toJson "q\\"" }}', '"q\\""'), ("{{ toJson .spec.missing }}", "null"),
    ("{{ toJson 2.0 }}", "2"), ("{{ (fromJson .spec.json).k }}", "[1,2]"), ("{{ fromJson .spec.missing }}", ""),
    # math
    ("{{ add 1 2 }}", "3"), ("{{ add 1 2 3 }}", "6"), ("{{ add 1.5 1.5 }}", "3"), ("{{ add 0.1 0.2 | typeOf }}", "number"),
    ("{{ .spec.n | add 1 }}", "8"), ("{{ add .spec.missing 4 }}", "4"), ('{{ add "2" 3 }}', "5"),
    ("{{ sub 10 3 }}", "7"), ("{{ .spec.n | sub 10 }}", "3"), ("{{ mul 2 3 4 }}", "24"), ("{{ mul 2.5 2 }}", "5"),
    ("{{ div 7 2 }}", "3"), ("{{ div -7 2 }}", "-3"), ("{{ div 7.0 2 }}", "3.5"), ("{{ div 6.0 2 }}", "3"),
    ("{{ mod 7 3 }}", "1"), ("{{ mod -7 3 }}", "-1"), ("{{ mod 7.5 2 }}", "1.5"),
    ("{{ min 3 1 2 }}", "1"), ("{{ max 3 1 2.5 }}", "3"), ("{{ max 1.0 0 }}", "1"),
    ("{{ abs -4 }}", "4"), ("{{ abs .spec.neg }}", "7"), ("{{ abs -2.0 }}", "2"),
    # encoding
    ('{{ b64enc "hello" }}', "aGVsbG8="), ('{{ "hello" | toBase64 }}', "aGVsbG8="), ('{{ b64dec "aGVsbG8=" }}', "hello"),
    ('{{ fromBase64 "aGVsbG8" }}', "hello"), ('{{ b64dec "Pz8_" }}', "???"),
    ('{{ sha256sum "abc" }}', hashlib.sha256(b"abc").hexdigest()[:8]),
    ("{{ b64enc .spec.missing }}", ""),
    # collections
    ("{{ list 1 2 3 }}", "[1,2,3]"), ("{{ list }}", "[]"), ('{{ dict "a" 1 "b" "x" }}', '{"a":1,"b":"x"}'),
    ('{{ (dict "k" .spec.n).k }}', "7"), ("{{ keys .spec.map }}", '["a","b"]'), ("{{ keys .spec.missing }}", "[]"),
    ('{{ hasKey .spec.map "a" }}', "true"), ('{{ hasKey .spec.missing "a" }}', "false"),
    ('{{ get .spec.map "b" }}', "2"), ('{{ get .spec.map "zz" }}', ""), ("{{ first .spec.list }}", "x"),
    ("{{ last .spec.list }}", "z"), ("{{ first .spec.missing }}", ""), ("{{ last (list) }}", ""),
    ('{{ append .spec.list "w" }}', '["x","y","z","w"]'), ('{{ "w" | append .spec.missing }}', '["w"]'),
    ('{{ has "y" .spec.list }}', "true"), ("{{ has 1.0 .spec.nums }}", "true"), ('{{ has "q" .spec.missing }}', "false"),
    # safe access
    ('{{ getOr . "spec.map.a" "fb" }}', "1"), ('{{ getOr . "spec.nope.deep" "fb" }}', "fb"),
    ('{{ getOr .deploy "status.conditions.1.reason" "" }}', "Stalled"), ('{{ getOr .spec.missing "a" 5 }}', "5"),
    ('{{ getOr . "spec.list.9" "none" }}', "none"),
    # time (clock pinned to 2026-11-24T07:30:00Z)
    ("{{ now }}", "2026-11-24T07:30:00Z"), ('{{ timeFormat "%Y/%m/%d %H:%M" .metadata.creationTimestamp }}', "2026/11/24 06:00"),
    ('{{ now | timeFormat "%H%M" }}', "0730"), ('{{ timeFormat "%Y" .spec.missing }}', ""),
    ("{{ timeSince .metadata.creationTimestamp }}", "1h30m0s"), ('{{ timeSince "2026-11-24T07:29:55+00:00" }}', "5s"),
    ("{{ timeSince .spec.missing }}", ""), ('{{ durationSeconds "1h30m" }}', "5400"), ('{{ durationSeconds "1.5s" }}', "1.5"),
    ("{{ durationSeconds 30 }}", "30"), ('{{ isExpired .metadata.creationTimestamp "1h" }}', "true"),
    ('{{ isExpired .metadata.creationTimestamp "2h" }}', "false"), ('{{ isExpired .metadata.creationTimestamp 5400 }}', "false"),
    ('{{ isExpired .spec.missing "1s" }}', "false"), ('{{ isExpired "2026-11-24T07:29:00" "30s" }}', "true"),
    # Kubernetes objects
    ('{{ hasCondition .deploy "Available" }}', "true"), ('{{ hasCondition .deploy "Progressing" }}', "false"),
    ('{{ hasCondition .spec.missing "Available" }}', "false"), ('{{ conditionStatus .deploy "Progressing" }}', "False"),
    ('{{ conditionStatus .deploy "Nope" }}', ""), ('{{ conditionReason .deploy "Available" }}', "MinimumReplicasAvailable"),
    ("{{ readyReplicas .deploy }}", "2"), ("{{ readyReplicas .spec.missing }}", "0"), ("{{ allReplicasReady .deploy }}", "true"),
    ('{{ allReplicasReady (dict "spec" (dict "replicas" 3) "status" (dict "readyReplicas" 2)) }}', "false"),
    ('{{ allReplicasReady (dict "metadata" (dict "generation" 5) "status" (dict "readyReplicas" 1 "observedGeneration" 4)) }}', "false"),
    ('{{ allReplicasReady (dict "status" (dict "readyReplicas" 1)) }}', "true"), ("{{ allReplicasReady .spec.missing }}", "false"),
    ("{{ jobSucceeded .job }}", "true"), ("{{ jobFailed .job }}", "false"), ("{{ jobFailed .failedJob }}", "true"),
    ("{{ jobSucceeded .failedJob }}", "false"), ("{{ isTerminating .terminating }}", "true"), ("{{ isTerminating .deploy }}", "false"),
    # versions
    ('{{ semverCompare ">=1.2.0" .spec.version }}', "true"), ('{{ .spec.version | semverCompare "^1.5" }}', "false"),
    ('{{ semverCompare "~1.4" .spec.version }}', "true"), ('{{ semverCompare ">=1.0, <1.4" .spec.version }}', "false"),
    ('{{ semverCompare "<1.0 || >=1.4.2" .spec.version }}', "true"), ('{{ semverCompare ">=1.0" .spec.missing }}', "false"),
]


def test_a_naive_clock_is_taken_as_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(functions, "CLOCK", lambda: datetime(2026, 11, 24, 8, 0, 0))
    assert compile_template("{{ now }}|{{ timeSince .metadata.creationTimestamp }}").render(DATA) == \
        "2026-11-24T08:00:00Z|2h0m0s"


def test_now_with_another_offset_is_rfc3339(monkeypatch: pytest.MonkeyPatch) -> None:
    plus2 = timezone(timedelta(hours=2))
    monkeypatch.setattr(functions, "CLOCK", lambda: datetime(2026, 11, 24, 9, 30, 0, 123, tzinfo=plus2))
    assert compile_template("{{ now }}").render(DATA) == "2026-11-24T09:30:00+02:00"
    assert compile_template("{{ timeSince .metadata.creationTimestamp }}").render(DATA) == "1h30m0s"


@pytest.mark.parametrize("src,expected", CASES)
def test_function(src: str, expected: str) -> None:
    assert compile_template(src).render(DATA) == expected


def test_every_library_function_has_a_case() -> None:
    used = set()
    for src, _ in CASES:
        used |= compile_template(src).functions_used
    untested = set(FUNCTIONS) - used - {"fail", "required", "uuidv4", "randomAlphanumeric", "randomHex",
                                        "randomBase64", "truncateName"}
    assert not untested, f"functions without a table case: {sorted(untested)}"


def test_truncate_name_follows_the_default_name_rule() -> None:
    long_name = DATA["spec"]["long"]
    out = compile_template("{{ truncateName 63 .spec.long }}").render(DATA)
    assert len(out) == 63
    assert out == long_name[:57] + "-" + hashlib.sha256(long_name.encode()).hexdigest()[:5]
    assert compile_template('{{ "a" | truncateName 63 }}').render(DATA) == "a"


def test_dns_label_is_at_most_63() -> None:
    out = compile_template('{{ dnsLabel (printf "%s-%s" .spec.long .spec.long) }}').render(DATA)
    assert len(out) == 63 and re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", out)


@pytest.mark.parametrize("src,pattern", [
    ("{{ randomAlphanumeric 24 }}", r"[A-Za-z0-9]{24}"),
    ("{{ randomHex 7 }}", r"[0-9a-f]{7}"),
    ("{{ uuidv4 }}", r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"),
])
def test_random_values_have_the_right_shape_and_change(src: str, pattern: str) -> None:
    t = compile_template(src)
    values = {t.render(DATA) for _ in range(5)}
    assert all(re.fullmatch(pattern, v) for v in values)
    assert len(values) > 1


def test_random_base64_encodes_n_bytes() -> None:
    out = compile_template("{{ randomBase64 16 }}").render(DATA)
    assert len(base64.b64decode(out)) == 16


NATIVE = [
    ("{{ add 1 2 }}", 3), ("{{ div 7.0 2 }}", 3.5), ("{{ add 1.5 1.5 }}", 3), ("{{ list 1 2 }}", [1, 2]),
    ('{{ dict "a" 1 }}', {"a": 1}), ('{{ split "," "a,b" }}', ["a", "b"]), ("{{ toBool 1 }}", True),
    ("{{ fromJson .spec.json }}", {"k": [1, 2]}), ("{{ keys .spec.map }}", ["a", "b"]),
]


@pytest.mark.parametrize("src,expected", NATIVE)
def test_native_results(src: str, expected: object) -> None:
    value = compile_template(src).render_value(DATA)
    assert value == expected and type(value) is type(expected)


EVAL_ERRORS = [
    ("{{ div 1 0 }}", "div: division by zero"), ("{{ mod 1 0 }}", "mod: division by zero"),
    ('{{ toInt "abc" }}', 'toInt: cannot convert string of 3 characters to a number'), ('{{ toFloat "x1" }}', "toFloat: cannot convert"),
    ('{{ toBool "maybe" }}', "toBool: cannot convert"), ('{{ fromJson "{bad" }}', "fromJson: invalid JSON"),
    ('{{ b64dec "%%%" }}', "b64dec: invalid base64"), ('{{ dict "a" }}', "dict: expected key/value pairs"),
    ('{{ keys "str" }}', "keys: expected a map, got string"), ('{{ first "str" }}', "first: expected a list"),
    ('{{ add "x" 1 }}', "add: cannot convert"), ("{{ randomHex -1 }}", "randomHex: length must be"),
    ('{{ timeSince "yesterday" }}', "timeSince: string of 9 characters is not an RFC 3339 time"),
    ('{{ durationSeconds "forever" }}', "durationSeconds: invalid duration"),
    ('{{ semverCompare ">=1.2" "one.two" }}', "semverCompare: invalid version"),
    ('{{ semverCompare ">>1.2" "1.2.0" }}', "semverCompare: invalid constraint"),
    ('{{ truncateName 3 "abcdef" }}', "truncateName: limit 3"), ('{{ required "image is required" "" }}', "image is required"),
    ('{{ .spec.zero | required "replicas must be set" }}', "replicas must be set"),
    ("{{ required .spec.missing (list) }}", "required value is missing"),
    ('{{ toInt "nan" }}', "toInt: cannot convert"), ('{{ b64dec "-_8" }}', "b64dec: the decoded bytes are not UTF-8"),
]


@pytest.mark.parametrize("src,message", EVAL_ERRORS)
def test_library_eval_errors(src: str, message: str) -> None:
    with pytest.raises(TemplateEvalError) as info:
        compile_template(src).render(DATA)
    assert message in str(info.value)
