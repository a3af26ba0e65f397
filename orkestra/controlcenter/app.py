"""The Control Center's Flask app factory: sessions, the login guard, CSRF, headers, rendering.

`create_app(settings, poller=..., live=...)` wires three blueprints (`login`, `pages`, `api`)
around objects it is handed: nothing is created at import time, and tests pass a poller fed by
a fake fetcher. Every response carries the Content-Security-Policy, nosniff and Referrer-Policy
headers; every POST needs the session's CSRF token; every page but the login form and the
probes needs a session. Templates are Jinja with autoescaping, so runtime data is always text.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Callable

from flask import Flask, Response, g, jsonify, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse     # what redirect() returns

from orkestra.controlcenter import svg
from orkestra.controlcenter.auth import MAX_DELAYED, LoginThrottle, csrf_valid, new_csrf_token
from orkestra.controlcenter.livecache import LiveReader
from orkestra.controlcenter.poller import Poller
from orkestra.controlcenter.settings import CCSettings
from orkestra.controlcenter.viewmodels import short_number

log = logging.getLogger("orkestra.cc")

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
PUBLIC_ENDPOINTS = {"login.login_form", "login.login", "static", "api.health", "api.ready", "api.version"}
CSRF_ERROR = "CSRF token missing or invalid"
SESSION_LIFETIME = timedelta(hours=12)


class CCSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, with `SESSION_COOKIE_SECURE=auto` decided per request."""

    def __init__(self, secure: str) -> None:
        self._secure = secure

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure if self._secure == "auto" else self._secure == "true"


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes["application/json"] > \
        request.accept_mimetypes["text/html"]


def csrf_token() -> str:
    """The session's CSRF token, created on first use (the login form issues the first one)."""
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = session["csrf"] = new_csrf_token()
    return token


def render(view: str, model: dict) -> Response:
    """The view `model` as JSON when asked (`?regions=1` adds the page's live region rendered as
    HTML, for the live-update script), otherwise as the HTML page around that region."""
    region = f"regions/{view}.html"
    if wants_json():
        body = dict(model)
        if request.args.get("regions") == "1":
            body["regions"] = {"main": render_template(region, m=model)}
        resp = jsonify(body)
    else:
        resp = Response(render_template("page.html", m=model, region=region, view=view))
    return resp


def error_response(status: int, message: str) -> Response:
    if wants_json() or request.path.startswith("/api/"):
        resp = jsonify({"error": message})
    else:
        resp = Response(render_template("error.html", m={"status": status, "message": message}))
    resp.status_code = status
    return resp


def create_app(settings: CCSettings, *, poller: Poller, live: LiveReader, throttle: LoginThrottle | None = None,
               sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
               max_delayed: int = MAX_DELAYED) -> Flask:
    from orkestra.controlcenter.api import StreamSlots, api
    from orkestra.controlcenter.login import login_bp
    from orkestra.controlcenter.pages import pages

    app = Flask("orkestra.controlcenter")
    app.config.update(
        SECRET_KEY=settings.session_secret, SESSION_COOKIE_NAME="orkcc_session", SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_PATH="/", PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        CC_SETTINGS=settings, CC_POLLER=poller, CC_LIVE=live, CC_THROTTLE=throttle or LoginThrottle(),
        CC_SLEEP=sleep, CC_DELAYS=threading.BoundedSemaphore(max_delayed), CC_CLOCK=clock,
        CC_STREAM_SLOTS=StreamSlots(), MAX_CONTENT_LENGTH=64 * 1024)
    app.session_interface = CCSessionInterface(settings.cookie_secure)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider's setting, not on the base type
    app.url_map.strict_slashes = False
    app.jinja_env.globals.update(sparkline=svg.sparkline, bar=svg.bar, dependency_graph=svg.dependency_graph,
                                 short_number=short_number, csrf_token=csrf_token)
    for bp in (login_bp, pages, api):
        app.register_blueprint(bp)

    @app.before_request
    def _guard() -> BaseResponse | None:
        g.user = session.get("user")
        if request.method == "POST":
            given = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token")
            if not csrf_valid(session.get("csrf"), given):
                return error_response(400, CSRF_ERROR)
        if request.endpoint in PUBLIC_ENDPOINTS or g.user:
            return None
        if request.endpoint is None:      # unknown path: the 404 handler answers
            return None
        if wants_json() or request.path.startswith("/api/"):
            return error_response(401, "login required")
        return redirect(url_for("login.login_form", next=request.full_path.rstrip("?")))

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.update(SECURITY_HEADERS)
        if request.endpoint != "static":
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException) -> Response:
        default = err.description == type(err).description     # werkzeug's generic sentence
        message = ("not found" if err.code == 404 else err.name.lower()) if default else str(err.description)
        return error_response(err.code or 500, message)

    @app.errorhandler(Exception)
    def _internal(err: Exception) -> Response:
        log.exception("internal error", extra={"path": request.path})
        return error_response(500, "internal error")

    return app
