"""Malformed requests (docs/webhooks.md §9): exact statuses and messages, never a 500."""
from __future__ import annotations

import json

import pytest

from orkestra.webhooks.app import WebhookState, create_webhook_app
from orkestra.webhooks.review import MAX_BODY
from orkestra.webhooks.switches import WebhookSettings

from .katalogs import admission, load, obj

PATHS = ["/convert", "/validate", "/mutate", "/deletion-protection", "/namespace-protection"]


@pytest.fixture
def client(tmp_path):
    k = load(tmp_path)
    return create_webhook_app(k, WebhookState.build(k, WebhookSettings(enable_conversion=True,
                                                                       enable_admission=True))).test_client()


def error(resp):
    assert resp.mimetype == "application/json"
    return resp.status_code, resp.get_json()["error"]


@pytest.mark.parametrize("path", PATHS)
def test_method_other_than_post(client, path):
    assert error(client.get(path)) == (405, "method not allowed")
    assert error(client.put(path, data="{}", content_type="application/json")) == (405, "method not allowed")


@pytest.mark.parametrize("path", PATHS)
def test_unusual_method_has_the_same_405_message(client, path):
    # methods outside the usual set are refused by the router itself, before the view runs
    assert error(client.open(path, method="PROPFIND")) == (405, "method not allowed")
    assert error(client.open(path, method="TRACE")) == (405, "method not allowed")


@pytest.mark.parametrize("path", PATHS)
def test_content_type(client, path):
    assert error(client.post(path, data="{}", content_type="text/plain")) == (
        400, "content type must be application/json")
    # parameters are ignored
    resp = client.post(path, data="{}", content_type="application/json; charset=utf-8")
    assert resp.status_code == 400 and "content type" not in resp.get_json()["error"]


@pytest.mark.parametrize("path", PATHS)
def test_body_too_large(client, path):
    assert error(client.post(path, data=b" " * (MAX_BODY + 1), content_type="application/json")) == (
        413, f"request body too large (limit {MAX_BODY} bytes)")


def test_invalid_json(client):
    assert error(client.post("/validate", data="", content_type="application/json")) == (
        400, "invalid JSON: Expecting value: line 1 column 1")
    assert error(client.post("/validate", data="[1]", content_type="application/json"))[0] == 400
    assert error(client.post("/validate", data="\xff\xfe", content_type="application/json"))[0] == 400
    assert error(client.post("/validate", data="[" * 100000, content_type="application/json"))[0] == 400
    assert error(client.post("/validate", data='{"a": NaN}', content_type="application/json"))[0] == 400


def post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def test_wrong_api_version_or_kind(client):
    body = {"apiVersion": "apps/v1", "kind": "Deployment"}
    assert error(post(client, "/validate", body)) == (
        400, "expected admission.k8s.io/v1 AdmissionReview, got apps/v1 Deployment")
    assert error(post(client, "/convert", admission("CREATE", obj()))) == (
        400, "expected apiextensions.k8s.io/v1 ConversionReview, got admission.k8s.io/v1 AdmissionReview")


@pytest.mark.parametrize("uid", [None, "", 5])
def test_missing_uid(client, uid):
    review = admission("CREATE", obj())
    review["request"]["uid"] = uid
    assert error(post(client, "/mutate", review)) == (400, "invalid AdmissionReview: missing request.uid")


def test_conversion_review_shape(client):
    base = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview"}
    assert error(post(client, "/convert", base | {"request": {"uid": "u", "desiredAPIVersion": "a/v1",
                                                               "objects": {}}})) == (
        400, "invalid ConversionReview: request.objects must be a list")
    assert error(post(client, "/convert", base | {"request": {"uid": "u", "objects": []}}))[1] == (
        "invalid ConversionReview: missing request.desiredAPIVersion")
    assert error(post(client, "/convert", base | {"request": {"uid": "u", "desiredAPIVersion": "a/v1",
                                                               "objects": [3]}}))[0] == 400


def test_object_shapes(client):
    create = admission("CREATE", obj())
    create["request"]["object"] = None
    assert error(post(client, "/validate", create)) == (400, "invalid AdmissionReview: request.object must be an object")
    update = admission("UPDATE", obj(), None)
    assert error(post(client, "/validate", update)) == (
        400, "invalid AdmissionReview: request.oldObject must be an object")
    delete = admission("DELETE", None, obj())
    assert post(client, "/validate", delete).status_code == 200     # null object is valid on DELETE


def test_unregistered_path_is_404(client):
    assert error(client.post("/nope", data="{}", content_type="application/json")) == (404, "not found")


def test_internal_errors_answer_200_never_500(client, monkeypatch, caplog):
    from orkestra.webhooks import admission as handlers, conversion

    def boom(*args, **kwargs):
        raise RuntimeError("evaluator exploded")
    monkeypatch.setattr(handlers, "evaluate_validation", boom)
    resp = post(client, "/validate", admission("CREATE", obj(image="x")))
    assert resp.status_code == 200
    body = resp.get_json()["response"]
    assert body["uid"] == "u-1" and body["allowed"] is True
    assert body["warnings"] == ["orkestra: /validate could not evaluate the request: evaluator exploded"]
    assert any(r.exc_info for r in caplog.records)      # logged with its traceback

    monkeypatch.setattr(conversion.Converter, "convert", boom)
    review = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
              "request": {"uid": "c", "desiredAPIVersion": "data.example.io/v1", "objects": [
                  obj(kind="Cache", api_version="data.example.io/v1alpha1")]}}
    resp = post(client, "/convert", review)
    assert resp.status_code == 200
    assert resp.get_json()["response"] == {"uid": "c", "convertedObjects": [], "result": {
        "status": "Failure", "message": "internal error: evaluator exploded"}}


def _wsgi(client, path: str, body: bytes, **environ) -> tuple[str, dict]:
    """Call the app as a WSGI server would, with a hand-made environ (declared length and all)."""
    from werkzeug.test import create_environ
    env = create_environ(path, method="POST", data=body, content_type="application/json")
    env.update(environ)
    status: list[str] = []
    out = b"".join(client.application(env, lambda s, h, exc_info=None: status.append(s)))
    return status[0], json.loads(out)


@pytest.mark.parametrize("declared", ["\u00b2", "+5", " 5", "5_0"])
def test_a_content_length_that_is_not_plain_digits_is_a_400(client, declared):
    """`str.isdigit` accepts "²" (latin-1 0xB2), which `int` rejects; `int` accepts "+5", " 5" and
    "5_0", which are not HTTP lengths. None of them may reach a view as a length, or raise."""
    status, body = _wsgi(client, "/validate", b"{}", CONTENT_LENGTH=declared)
    assert status.startswith("400") and "error" in body


def test_a_body_shorter_than_its_length_and_a_failing_view_answer_400_on_the_fast_path(client, monkeypatch, caplog):
    review = json.dumps(admission("CREATE", obj(image="x"))).encode()
    status, body = _wsgi(client, "/validate", review[:10], CONTENT_LENGTH=str(len(review)))
    assert status.startswith("400") and body == {"error": "could not read the request body"}
    from orkestra.webhooks import admission as handlers

    def boom(*args, **kwargs):
        raise RuntimeError("stats exploded")
    monkeypatch.setattr(handlers, "record", boom)      # after the handler: escapes the view
    status, body = _wsgi(client, "/validate", review, CONTENT_LENGTH=str(len(review)))
    assert status.startswith("400") and body == {"error": "request could not be processed"}
    assert any(r.exc_info for r in caplog.records)
