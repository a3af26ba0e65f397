"""`webhook_role` and `build_runtime`: when the listener and the controller start (docs/webhooks.md
§1, §3), and the `/katalog` blocks of §8 — against a stand-in engine (no cluster)."""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import ssl
import urllib.request

import pytest

from orkestra.config import Settings
from orkestra.engine.runnable import Runnables
from orkestra.webhooks.app import WebhookState
from orkestra.webhooks.describe import WebhookDescriber
from orkestra.webhooks.runtime import WebhookRole, build_runtime, client_target, webhook_role
from orkestra.webhooks.switches import WebhookSettings

from .katalogs import admission, load, obj

PLAIN = """
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: plain}
spec:
  crds:
    app:
      apiTypes: {group: apps.example.io, version: v1, kind: ServiceApp, plural: serviceapps}
"""


class Engine:
    """What the runtime needs of an engine: settings, mode, Katalog, client, and the engine's
    runnable group (started as a follower's would be)."""

    def __init__(self, katalog, mode="runtime", **settings):
        self.katalog, self.mode = katalog, mode
        self.settings = dataclasses.replace(Settings(), webhook_port=0, bind_address="127.0.0.1", **settings)
        self.kube = None
        self.runnables = Runnables()
        self.leader_parts = []


def attach(engine):
    """What the serve wiring does: ask the role, build the runtime, hand its parts to the engine's
    runnables and start those that need no leader."""
    ws = WebhookSettings.from_settings(engine.settings)
    gateway = engine.mode == "gateway"
    state = WebhookState.build(engine.katalog, ws)
    if webhook_role(state.plan, ws, gateway=gateway) is WebhookRole.NONE:
        return None
    rt = build_runtime(engine.katalog, state, ws, kube=engine.kube, gateway=gateway)
    for part in rt.runnables():
        engine.runnables.add(part)
        if part.needs_leader:
            engine.leader_parts.append(part.name)
    engine.runnables.start(leading=False)
    return rt


def test_nothing_listens_without_a_switch_or_protection(tmp_path):
    assert attach(Engine(load(tmp_path, PLAIN))) is None


def test_gateway_endpoint_means_the_runtime_serves_nothing(tmp_path):
    assert attach(Engine(load(tmp_path), enable_conversion=True, gateway_endpoint="http://gw:8080")) is None


def test_gateway_always_listens_and_served_paths_follow_the_plan(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="orkestra.webhooks")
    engine = Engine(load(tmp_path, PLAIN), mode="gateway")
    rt = attach(engine)
    try:
        assert rt is not None and rt.listening.wait(10)
        assert rt.plan.paths == set() and rt.controller is None
        assert WebhookDescriber(rt.state).describe_katalog() is None
    finally:
        engine.runnables.stop()


def test_served_but_not_registered_outside_a_cluster(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="orkestra.webhooks")
    engine = Engine(load(tmp_path), enable_conversion=True, enable_admission_webhook=True)
    rt = attach(engine)
    try:
        assert rt.listening.wait(10) and rt.controller is None and engine.leader_parts == []
        assert any(r.getMessage().startswith("webhooks are served on :0 but not registered: not running in a "
                                             "cluster and ORK_WEBHOOK_URL is not set") for r in caplog.records)
        ctx = ssl.create_default_context(cadata=rt.tls.ca_bundle().decode())
        review = admission("CREATE", obj(image="docker.io/x", labels={"team": "t"}, replicas=1))
        req = urllib.request.Request(f"https://127.0.0.1:{rt.port}/validate", data=json.dumps(review).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            assert json.loads(resp.read())["response"]["allowed"] is False
        block = WebhookDescriber(rt.state).describe_crd("service-app")
        assert block["admission"]["webhooksEnabled"] is True
        assert block["admission"]["validationTotal"] == 1 and block["admission"]["validationDenied"] == 1
        assert block["admission"]["valAvgLatencyMs"] > 0
        assert block["conversion"] == {"enabled": False}
        assert block["deletionProtection"] == {"enabled": True, "protectCRD": True, "protectCRs": True,
                                               "strictMode": False, "total": 0, "blocked": 0, "allowed": 0}
        assert block["namespaceProtection"]["enabled"] is True
        assert block["namespaceProtection"]["restrictedNamespaces"] == ["kube-system", "secret-*"]
        cache = WebhookDescriber(rt.state).describe_crd("cache-v1")["conversion"]
        assert cache["paths"] == ["v1alpha1→v1", "v1→v1alpha1"] and cache["storageVersion"] == "v1"
        assert cache["total"] == 0 and cache["avgLatencyMs"] is None
        assert WebhookDescriber(rt.state).describe_katalog() == {"deletion": {"enabled": True, "total": 0, "blocked": 0, "allowed": 0},
                                         "namespace": {"enabled": True, "total": 0, "blocked": 0, "allowed": 0}}
    finally:
        engine.runnables.stop()
    assert not os.path.exists(rt.tls.directory)


def test_client_target_rules():
    ws = WebhookSettings(port=9443, namespace="sys")
    assert client_target(ws, "svc", loopback=True, cluster=False).url == "https://127.0.0.1:9443"
    assert client_target(ws, "svc", loopback=False, cluster=False) is None
    service = client_target(ws, "svc", loopback=False, cluster=True)
    assert (service.url, service.service, service.namespace, service.port) == ("", "svc", "sys", 9443)
    explicit = dataclasses.replace(ws, webhook_url="https://hooks.example.com")
    assert client_target(explicit, "svc", loopback=False, cluster=True).url == "https://hooks.example.com"


@pytest.mark.parametrize("service_env, security, expected", [
    (None, {}, "orkestra"), (None, {"serviceName": "webhooks"}, "webhooks"),
    ("orkestra", {}, "orkestra"), ("custom", {"serviceName": "webhooks"}, "custom"),
    # issue 10 item 4: an explicit ORK_SERVICE_NAME=orkestra was taken for unset, and lost to serviceName
    ("orkestra", {"serviceName": "webhooks"}, "orkestra")])
def test_service_name_order(service_env, security, expected):
    """docs/webhooks.md §2: ORK_SERVICE_NAME (None: unset) > security.serviceName > orkestra."""
    from orkestra.webhooks.plan import service_name
    env = {} if service_env is None else {"ORK_SERVICE_NAME": service_env}
    ws = WebhookSettings.from_settings(Settings.from_env(env))

    class K:
        pass
    k = K()
    k.security = security
    assert service_name(k, ws) == expected


def test_a_taken_port_is_a_clear_start_error(tmp_path):
    from orkestra.webhooks.runtime import WebhookStartError
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        engine = Engine(load(tmp_path), enable_conversion=True)
        engine.settings = dataclasses.replace(engine.settings, webhook_port=taken.getsockname()[1])
        with pytest.raises(WebhookStartError, match=r"cannot listen on 127\.0\.0\.1:\d+ for webhooks: "):
            attach(engine)


def test_controller_starts_on_leadership_and_hears_about_new_certificates(tmp_path):
    import datetime as dt

    from orkestra.webhooks import certs
    from orkestra.webhooks.runtime import WebhookRuntime
    from orkestra.webhooks.tls import SuppliedSource, TlsManager

    names = certs.required_names("s", "n")
    now = dt.datetime.now(dt.timezone.utc)
    one, two = certs.generate("s", "n", names, now), certs.generate("s", "n", names, now)
    (tmp_path / "tls.crt").write_bytes(one.cert_pem)
    (tmp_path / "tls.key").write_bytes(one.key_pem)
    tls = TlsManager(SuppliedSource(str(tmp_path / "tls.crt"), str(tmp_path / "tls.key")), tmp_root=str(tmp_path))
    tls.start()

    class Controller:
        started = triggered = 0

        def start(self):
            self.started += 1

        def trigger(self):
            self.triggered += 1

    ctl = Controller()
    rt = WebhookRuntime(WebhookState.build(load(tmp_path), WebhookSettings()), WebhookSettings(), tls=tls,
                        server=None, controller=ctl, gateway=False)
    [part] = rt.runnables()
    assert (part.name, part.needs_leader) == ("webhook controller", True), "runtime mode: the leader's"
    assert ctl.started == 0
    part.start()
    part.start()                                    # started twice: one controller
    assert ctl.started == 1
    gateway = WebhookRuntime(rt.state, WebhookSettings(), tls=None, server=None, controller=Controller(),
                             gateway=True)
    assert [p.needs_leader for p in gateway.runnables()] == [False], "a gateway registers on every replica"
    (tmp_path / "tls.crt").write_bytes(two.cert_pem)
    (tmp_path / "tls.key").write_bytes(two.key_pem)
    assert tls.refresh() and ctl.triggered == 1     # the new caBundle is pushed by a controller pass
    tls.close()
