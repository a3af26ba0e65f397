"""`orkestra.kube.decode.loads`: objects nested deeper than Python's json can parse (issue 14,
"Bad input, everywhere") are cut, marked and refused with an error naming the field."""
import json

import pytest

from orkestra.kube import decode


def deep(depth: int, leaf: str = '"leaf"') -> str:
    return '{"n":' * depth + leaf + "}" * depth


def cr(name: str, value: str) -> str:
    return f'{{"metadata": {{"name": "{name}", "resourceVersion": "7"}}, "spec": {{"value": {value}, "ok": "a{{[\\"b"}}}}'


def test_ordinary_documents_decode_exactly_as_json_loads():
    text = cr("a", '[1, {"x": "}]{["}]')
    assert decode.loads(text.encode()) == json.loads(text)
    assert decode.too_deep_error(json.loads(text)) is None


def test_a_watch_event_with_a_5000_level_value_is_cut_and_marked_on_its_object():
    with pytest.raises(RecursionError):
        json.loads(cr("deep", deep(5000)))
    event = decode.loads(f'{{"type": "ADDED", "object": {cr("deep", deep(5000))}}}'.encode())
    obj = event["object"]
    assert obj["metadata"] == {"name": "deep", "resourceVersion": "7"} and obj["spec"]["ok"] == 'a{["b'
    (path,) = obj[decode.TOO_DEEP_KEY]
    assert path.startswith("spec.value.n.n.") and path.count(".") == decode.MAX_DEPTH - 2
    error = decode.too_deep_error(obj)
    assert error.startswith('field "spec.value.n.n.n.n… (') and f"deeper than {decode.MAX_DEPTH} levels" in error


def test_in_a_list_only_the_deep_item_is_marked():
    text = f'{{"kind": "List", "items": [{cr("a", "1")}, {cr("deep", deep(3000))}, {cr("c", "[[]]")}]}}'
    doc = decode.loads(text)
    assert [i["metadata"]["name"] for i in doc["items"]] == ["a", "deep", "c"]
    assert decode.TOO_DEEP_KEY not in doc and decode.TOO_DEEP_KEY not in doc["items"][0]
    assert doc["items"][1][decode.TOO_DEEP_KEY][0].startswith("spec.value.n.")
    assert doc["items"][2]["spec"]["value"] == [[]]


def test_deep_arrays_and_escaped_quotes_are_cut_at_the_right_place():
    value = "[" * 2000 + '"\\"]}"' + "]" * 2000
    doc = decode.loads(cr("arr", value))
    assert doc["spec"]["ok"] == 'a{["b' and decode.TOO_DEEP_KEY in doc
