"""The reflector over a scripted loopback server, for the one wire-level case a real API server
cannot be forced into: a watch connection that stays open but goes silent."""
import json
import logging
import threading

from orkestra.gvk import GVR
from orkestra.informers.reflector import Reflector
from orkestra.informers.store import Store
from tests.unit.kube.fake_server import FakeApiServer, send_json, start_chunked, write_chunk

SITES = GVR("demo.io", "v1", "sites")


class Sink:
    def __init__(self):
        self.added = []

    def deliver_add(self, o):
        self.added.append(o["metadata"]["name"])

    def deliver_update(self, old, new):
        pass

    def deliver_delete(self, o):
        pass

    def deliver_replace(self, added, updated, removed):
        for o in added:
            self.deliver_add(o)


def test_silent_watch_is_detected_and_reopened_from_last_resource_version(caplog):
    server = FakeApiServer()
    watches = []
    second_watch = threading.Event()
    release = threading.Event()

    def handler(req):
        if req.query.get("watch") != "true":
            send_json(req, 200, {"kind": "SiteList", "metadata": {"resourceVersion": "10"}, "items": []})
            return
        watches.append(req.query["resourceVersion"])
        start_chunked(req)
        if len(watches) == 1:
            event = {"type": "ADDED", "object": {"metadata": {"name": "a", "namespace": "ns", "resourceVersion": "11"}}}
            write_chunk(req, json.dumps(event).encode() + b"\n")
            release.wait(5)  # then nothing: the stall
        else:
            second_watch.set()
            release.wait(5)

    server.routes[("GET", "/apis/demo.io/v1/sites")] = handler
    sink = Sink()
    reflector = Reflector(server.client(), SITES, store=Store(), sink=sink, stall_timeout=0.3)
    try:
        with caplog.at_level(logging.WARNING, logger="orkestra.informers"):
            reflector.start()
            assert second_watch.wait(5), "the reflector never re-opened the stalled watch"
    finally:
        release.set()
        reflector.stop()
        server.close()
    assert sink.added == ["a"]
    assert watches == ["10", "11"]
    assert "watch stalled, reconnecting" in [r.getMessage() for r in caplog.records]
