"""`/login` and `/logout` (the CSRF check on their POSTs is done by the app's guard).

A failed login is delayed by 0.5 s and counted against the client address; the fifth failure
within 5 minutes locks the address out for 5 minutes (429 with Retry-After), correct
credentials included. A delay holds a server thread, so at most four failures wait at once:
a failure beyond that is answered 429 with `Retry-After: 1` straight away, and the pages keep
their threads during a guessing attack spread over many addresses. A successful login starts
a fresh session (new CSRF token) and follows `next` only when it is a local path. Neither the username nor the password is ever logged.
"""
from __future__ import annotations

import threading

from flask import Blueprint, Response, current_app, redirect, render_template, request, session
from werkzeug.wrappers import Response as BaseResponse     # what redirect() returns

from orkestra.controlcenter.auth import FAILURE_DELAY, LoginThrottle, credentials_match, new_csrf_token, safe_next
from orkestra.controlcenter.settings import CCSettings

login_bp = Blueprint("login", __name__)


def _form(status: int = 200, error: str = "") -> Response:
    resp = Response(render_template("login.html", m={"error": error, "next": safe_next(request.values.get("next"))}))
    resp.status_code = status
    return resp


def _too_many(error: str, retry_after: int) -> Response:
    resp = _form(429, error)
    resp.headers["Retry-After"] = str(retry_after)
    return resp


@login_bp.get("/login")
def login_form() -> Response:
    return _form()


@login_bp.post("/login")
def login() -> BaseResponse:
    settings: CCSettings = current_app.config["CC_SETTINGS"]
    throttle: LoginThrottle = current_app.config["CC_THROTTLE"]
    address = request.remote_addr or "unknown"
    wait = throttle.begin(address)
    if wait:
        return _too_many("Too many failed logins. Try again later.", wait)
    if not credentials_match(request.form.get("username", ""), request.form.get("password", ""),
                             expected_user=settings.username, expected_password=settings.password):
        delays: threading.BoundedSemaphore = current_app.config["CC_DELAYS"]
        if not delays.acquire(blocking=False):
            return _too_many("Too many login attempts at once. Try again in a moment.", 1)
        try:
            current_app.config["CC_SLEEP"](FAILURE_DELAY)
        finally:
            delays.release()
        return _form(401, "Wrong username or password.")
    throttle.succeeded(address)
    session.clear()
    session.permanent = True
    session["user"] = settings.username
    session["csrf"] = new_csrf_token()
    return redirect(safe_next(request.form.get("next")))


@login_bp.post("/logout")
def logout() -> BaseResponse:
    session.clear()
    return redirect("/login")
