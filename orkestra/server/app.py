"""The runtime HTTP API (runtime.md §12): a Flask application factory over one engine.

`create_app(engine)` registers three blueprints (probes, metrics, katalog) and JSON error
handlers; nothing happens at import time. Views only route and validate input: the documents
come from `orkestra.server.shapes` and the data from the engine's snapshot methods and caches.
Input never causes a 500: unknown paths and CRDs answer 404, bad query parameters 400, and an
unexpected error is logged and answered `{"error": "internal error"}`.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from orkestra.server import shapes

log = logging.getLogger("orkestra.server")


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _engine() -> Any:
    return current_app.config["ENGINE"]


def _json(body: Any, status: int = 200) -> Response:
    resp = jsonify(body)
    resp.status_code = status
    return resp


def _query(allowed: tuple[str, ...]) -> dict[str, str]:
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        raise BadRequest(f'unknown query parameter "{unknown[0]}"' + (f"; allowed: {', '.join(allowed)}" if allowed else ""))
    return {k: request.args.get(k, "") for k in allowed if k in request.args}


# ---------------------------------------------------------------------------- probes
probes = Blueprint("probes", __name__)


def _probe(name: str) -> Response:
    engine = _engine()
    proc = engine.process_snapshot()
    body, status = shapes.probe_body(name, proc[name], proc)
    return _json(body, status)


@probes.get("/startup")
def startup() -> Response:
    return _probe("startup")


@probes.get("/health")
def health() -> Response:
    return _probe("health")


@probes.get("/ready")
def ready() -> Response:
    return _probe("ready")


# ---------------------------------------------------------------------------- metrics
metrics_bp = Blueprint("metrics", __name__)


@metrics_bp.get("/metrics")
def metrics() -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    import orkestra.metrics  # noqa: F401 - registers every family (the engine has, in practice)
    return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)


# ---------------------------------------------------------------------------- katalog
katalog_bp = Blueprint("katalog", __name__)


@katalog_bp.get("/katalog")
def katalog() -> Response:
    _query(())
    engine = _engine()
    proc = engine.process_snapshot()
    snaps = {key: engine.crd_snapshot(key) for key in engine.katalog.crds}
    namespaces = shapes.namespaces_of({key: engine.cached_crs(key) for key in engine.katalog.crds})
    protection = engine.webhooks.describe_katalog() if engine.webhooks is not None else None
    return _json(shapes.katalog_body(engine.katalog, proc, snaps, namespaces, protection))


def _document(doc: dict) -> Response:
    fmt = _query(("format",)).get("format", "json")
    if fmt == "json":
        return _json(doc)
    if fmt == "yaml":
        import yaml
        return Response(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), mimetype="application/yaml")
    raise BadRequest(f'invalid format "{fmt}": expected json or yaml')


@katalog_bp.get("/katalog/raw")
def katalog_raw() -> Response:
    return _document(_engine().katalog.raw)


@katalog_bp.get("/katalog/enriched")
def katalog_enriched() -> Response:
    return _document(_engine().katalog.enriched)


def _entry(key: str, route: str):
    """The entry for `key` if `route` (info | health | cr) is served for it; else BadRequest(404)."""
    entry = _engine().katalog.crds.get(key)
    if entry is None:
        raise BadRequest(f'crd "{key}" not found in katalog', 404)
    endpoints = entry.endpoints or {}
    # katalog.md §3: info removes /katalog/{crd}, health its /health, enabled every /katalog/{crd}/... route
    if endpoints.get("enabled") is False or (route == "info" and endpoints.get("info") is False) \
            or (route == "health" and endpoints.get("health") is False):
        raise BadRequest("not found", 404)
    if route != "info" and not entry.enabled:
        raise BadRequest(f'crd "{key}" is disabled', 404)
    return entry


def _snapshot(entry) -> dict:
    return shapes.snapshot_or_empty(entry, _engine().crd_snapshot(entry.key))


@katalog_bp.get("/katalog/<crd>")
def crd_detail(crd: str) -> Response:
    _query(())
    entry = _entry(crd, "info")
    engine = _engine()
    blocks = engine.webhooks.describe_crd(crd) if engine.webhooks is not None else None
    return _json(shapes.crd_detail(entry, _snapshot(entry), webhook_blocks=blocks,
                                   now=engine.process_snapshot()["now"]))


@katalog_bp.get("/katalog/<crd>/health")
def crd_health(crd: str) -> Response:
    _query(())
    entry = _entry(crd, "health")
    proc = _engine().process_snapshot()
    body, status = shapes.crd_health(entry, _snapshot(entry), is_leader=proc["isLeader"], now=proc["now"])
    return _json(body, status)


@katalog_bp.get("/katalog/<crd>/cr")
def cr_list(crd: str) -> Response:
    args = _query(("namespace", "field"))
    entry = _entry(crd, "cr")
    engine = _engine()
    items = engine.cached_crs(crd)
    values = None
    if "field" in args:
        field = args["field"].strip()
        if not field:
            raise BadRequest("field: expected a dot path such as spec.host")
        from orkestra.conditions import resolve_field
        from orkestra.errors import OrkestraError
        from orkestra.conditions.paths import parse_path
        from orkestra.template import compile_template, is_template
        try:
            compile_template(field) if is_template(field) else parse_path(field)   # bad input even with no CRs
            values = {shapes._key(o): resolve_field(o, field) for o in items}
        except (OrkestraError, ValueError) as err:   # bad path, template syntax or evaluation
            raise BadRequest(f"field: {err}") from None
    namespace = args.get("namespace") or None
    return _json(shapes.cr_list(entry, items, engine.process_snapshot()["now"], namespace=namespace, values=values))


@katalog_bp.get("/katalog/<crd>/cr/<path:rest>")
def cr_routes(crd: str, rest: str) -> Response:
    _query(())
    entry = _entry(crd, "cr")
    parts = rest.strip("/").split("/")
    want = 2 if entry.api.namespaced else 1
    events = len(parts) == want + 1 and parts[-1] == "events"
    if events:
        parts = parts[:-1]
    if len(parts) != want or not all(parts):
        raise BadRequest("not found", 404)
    engine = _engine()
    obj = engine.cached_cr(crd, "/".join(parts))
    if obj is None:
        raise BadRequest(f'{entry.api.kind} "{"/".join(parts)}" not found', 404)
    now = engine.process_snapshot()["now"]
    if events:
        return _json(shapes.events_body(obj, engine.events_for(obj), now))
    return _json(shapes.cr_detail(entry, obj, engine.children_for_view(crd, (obj.get("metadata") or {}).get("uid", "")), now))


# ---------------------------------------------------------------------------- factory
def create_app(engine: Any) -> Flask:
    """The runtime (or gateway) HTTP app for `engine`."""
    app = Flask("orkestra.server")
    app.config["ENGINE"] = engine
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.strict_slashes = False
    for bp in (probes, metrics_bp, katalog_bp):
        app.register_blueprint(bp)

    @app.errorhandler(BadRequest)
    def _bad(err: BadRequest) -> Response:
        return _json({"error": str(err)}, err.status)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> Response:
        message = "not found" if err.code == 404 else (err.description or err.name).lower()
        return _json({"error": message}, err.code or 500)

    @app.errorhandler(Exception)
    def _internal(err: Exception) -> Response:
        log.exception("internal error", extra={"path": request.path})
        return _json({"error": "internal error"}, 500)

    return app
