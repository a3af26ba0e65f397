"""The five views, each a drill-down from the one before and each also answering JSON.

1 `/` Control Center · 2 `/k/<rid>` Control Panel · 3 `/k/<rid>/crd/<crd>` CRD Detail ·
4 `/k/<rid>/crd/<crd>/cr` Resources · 5 `/k/<rid>/crd/<crd>/cr/<ns>/<name>` (or `/cr/<name>`)
CR Detail. Views 1-3 read the poller's snapshots; 4 and 5 read the runtime live through the
2-second micro-cache. The routes only look things up; the models come from `viewmodels`.
"""
from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app

from orkestra.controlcenter import viewmodels as vm
from orkestra.controlcenter.app import render
from orkestra.controlcenter.fetch import FetchError
from orkestra.controlcenter.livecache import LiveReader
from orkestra.controlcenter.poller import Poller
from orkestra.controlcenter.tracker import RuntimeTracker

pages = Blueprint("pages", __name__)


def _poller() -> Poller:
    return current_app.config["CC_POLLER"]


def _now() -> float:
    return current_app.config["CC_CLOCK"]()


def _tracker(rid: str) -> RuntimeTracker:
    tracker = _poller().tracker(rid)
    if tracker is None:
        abort(404, f'no runtime "{rid}"')
    return tracker


@pages.get("/")
def control_center() -> Response:
    poller = _poller()
    return render("overview", vm.overview(poller.trackers(), poller.updated, _now()))


@pages.get("/k/<rid>")
def control_panel(rid: str) -> Response:
    tracker = _tracker(rid)
    names = [c.get("name", "") for c in tracker.data.katalog.get("crds", [])] if tracker.data else []
    series = {name: _poller().history.series(rid, name) for name in names}
    return render("panel", vm.control_panel(tracker, series, _now()))


@pages.get("/k/<rid>/crd/<crd>")
def crd_detail(rid: str, crd: str) -> Response:
    tracker = _tracker(rid)
    model = vm.crd_detail(tracker, crd, _poller().history.series(rid, crd), _now())
    if model is None:
        abort(404, f'runtime "{rid}" has no CRD "{crd}"')
    return render("crd", model)


def _live(tracker: RuntimeTracker, path: str) -> tuple[dict | None, str]:
    """(body, error) of a live read; the error is the runtime's own message when it gave one."""
    live: LiveReader = current_app.config["CC_LIVE"]
    try:
        status, body = live.get_json(tracker.url + path)
    except FetchError as err:
        return None, str(err)
    if status != 200:
        message = body.get("error") if isinstance(body, dict) else None
        return None, f"HTTP {status}: {message or 'unexpected answer'}"
    if not isinstance(body, dict):
        return None, "the runtime did not answer a JSON object"
    return body, ""


def _known_crd(tracker: RuntimeTracker, crd: str) -> None:
    if crd in (".", ".."):
        abort(404, f'"{crd}" is not a CRD name')
    if tracker.data is not None and not any(c.get("name") == crd for c in tracker.data.katalog.get("crds", [])):
        abort(404, f'runtime "{tracker.rid}" has no CRD "{crd}"')


@pages.get("/k/<rid>/crd/<crd>/cr")
def resources(rid: str, crd: str) -> Response:
    tracker = _tracker(rid)
    _known_crd(tracker, crd)
    body, error = _live(tracker, f"/katalog/{quote(crd, safe='')}/cr")
    return render("resources", vm.resources(tracker, crd, body, error))


@pages.get("/k/<rid>/crd/<crd>/cr/<path:ref>")
def cr_detail(rid: str, crd: str, ref: str) -> Response:
    tracker = _tracker(rid)
    _known_crd(tracker, crd)
    parts = ref.strip("/").split("/")
    if len(parts) not in (1, 2) or not all(p not in ("", ".", "..") for p in parts):
        abort(404, "expected /cr/<namespace>/<name> or /cr/<name>")
    path = f"/katalog/{quote(crd, safe='')}/cr/" + "/".join(quote(p, safe="") for p in parts)
    body, error = _live(tracker, path)
    events, events_error = _live(tracker, path + "/events") if body is not None else (None, "")
    model = vm.cr_detail(tracker, crd, body, events, error)
    model["eventsError"] = events_error
    if body is None and not model["name"]:
        model["name"], model["namespace"] = parts[-1], parts[0] if len(parts) == 2 else ""
    return render("cr", model)
