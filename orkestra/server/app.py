"""The runtime HTTP API (docs/runtime.md §12): a Flask application factory over one engine.

`create_app(view)` registers three blueprints (probes, metrics, katalog) and JSON error
handlers; nothing happens at import time. Views only route and validate input: the documents
come from `orkestra.server.shapes` and the data from a `RuntimeView` (the engine's read-only
`orkestra.engine.view.EngineView` in a running process, a fake in tests).
Input never causes a 500: unknown paths and CRDs answer 404, bad query parameters 400, and an
unexpected error is logged and answered `{"error": "internal error"}`. Secret payloads never
leave (`orkestra.server.exposure`), and with an `Authorizer` every route but the probes needs a
bearer token Kubernetes allows for what the route shows (`orkestra.server.auth`).
"""
from __future__ import annotations

import enum
import logging
from typing import TYPE_CHECKING, Any, Protocol

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from orkestra.errors import BadRequest, OrkestraError
from orkestra.server import exposure, shapes
from orkestra.server.auth import Access, Authorizer, Decision

if TYPE_CHECKING:
    from orkestra.katalog.model import Katalog

log = logging.getLogger("orkestra.server")


class RuntimeView(Protocol):
    """Everything the views read of the runtime; none of it changes the engine."""

    @property
    def katalog(self) -> Katalog: ...
    def process_snapshot(self) -> dict[str, Any]: ...
    def crd_snapshot(self, key: str) -> dict[str, Any] | None: ...
    def cached_crs(self, key: str) -> list[dict]: ...
    def cached_cr(self, key: str, cr_key: str) -> dict | None: ...
    def events_for(self, obj: dict) -> list[dict]: ...
    def children_for_view(self, key: str, owner_uid: str) -> list[dict]: ...
    def webhook_katalog_block(self) -> dict | None: ...
    def webhook_crd_blocks(self, key: str) -> dict | None: ...


def _view() -> RuntimeView:
    return current_app.config["VIEW"]


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
    proc = _view().process_snapshot()
    body, status = shapes.probe_body(name, proc[name], proc)
    return _json(body, status)


@probes.get("/startup")
def startup() -> Response:
    return _probe("startup")


@probes.get("/health")
def liveness() -> Response:
    """The liveness probe (the process, never a CRD's health)."""
    return _probe("liveness")


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
    view = _view()
    proc = view.process_snapshot()
    snaps = {key: view.crd_snapshot(key) for key in view.katalog.crds}
    namespaces = shapes.namespaces_of({key: view.cached_crs(key) for key in view.katalog.crds})
    return _json(shapes.katalog_body(view.katalog, proc, snaps, namespaces, view.webhook_katalog_block()))


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
    return _document(_view().katalog.raw)


@katalog_bp.get("/katalog/enriched")
def katalog_enriched() -> Response:
    return _document(_view().katalog.enriched)


def _entry(key: str, route: str):
    """The entry for `key` if `route` (info | health | cr) is served for it; else BadRequest(404)."""
    entry = _view().katalog.crds.get(key)
    if entry is None:
        raise BadRequest(f'crd "{key}" not found in katalog', 404)
    endpoints = entry.endpoints or {}
    # docs/katalog.md#crd-entry: info removes /katalog/{crd}, health its /health, enabled every /katalog/{crd}/... route
    if endpoints.get("enabled") is False or (route == "info" and endpoints.get("info") is False) \
            or (route == "health" and endpoints.get("health") is False):
        raise BadRequest("not found", 404)
    if route != "info" and not entry.enabled:
        raise BadRequest(f'crd "{key}" is disabled', 404)
    return entry


def _snapshot(entry) -> dict:
    return shapes.snapshot_or_empty(entry, _view().crd_snapshot(entry.key))


@katalog_bp.get("/katalog/<crd>")
def crd_detail(crd: str) -> Response:
    _query(())
    entry = _entry(crd, "info")
    view = _view()
    return _json(shapes.crd_detail(entry, _snapshot(entry), webhook_blocks=view.webhook_crd_blocks(crd),
                                   now=view.process_snapshot()["now"]))


@katalog_bp.get("/katalog/<crd>/health")
def crd_health(crd: str) -> Response:
    _query(())
    entry = _entry(crd, "health")
    proc = _view().process_snapshot()
    body, status = shapes.crd_health(entry, _snapshot(entry), is_leader=proc["isLeader"], now=proc["now"])
    return _json(body, status)


@katalog_bp.get("/katalog/<crd>/cr")
def cr_list(crd: str) -> Response:
    args = _query(("namespace", "field"))
    entry = _entry(crd, "cr")
    view = _view()
    items = view.cached_crs(crd)
    values = None
    if "field" in args:
        try:
            field = exposure.check_field(entry, args["field"])
        except (exposure.FieldRefused, OrkestraError) as err:   # refused, or a bad path
            raise BadRequest(f"field: {err}") from None
        values = exposure.field_values(entry, items, field, shapes._key)
    namespace = args.get("namespace") or None
    return _json(shapes.cr_list(entry, items, view.process_snapshot()["now"], namespace=namespace, values=values))


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
    view = _view()
    obj = view.cached_cr(crd, "/".join(parts))
    if obj is None:
        raise BadRequest(f'{entry.api.kind} "{"/".join(parts)}" not found', 404)
    now = view.process_snapshot()["now"]
    if events:
        return _json(shapes.events_body(obj, view.events_for(obj), now))
    obj = exposure.served_view(entry, obj)
    return _json(shapes.cr_detail(entry, obj, view.children_for_view(crd, (obj.get("metadata") or {}).get("uid", "")), now))


# ---------------------------------------------------------------------------- access
class Need(enum.Enum):
    """What a request needs when no single Kubernetes permission describes it."""

    NOTHING = "open"              # probes (and unknown paths, which answer 404)
    ANY_USER = "authenticated"    # a CRD route naming no known CRD: the view answers 404


_SUMMARIES = ("metrics.metrics", "katalog.katalog", "katalog.crd_detail", "katalog.crd_health")


def _required_access(summaries_open: bool) -> Access | Need:
    """The Kubernetes permission the current request needs (docs/security.md has the table)."""
    endpoint = request.endpoint or ""
    if endpoint.startswith("probes.") or not endpoint:
        return Need.NOTHING
    if endpoint in _SUMMARIES:
        return Need.NOTHING if summaries_open else Access("get", path=request.path)
    if endpoint in ("katalog.katalog_raw", "katalog.katalog_enriched"):
        return Access("get", path=request.path)
    args = request.view_args or {}
    entry = _view().katalog.crds.get(args.get("crd", ""))
    if entry is None:
        return Need.ANY_USER
    api = entry.api
    if endpoint == "katalog.cr_list":   # a cluster-scoped kind has no namespace to be allowed in
        return Access("list", api.group, api.plural,
                      namespace=request.args.get("namespace", "") if api.namespaced else "")
    parts = str(args.get("rest", "")).strip("/").split("/")
    namespace = parts[0] if api.namespaced and len(parts) > 1 else ""
    if parts[-1] == "events" and len(parts) == (3 if api.namespaced else 2):
        return Access("list", "", "events", namespace=namespace)
    return Access("get", api.group, api.plural, namespace=namespace, name=parts[-1])


def _guard(authorizer: Authorizer, summaries_open: bool) -> Response | None:
    """`before_request`: None lets the request through, a Response ends it (401/403/503)."""
    access = _required_access(summaries_open)
    if access is Need.NOTHING:
        return None
    decision, message = authorizer.decide(request.headers.get("Authorization"),
                                          None if access is Need.ANY_USER else access)
    if decision is Decision.ALLOWED:
        return None
    resp = _json({"error": message}, decision.value)
    if decision is Decision.UNAUTHENTICATED:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="orkestra"'
    return resp


# ---------------------------------------------------------------------------- factory
def create_app(view: RuntimeView, *, authorizer: Authorizer | None = None, summaries_open: bool = False) -> Flask:
    """The runtime (or gateway) HTTP app over `view`. With an `authorizer`, every route but the
    probes (and, with `summaries_open`, `/metrics` and the `/katalog` summaries) needs a bearer
    token allowed by Kubernetes (`orkestra.server.auth`)."""
    app = Flask("orkestra.server")
    app.config["VIEW"] = view
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.strict_slashes = False
    for bp in (probes, metrics_bp, katalog_bp):
        app.register_blueprint(bp)
    if authorizer is not None:
        app.before_request(lambda: _guard(authorizer, summaries_open))

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
