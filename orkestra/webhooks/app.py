"""The webhook Flask app: one view per registered path, and nothing else.

`create_webhook_app` puts the `WebhookState` in `app.extensions` and registers the module-level
`webhooks_bp`, which routes only the paths the state's plan serves (others answer 404). Every view
runs the same envelope: strict request checks (`review`), the pure handler, serialisation, and
the stats/metrics recording with the time spent from parsing to serialising (docs/webhooks.md §8).
A request that passes those checks for certain (`_WebhookFlask.wsgi_app`) reaches its view without
Flask's request context and routing; anything else takes the Flask route and its error handlers.
Malformed input becomes a 400/405 JSON error; an exception inside a handler on a well-formed
review is logged with its traceback and answered 200 (allowed with a warning, or a conversion
`Failure`), so no request content can produce a 500.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException

from orkestra import metrics
from orkestra.errors import BadRequest
from orkestra.katalog.model import Katalog
from orkestra.webhooks import admission, protection
from orkestra.webhooks.admission import AdmissionResult, CacheLookup
from orkestra.webhooks.conversion import Converter, build_converters, convert_review
from orkestra.webhooks.plan import WebhookPlan, build_plan
from orkestra.webhooks.review import (
    ADMISSION_API, CONVERSION_API, MAX_BODY, TOO_LARGE, check_envelope, declared_length, parse_admission,
    parse_conversion, parse_json,
)
from orkestra.webhooks.stats import WebhookStats
from orkestra.webhooks.switches import WebhookSettings

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("orkestra.webhooks")


@dataclass
class WebhookState:
    """What the webhook views share: the plan, compiled converters, stats and the CR caches."""
    plan: WebhookPlan
    stats: WebhookStats
    cache_lookup: CacheLookup | None = None
    clock: Callable[[], float] = time.perf_counter
    converters: dict[tuple[str, str], Converter] = field(default_factory=dict)

    @classmethod
    def build(cls, katalog: Katalog, settings: WebhookSettings, *, cache_lookup: CacheLookup | None = None,
              clock: Callable[[], float] = time.perf_counter) -> "WebhookState":
        plan = build_plan(katalog, settings)
        return cls(plan=plan, stats=WebhookStats(settings.window), cache_lookup=cache_lookup, clock=clock,
                   converters=build_converters(plan))


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json")


def _read_review() -> dict:
    check_envelope(request.method, request.mimetype or "", request.content_length)
    try:
        body = request.get_data(cache=False)
    except HTTPException as e:
        raise (BadRequest(TOO_LARGE, 413) if e.code == 413
               else BadRequest("could not read the request body")) from None
    return parse_json(body)


def _envelope(api: tuple[str, str], response: dict) -> dict:
    return {"apiVersion": api[0], "kind": api[1], "response": response}


def _internal_admission(uid: str, path: str, error: Exception) -> dict:
    log.exception("webhook handler failed", extra={"path": path, "error": str(error)})
    return {"uid": uid, "allowed": True, "warnings": [f"orkestra: {path} could not evaluate the request: {error}"]}


def _state() -> WebhookState:
    return current_app.extensions["orkestra.webhooks"]


def _bad_request(path: str, e: BadRequest) -> Response:
    log.debug("bad webhook request", extra={"path": path, "status": e.status, "error": e.message})
    if path in ("/validate", "/mutate"):
        metrics.admission_requests.labels("", "", path[1:], "error").inc()
    elif path == "/convert":
        metrics.conversion_requests.labels("", "", "", "error").inc()
    return _json(e.status, {"error": e.message})


def _convert(st: WebhookState, read: Callable[[], dict]) -> Response:
    try:
        req = parse_conversion(read())
    except BadRequest as e:
        return _bad_request("/convert", e)
    try:
        response = convert_review(req, st.converters, st.stats, clock=st.clock)
    except Exception as e:
        log.exception("conversion handler failed", extra={"error": str(e)})
        response = {"uid": req["uid"], "convertedObjects": [],
                    "result": {"status": "Failure", "message": f"internal error: {e}"}}
    return _json(200, _envelope(CONVERSION_API, response))


def _admit(path: str, handler: Callable[[dict, WebhookState], AdmissionResult], st: WebhookState,
           read: Callable[[], dict]) -> Response:
    start = st.clock()
    try:
        req = parse_admission(read())
    except BadRequest as e:
        return _bad_request(path, e)
    try:
        result = handler(req, st)
    except Exception as e:
        result = AdmissionResult(_internal_admission(req["uid"], path, e))
    out = _json(200, _envelope(ADMISSION_API, result.response))
    admission.record(st.stats, path[1:], result, st.clock() - start, bool(req.get("dryRun")))
    return out


def _protect(path: str, feature: str, decide: Callable[[dict, WebhookPlan], tuple[dict, str | None]],
             st: WebhookState, read: Callable[[], dict]) -> Response:
    try:
        req = parse_admission(read())
    except BadRequest as e:
        return _bad_request(path, e)
    try:
        response, owner = decide(req, st.plan)
    except Exception as e:
        response, owner = _internal_admission(req["uid"], path, e), None
    out = _json(200, _envelope(ADMISSION_API, response))
    protection.record(st.stats, feature, req, response, owner)
    return out


def _validate(req: dict, st: WebhookState) -> AdmissionResult:
    return admission.validate(req, st.plan, st.cache_lookup)


def _mutate(req: dict, st: WebhookState) -> AdmissionResult:
    return admission.mutate(req, st.plan)


# Every view a plan may serve, by path: (state, reader of the parsed review) -> response. The
# blueprint routes only the plan's paths; `_WebhookFlask` calls the same views on its fast path.
_VIEWS: dict[str, Callable[[WebhookState, Callable[[], dict]], Response]] = {
    "/convert": _convert,
    "/validate": partial(_admit, "/validate", _validate),
    "/mutate": partial(_admit, "/mutate", _mutate),
    "/deletion-protection": partial(_protect, "/deletion-protection", "deletion", protection.deletion_decision),
    "/namespace-protection": partial(_protect, "/namespace-protection", "namespace", protection.namespace_decision),
}
# Any method reaches the view, which answers 405 itself (docs/webhooks.md §9).
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

webhooks_bp = Blueprint("webhooks", __name__)


@webhooks_bp.record
def _register_served(setup: BlueprintSetupState) -> None:
    """Routes for the paths the app's plan serves; every other path answers 404."""
    for path in sorted(setup.app.extensions["orkestra.webhooks"].plan.paths):
        setup.add_url_rule(path, endpoint=path, view_func=partial(_routed, _VIEWS[path]), methods=_METHODS,
                           provide_automatic_options=False)


def _routed(view: Callable[[WebhookState, Callable[[], dict]], Response]) -> Response:
    return view(_state(), _read_review)


@webhooks_bp.app_errorhandler(HTTPException)
def _http_error(e: HTTPException) -> Response:
    if e.code == 405:   # a method outside `_METHODS`: the same answer as the views give (§9)
        return _bad_request(request.path, BadRequest("method not allowed", 405))
    code = e.code if e.code == 404 else 400
    return _json(code, {"error": "not found" if code == 404 else (e.description or e.name).lower()})


@webhooks_bp.app_errorhandler(Exception)
def _unexpected(e: Exception) -> Response:  # nothing should reach here; never answer 500
    log.exception("webhook request failed", extra={"error": str(e)})
    return _json(400, {"error": "request could not be processed"})


class _WebhookFlask(Flask):
    """Flask with a fast path: a POST of `application/json` with a Content-Length within MAX_BODY to
    a served path goes straight to its view, without Flask's request context and routing (about a
    third of a no-op webhook's server time, paid twice per admitted create). Everything else (other
    methods or content types, no or oversized length, a chunked body, unknown paths) takes the
    Flask route and its error handlers; both routes answer alike."""

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        st: WebhookState = self.extensions["orkestra.webhooks"]
        path, length = environ.get("PATH_INFO", ""), declared_length(environ.get("CONTENT_LENGTH"))
        if (path not in st.plan.paths or environ.get("REQUEST_METHOD") != "POST" or length is None
                or length > MAX_BODY or environ.get("CONTENT_TYPE") != "application/json"
                or environ.get("wsgi.input_terminated")):   # chunked: the Flask route reads the stream
            return super().wsgi_app(environ, start_response)
        try:
            body = environ["wsgi.input"].read(length)
            if len(body) != length:
                response = _bad_request(path, BadRequest("could not read the request body"))
            else:
                response = _VIEWS[path](st, partial(parse_json, body))
        except Exception as e:   # as `_unexpected` on the Flask route: never a 500
            response = _unexpected(e)
        return response(environ, start_response)


def create_webhook_app(katalog: Katalog, state: WebhookState | None = None, *,
                       settings: WebhookSettings | None = None) -> Flask:
    """The HTTPS webhook app; `state` defaults to one built from `katalog` and `settings`."""
    app = _WebhookFlask("orkestra.webhooks")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.extensions["orkestra.webhooks"] = state or WebhookState.build(katalog, settings or WebhookSettings())
    app.register_blueprint(webhooks_bp)
    return app
