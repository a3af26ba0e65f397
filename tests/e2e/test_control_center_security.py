"""The Control Center's web security, against a real `ork control` process under gunicorn.

The runtime it watches is a canned one (`orkestra.testing.fake_runtime`): these tests are about
the Control Center's own HTTP behaviour and the browser, and need no Kubernetes. The canned
runtime serves `<script>` in every place a real one could carry text — and in CR names and label
values, which real Kubernetes would refuse — and Chromium proves none of it runs.
"""
from __future__ import annotations

import subprocess
import time
import urllib.request

import pytest
from selenium.webdriver.common.by import By

from orkestra.testing.fake_runtime import FakeRuntime
from tests.e2e.control_center import (PASSWORD, USER, Session, browser, browser_login, control_command,  # noqa: F401
                                      control_env, count, ork_control, text, wait_until)

REFUSAL = ("refusing to start: default credentials on non-loopback address 0.0.0.0:{port} — "
           "set ADMIN_USERNAME and ADMIN_PASSWORD, or pass --insecure")
EVIL = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
CRD_NAME = 'site<img src=x onerror="window.__xss = 3">'     # a path segment: no slash


def _crd(name: str, **extra) -> dict:
    return {"name": name, "kind": "Site", "group": "g.example", "version": "v1", "scope": "Namespaced",
            "enabled": True, "state": "degraded", "workers": 1, "workersActive": 1, "queueDepth": 1,
            "maxQueueDepth": 10, "failureThreshold": 2, "totalReconciles": 4, "failedReconciles": 4,
            "consecutiveFails": 4, "errorRate": 1.0, "resourceCount": 1, "dependsOn": [], **extra}


def _evil_documents() -> dict:
    name = CRD_NAME
    katalog = {"name": f"shop {EVIL}", "version": "1", "description": EVIL, "isKonductor": True, "leader": EVIL,
               "healthy": False, "OrkReady": True, "degradedReason": EVIL, "statusCounts": {"degraded": 1},
               "dependencyGraph": {"startupOrder": [name], "edges": []}, "crds": [_crd(name, lastError=EVIL)]}
    base = "/katalog/" + urllib.request.quote(name, safe="")
    cr = {"name": f"cr{EVIL}", "namespace": "default", "phase": EVIL, "ready": "False", "readyReason": EVIL,
          "readyMessage": EVIL, "labels": {"team": EVIL}, "status": {"note": EVIL},
          "children": {"ConfigMap": [{"name": EVIL, "ready": True}]}}
    return {
        "/katalog": (200, katalog),
        base: (200, {"name": name, "workers": {"configured": 1, "states": [{"id": 0, "state": "stuck", "key": EVIL}]},
                     "reconcile": {"lastError": EVIL, "lastErrorStack": EVIL}, "activeWarnings": [
                         {"key": EVIL, "source": "validation", "message": EVIL}]}),
        base + "/health": (503, {"name": name, "state": "degraded", "isKonductor": True}),
        base + "/cr": (200, {"items": [{"name": f"cr{EVIL}", "namespace": "default", "phase": EVIL, "ready": "False",
                                        "readyReason": EVIL}]}),
        base + "/cr/default/evil": (200, cr),
        base + "/cr/default/evil/events": (200, {"events": [{"type": "Warning", "reason": EVIL, "message": EVIL}]}),
    }


@pytest.fixture
def evil_runtime():
    runtime = FakeRuntime(_evil_documents()).start()
    yield runtime
    runtime.stop()


# ---------------------------------------------------------------------------- start-up
def test_default_credentials_are_refused_on_0_0_0_0_and_accepted_on_127_0_0_1(ork_control, evil_runtime):
    from tests.e2e.ork_runtime import free_port
    port = free_port()
    no_credentials = {"ADMIN_USERNAME": None, "ADMIN_PASSWORD": None}
    out = subprocess.run(control_command([evil_runtime.url], host="0.0.0.0", port=port),
                         env=control_env(no_credentials), capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == REFUSAL.format(port=port)
    # explicit `orkestra` is the default password too
    out = subprocess.run(control_command([evil_runtime.url], host="0.0.0.0", port=port),
                         env=control_env({"ADMIN_PASSWORD": "orkestra"}), capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "refusing to start" in out.stderr

    loopback = ork_control([evil_runtime.url], env=no_credentials)   # waits for /ready
    assert Session(loopback.url).login("orkestra", "orkestra")[0] == 302
    insecure = ork_control([evil_runtime.url], env=no_credentials, extra=("--host", "0.0.0.0", "--insecure"))
    assert "--insecure" in insecure.logs() and "accepts the default credentials" in insecure.logs()


# ---------------------------------------------------------------------------- HTTP
def test_wrong_password_lockout_csrf_cookies_redirects_and_headers(ork_control, evil_runtime):
    cc = ork_control([evil_runtime.url], env={"LOG_LEVEL": "debug", "SESSION_SECRET": "a-secret-of-forty-chars-0123456789"})
    attacker = Session(cc.url)

    # CSRF: the login form itself needs its token
    attacker.csrf()
    status, _, body, _ = attacker.request("POST", "/login", form={"username": USER, "password": PASSWORD})
    assert status == 400 and "CSRF token missing or invalid" in body
    status, _, _, _ = attacker.request("POST", "/login", form={"csrf_token": Session(cc.url).csrf(),
                                                               "username": USER, "password": PASSWORD})
    assert status == 400, "a token from another session is refused"

    # the cookie of a real login, and where it leads: local paths only
    cc2 = ork_control([evil_runtime.url], env={"SESSION_COOKIE_SECURE": "true"})
    for target, expected in (("/k/x?y=1", "/k/x?y=1"), ("//evil.example/", "/"), ("https://evil.example/", "/"),
                             ("/\\evil.example", "/")):
        status, headers, _, cookies = Session(cc.url).login(next_path=target)
        assert status == 302 and headers["Location"] == expected, target
    session_cookie = next(c for c in cookies if c.startswith("orkcc_session="))
    flags = {part.strip().split("=")[0].lower() for part in session_cookie.split(";")[1:]}
    assert {"httponly", "path", "samesite", "expires"} <= flags and "secure" not in flags
    assert "SameSite=Lax" in session_cookie and "Path=/" in session_cookie
    # SESSION_COOKIE_SECURE=true: the cookie issued with the login form is Secure (so a client on
    # plain HTTP never sends it back, and cannot log in there)
    secure_cookie = next(c for c in Session(cc2.url).request("GET", "/login")[3] if c.startswith("orkcc_session="))
    assert "Secure" in secure_cookie

    # logout is a POST with the token
    user = Session(cc.url)
    user.login()
    assert user.request("POST", "/logout")[0] == 400
    assert user.request("GET", "/api/snapshot")[0] == 200

    # headers on every response, pages and probes alike
    for path in ("/login", "/health", "/static/cc.css", "/api/snapshot", "/no-such-page"):
        _, headers, _, _ = user.request("GET", path)
        assert headers["Content-Security-Policy"] == "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "same-origin"

    # wrong password: rejected, each failure delayed by 0.5 s; the fifth locks the address out
    started = time.monotonic()
    for _ in range(5):
        status, _, body, cookies = attacker.login(USER, "wrong-password-x1")
        assert status == 401 and "Wrong username or password" in body
    assert time.monotonic() - started >= 2.5
    status, headers, _, _ = attacker.login(USER, PASSWORD)
    assert status == 429 and 290 <= int(headers["Retry-After"]) <= 300
    assert attacker.request("GET", "/api/snapshot")[0] == 401, "locked out means no session"

    # nothing secret in the logs, even at debug level with the access log on
    logs = cc.logs()
    assert "wrong-password-x1" not in logs and PASSWORD not in logs and "a-secret-of-forty-chars" not in logs
    assert '"control center listening"' in logs


# ---------------------------------------------------------------------------- browser
def test_markup_from_a_runtime_is_shown_as_text_and_never_runs_in_chromium(ork_control, evil_runtime, browser):
    cc = ork_control([evil_runtime.url])
    rid = "127.0.0.1-" + evil_runtime.url.rsplit(":", 1)[1]
    crd = urllib.request.quote(CRD_NAME, safe="")
    browser_login(browser, cc.url)
    wait_until(lambda: browser.current_url == cc.url + "/", message="logged in")
    for path in ("/", f"/k/{rid}", f"/k/{rid}/crd/{crd}", f"/k/{rid}/crd/{crd}/cr", f"/k/{rid}/crd/{crd}/cr/default/evil"):
        browser.get(cc.url + path)
        wait_until(lambda: "<script>window.__xss = 1</script>" in text(browser, "main"), timeout=10,
                   message=f"the markup shown as text on {path}")
        time.sleep(0.3)      # give an injected onerror handler the time to fire, had it been created
        assert browser.execute_script("return typeof window.__xss") == "undefined", path
        assert count(browser, 'main script, main img[src="x"], main [onerror]') == 0, path
    # the CR name and the label value, which a real API server would refuse, are text too
    assert "team=<script>" in text(browser, ".tags-labels")
    browser.get(cc.url + f"/k/{rid}/crd/{crd}/cr")
    assert browser.find_element(By.CSS_SELECTOR, "tr[data-search] a").text == f"cr{EVIL}"
