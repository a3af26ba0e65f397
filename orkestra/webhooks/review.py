"""Strict parsing of webhook request bodies (docs/webhooks.md §9).

Everything a request can get wrong is checked here, before any handler sees the review, and
reported as a `BadRequest` (HTTP status + message). The handlers may then rely on the shapes
checked here: `request` is a dict with a non-empty string `uid`; an AdmissionReview has a
`kind` dict of strings, a known `operation`, and `object`/`oldObject` dicts where the
operation requires them; a ConversionReview has a `desiredAPIVersion` string and a list of
object dicts. Pure functions, no Flask.
"""
from __future__ import annotations

import json
from typing import Any

from orkestra.errors import BadRequest

# The API server accepts request bodies up to 3 MiB, and an UPDATE's AdmissionReview carries two
# objects (`object` and `oldObject`), re-encoded as JSON (often larger than the protobuf or YAML
# the client sent): room for two 3 MiB objects and the envelope, so real traffic never gets a 413.
MAX_BODY = 7 * 1024 * 1024
TOO_LARGE = f"request body too large (limit {MAX_BODY} bytes)"
ADMISSION_API = ("admission.k8s.io/v1", "AdmissionReview")
CONVERSION_API = ("apiextensions.k8s.io/v1", "ConversionReview")
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def check_envelope(method: str, mimetype: str, length: int | None) -> None:
    """Method, content type and declared size, checked before the body is read."""
    if method != "POST":
        raise BadRequest("method not allowed", 405)
    if mimetype.lower() != "application/json":
        raise BadRequest("content type must be application/json")
    if length is not None and length > MAX_BODY:
        raise BadRequest(TOO_LARGE, 413)


def declared_length(raw: str | None) -> int | None:
    """A Content-Length header as an int; None when absent or not plain ASCII digits.

    `str.isdigit` alone accepts "²" (latin-1 0xB2), which `int` rejects; `int` alone accepts "+5",
    " 5" and "5_0", which HTTP does not. The listener and the app's fast path read lengths here."""
    return int(raw) if raw and raw.isascii() and raw.isdigit() else None


def parse_json(body: bytes) -> dict:
    if len(body) > MAX_BODY:
        raise BadRequest(TOO_LARGE, 413)
    try:
        doc = json.loads(body, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise BadRequest(f"invalid JSON: {e.msg}: line {e.lineno} column {e.colno}") from None
    except (ValueError, RecursionError) as e:  # bad UTF-8, NaN/Infinity, absurd nesting
        raise BadRequest(f"invalid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise BadRequest("invalid JSON: the body must be an object")
    return doc


def _check_type(doc: dict, expected: tuple[str, str]) -> dict:
    api, kind = doc.get("apiVersion"), doc.get("kind")
    if (api, kind) != expected:
        raise BadRequest(f"expected {expected[0]} {expected[1]}, got {_show(api)} {_show(kind)}")
    what = expected[1]
    request = doc.get("request")
    if not isinstance(request, dict):
        raise BadRequest(f"invalid {what}: missing request")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise BadRequest(f"invalid {what}: missing request.uid")
    return request


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value if value else '""'
    return "<missing>" if value is None else json.dumps(value)[:60]


def parse_admission(doc: dict) -> dict:
    """The validated `request` of an AdmissionReview."""
    request = _check_type(doc, ADMISSION_API)
    bad = "invalid AdmissionReview: "
    kind = request.get("kind")
    if not (isinstance(kind, dict) and all(isinstance(kind.get(k), str) for k in ("group", "version", "kind"))):
        raise BadRequest(bad + "request.kind must be an object with string group, version and kind")
    op = request.get("operation")
    if op not in OPERATIONS:
        raise BadRequest(bad + "request.operation must be one of " + ", ".join(OPERATIONS))
    for key in ("namespace", "name"):
        if request.get(key) is not None and not isinstance(request.get(key), str):
            raise BadRequest(bad + f"request.{key} must be a string")
    resource = request.get("resource")
    if resource is not None and not (isinstance(resource, dict)
                                     and all(isinstance(resource.get(k, ""), str)
                                             for k in ("group", "version", "resource"))):
        raise BadRequest(bad + "request.resource must be an object with string group, version and resource")
    if request.get("dryRun") is not None and not isinstance(request.get("dryRun"), bool):
        raise BadRequest(bad + "request.dryRun must be a boolean")
    obj, old = request.get("object"), request.get("oldObject")
    if not (isinstance(obj, dict) or (obj is None and op == "DELETE")):
        raise BadRequest(bad + "request.object must be an object")
    if op in ("UPDATE", "DELETE") and not isinstance(old, dict):
        raise BadRequest(bad + "request.oldObject must be an object")
    if old is not None and not isinstance(old, dict):
        raise BadRequest(bad + "request.oldObject must be an object")
    for name, value in (("object", obj), ("oldObject", old)):
        if isinstance(value, dict):
            _check_metadata(value, f"request.{name}")
    return request


def _check_metadata(obj: dict, path: str) -> None:
    meta = obj.get("metadata")
    if meta is None:
        return
    bad = "invalid AdmissionReview: "
    if not isinstance(meta, dict):
        raise BadRequest(bad + f"{path}.metadata must be an object")
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is not None and not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
            raise BadRequest(bad + f"{path}.metadata.{key} must map strings to strings")
    for key in ("name", "namespace", "uid", "deletionTimestamp", "creationTimestamp"):
        if meta.get(key) is not None and not isinstance(meta.get(key), str):
            raise BadRequest(bad + f"{path}.metadata.{key} must be a string")


def parse_conversion(doc: dict) -> dict:
    """The validated `request` of a ConversionReview."""
    request = _check_type(doc, CONVERSION_API)
    bad = "invalid ConversionReview: "
    desired = request.get("desiredAPIVersion")
    if not isinstance(desired, str) or not desired:
        raise BadRequest(bad + "missing request.desiredAPIVersion")
    objects = request.get("objects")
    if not isinstance(objects, list):
        raise BadRequest(bad + "request.objects must be a list")
    for i, obj in enumerate(objects):
        if not isinstance(obj, dict):
            raise BadRequest(bad + f"request.objects[{i}] must be an object")
        if not isinstance(obj.get("apiVersion"), str) or not isinstance(obj.get("kind"), str):
            raise BadRequest(bad + f"request.objects[{i}] must have string apiVersion and kind")
        meta = obj.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            raise BadRequest(bad + f"request.objects[{i}].metadata must be an object")
    return request
