"""The webhook Flask app: one view per registered path, and nothing else.

`create_webhook_app` registers only the paths the plan serves (others answer 404). Every view
runs the same envelope: strict request checks (`review`), the pure handler, serialisation, and
the stats/metrics recording with the time spent from parsing to serialising (docs/webhooks.md §8).
Malformed input becomes a 400/405 JSON error; an exception inside a handler on a well-formed
review is logged with its traceback and answered 200 (allowed with a warning, or a conversion
`Failure`), so no request content can produce a 500.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from orkestra import metrics
from orkestra.katalog.model import Katalog
from orkestra.webhooks import admission, protection
from orkestra.webhooks.admission import AdmissionResult, CacheLookup
from orkestra.webhooks.conversion import Converter, build_converters, convert_review
from orkestra.webhooks.plan import WebhookPlan, build_plan
from orkestra.webhooks.review import (
    ADMISSION_API, CONVERSION_API, MAX_BODY, TOO_LARGE, BadRequest, check_envelope, parse_admission, parse_conversion,
    parse_json,
)
from orkestra.webhooks.stats import WebhookStats
from orkestra.webhooks.switches import WebhookSettings

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
        raise (BadRequest(413, TOO_LARGE) if e.code == 413
               else BadRequest(400, "could not read the request body")) from None
    return parse_json(body)


def _envelope(api: tuple[str, str], response: dict) -> dict:
    return {"apiVersion": api[0], "kind": api[1], "response": response}


def _internal_admission(uid: str, path: str, error: Exception) -> dict:
    log.exception("webhook handler failed", extra={"path": path, "error": str(error)})
    return {"uid": uid, "allowed": True, "warnings": [f"orkestra: {path} could not evaluate the request: {error}"]}


def create_webhook_app(katalog: Katalog, state: WebhookState | None = None, *,
                       settings: WebhookSettings | None = None) -> Flask:
    """The HTTPS webhook app; `state` defaults to one built from `katalog` and `settings`."""
    st = state or WebhookState.build(katalog, settings or WebhookSettings())
    app = Flask("orkestra.webhooks")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY

    def bad_request(path: str, e: BadRequest) -> Response:
        log.debug("bad webhook request", extra={"path": path, "status": e.status, "error": e.message})
        if path in ("/validate", "/mutate"):
            metrics.admission_requests.labels("", "", path[1:], "error").inc()
        elif path == "/convert":
            metrics.conversion_requests.labels("", "", "", "error").inc()
        return _json(e.status, {"error": e.message})

    def convert_view() -> Response:
        try:
            req = parse_conversion(_read_review())
        except BadRequest as e:
            return bad_request("/convert", e)
        try:
            response = convert_review(req, st.converters, st.stats, clock=st.clock)
        except Exception as e:
            log.exception("conversion handler failed", extra={"error": str(e)})
            response = {"uid": req["uid"], "convertedObjects": [],
                        "result": {"status": "Failure", "message": f"internal error: {e}"}}
        return _json(200, _envelope(CONVERSION_API, response))

    def admission_view(path: str, handler: Callable[[dict], AdmissionResult]) -> Callable[[], Response]:
        webhook = path[1:]

        def view() -> Response:
            start = st.clock()
            try:
                req = parse_admission(_read_review())
            except BadRequest as e:
                return bad_request(path, e)
            try:
                result = handler(req)
            except Exception as e:
                result = AdmissionResult(_internal_admission(req["uid"], path, e))
            out = _json(200, _envelope(ADMISSION_API, result.response))
            admission.record(st.stats, webhook, result, st.clock() - start, bool(req.get("dryRun")))
            return out
        return view

    def protection_view(path: str, feature: str,
                        decide: Callable[[dict, WebhookPlan], tuple[dict, str | None]]) -> Callable[[], Response]:
        def view() -> Response:
            try:
                req = parse_admission(_read_review())
            except BadRequest as e:
                return bad_request(path, e)
            try:
                response, owner = decide(req, st.plan)
            except Exception as e:
                response, owner = _internal_admission(req["uid"], path, e), None
            out = _json(200, _envelope(ADMISSION_API, response))
            protection.record(st.stats, feature, req, response, owner)
            return out
        return view

    views: dict[str, Callable[[], Response]] = {
        "/convert": convert_view,
        "/validate": admission_view("/validate",
                                    lambda r: admission.validate(r, st.plan, st.cache_lookup)),
        "/mutate": admission_view("/mutate", lambda r: admission.mutate(r, st.plan)),
        "/deletion-protection": protection_view("/deletion-protection", "deletion", protection.deletion_decision),
        "/namespace-protection": protection_view("/namespace-protection", "namespace",
                                                 protection.namespace_decision),
    }
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    for path in sorted(st.plan.paths):
        app.add_url_rule(path, endpoint=path, view_func=views[path], methods=methods,
                         provide_automatic_options=False)

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Response:
        if e.code == 405:   # a method outside `methods`: the same answer as the views give (§9)
            return bad_request(request.path, BadRequest(405, "method not allowed"))
        code = e.code if e.code == 404 else 400
        return _json(code, {"error": "not found" if code == 404 else (e.description or e.name).lower()})

    @app.errorhandler(Exception)
    def unexpected(e: Exception) -> Response:  # nothing should reach here; never answer 500
        log.exception("webhook request failed", extra={"error": str(e)})
        return _json(400, {"error": "request could not be processed"})

    app.extensions["orkestra.webhooks"] = st
    return app
