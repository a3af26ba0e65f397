"""Field paths and value resolution (docs/katalog.md#conditions)."""
import pytest

from orkestra.conditions import MISSING, PathError, lookup, parse_path, resolve_field
from orkestra.conditions.paths import json_pointer

OBJ = {
    "metadata": {
        "name": "web",
        "labels": {"app.kubernetes.io/name": "shop", "team": "core", "0": "zero-key"},
    },
    "spec": {
        "image": "nginx:1.27",
        "replicas": 5,
        "ratio": 2.5,
        "whole": 10.0,
        "public": True,
        "off": False,
        "nothing": None,
        "empty": "",
        "items": [{"name": "first"}, {"name": "second"}],
        "map": {"b": 1, "a": [1, "x"]},
        "list": [],
    },
}


@pytest.mark.parametrize("path, expected", [
    ("spec.image", "nginx:1.27"),
    ("spec.items.0.name", "first"),
    ("spec.items[1].name", "second"),
    ("spec.items[1]", {"name": "second"}),
    ('metadata.labels["app.kubernetes.io/name"]', "shop"),
    ("metadata.labels['app.kubernetes.io/name']", "shop"),
    ("metadata.labels.0", "zero-key"),          # a digit segment on a map is a key
    ('metadata.labels["0"]', "zero-key"),
    (".spec.image", "nginx:1.27"),              # leading dot tolerated
    ("spec.nothing", None),                     # explicit null is kept as None
])
def test_lookup_finds_values(path, expected):
    assert lookup(OBJ, path) == expected


@pytest.mark.parametrize("path", [
    "spec.absent", "spec.items.5.name", "spec.items.x", "spec.image.deeper",
    'spec.items["0"]',                          # a quoted key never indexes a list
    "metadata.labels.team.more",
])
def test_lookup_missing(path):
    assert lookup(OBJ, path) is MISSING


@pytest.mark.parametrize("path, expected", [
    ("spec.replicas", "5"),
    ("spec.whole", "10"),
    ("spec.ratio", "2.5"),
    ("spec.public", "true"),
    ("spec.off", "false"),
    ("spec.nothing", ""),
    ("spec.absent", ""),
    ("spec.empty", ""),
    ("spec.items[0]", '{"name":"first"}'),
    ("spec.list", "[]"),
    ("spec.map.a", '[1,"x"]'),
])
def test_resolve_field_string_forms(path, expected):
    assert resolve_field(OBJ, path) == expected


def test_resolve_field_renders_templates():
    assert resolve_field(OBJ, "{{ .metadata.name }}-{{ .spec.replicas }}") == "web-5"
    assert resolve_field(OBJ, "{{ .spec.whole }}") == "10"
    assert resolve_field(OBJ, "{{ .item.x }}", {"item": {"x": "from-extra"}}) == "from-extra"


def test_parse_path_segments():
    segments = parse_path('a.b[2]["c.d"].3')
    assert [s.key for s in segments] == ["a", "b", "2", "c.d", "3"]
    assert [s.index for s in segments] == [None, None, 2, None, 3]


@pytest.mark.parametrize("bad", ["", "  ", "a..b", "a.", "a[x]", 'a["unterminated]', "a[0]b", "a]"])
def test_parse_path_rejects_bad_paths(bad):
    with pytest.raises(PathError):
        parse_path(bad)


def test_json_pointer_escapes_tilde_and_slash():
    assert json_pointer(parse_path('metadata.annotations["a/b~c"]')) == "/metadata/annotations/a~1b~0c"
