"""`orkestra.kube.decode.loads`: objects nested deeper than Python's json can parse (issue 14,
"Bad input, everywhere") are cut, marked and refused with an error naming the field."""
import json
import tracemalloc

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


@pytest.mark.parametrize("text", ['{"n":' * 3000, '{"n":' * 3000 + '"unterminated', "[" * 3000 + '"x\\"]'])
def test_deep_text_that_ends_early_is_a_value_error_as_with_json_loads(text):
    with pytest.raises(ValueError):
        decode.loads(text)


def test_the_field_named_is_the_authors_not_its_copy_in_managed_fields():
    """The API server's `managedFields` mirror the spec's shape, so a deep spec is deep there too;
    the error names the spec field, whatever order the two were found in."""
    fields = '{"f:n":' * 3000 + "{}" + "}" * 3000
    text = f'{{"spec": {{"value": {deep(3000)}}}, "metadata": {{"name": "m", "managedFields": [{{"fieldsV1": {fields}}}]}}}}'
    obj = decode.loads(text)
    assert len(obj[decode.TOO_DEEP_KEY]) == 2
    assert decode.too_deep_error(obj).startswith('field "spec.value.n.n.n.n… (')


def test_the_fallback_needs_little_more_memory_than_json_loads_on_a_wide_object():
    """20 000 keys just above the cut depth beside the deep value: finding the cut fields must
    not copy a path per node (that took 9 times the memory of decoding the same text, a lever
    for a hostile CR to make the informer's answers cost far more than their size)."""
    wide = '{"n":' * 95 + "{" + ",".join(f'"k{i}": 0' for i in range(20_000)) + "}" + "}" * 95
    shallow = f'{{"metadata": {{"name": "w"}}, "spec": {{"wide": {wide}, "deep": 0}}}}'.encode()
    text = shallow.replace(b'"deep": 0', b'"deep": ' + deep(3000).encode())
    tracemalloc.start()
    try:
        json.loads(shallow)
        baseline = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        obj = decode.loads(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    (path,) = obj[decode.TOO_DEEP_KEY]
    assert path.startswith("spec.deep.n.") and path.count(".") == decode.MAX_DEPTH - 1
    assert peak < 3 * baseline, (peak, baseline)


@pytest.mark.parametrize("top", ['{"value": %s}', '[{"value": %s}]'])
def test_a_single_object_with_its_own_items_or_object_field_is_marked_itself(top):
    """A CRD that keeps unknown fields at the root lets a CR have top-level `items` or `object`
    (and `type`): answered alone (a GET, a patch), it is still the object to mark."""
    for key in ("items", "object"):
        inner = top % deep(3000)
        text = f'{{"apiVersion": "demo/v1", "kind": "Odd", "type": "x", "metadata": {{"name": "o"}}, "{key}": {inner}}}'
        doc = decode.loads(text)
        assert doc[decode.TOO_DEEP_KEY][0].startswith(f"{key}."), (key, top)
