"""Wiring the webhook layer into a running engine: `attach(engine) -> WebhookRuntime | None`.

`attach` decides, from the plan and docs/webhooks.md §1/§3, whether this process serves webhooks
(the HTTPS listener on `ork-https`) and whether it registers them (the webhook controller on
`ork-webhook-ctl`: on the leader in runtime mode, on every replica in gateway mode). It returns
at once: the port is bound synchronously (so a busy port fails start-up), while TLS material
that needs the API server (the in-cluster Secret) is loaded on the listener thread before it
starts accepting. `WebhookRuntime.describe_crd` / `describe_katalog` give the `/katalog` blocks
of docs/webhooks.md §8.
"""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from orkestra.config import Mode
from orkestra.errors import OrkestraError
from orkestra.katalog.model import CrdEntry
from orkestra.webhooks.admission import CacheView
from orkestra.webhooks.app import WebhookState, create_webhook_app
from orkestra.webhooks.configurations import ClientTarget
from orkestra.webhooks.controller import WebhookController
from orkestra.webhooks.conversion import scope_of
from orkestra.webhooks.listener import HttpsServer
from orkestra.webhooks.plan import WebhookPlan
from orkestra.webhooks.switches import WebhookSettings

if TYPE_CHECKING:  # tls pulls in cryptography (~9 MB): imported only when a listener is needed
    from orkestra.webhooks.tls import TlsManager

log = logging.getLogger("orkestra.webhooks")
TLS_RETRY = 5.0


class WebhookStartError(OrkestraError):
    """The webhook listener cannot start (the port is taken, the TLS files are unreadable)."""


def client_target(settings: WebhookSettings, service: str, *, loopback: bool, cluster: bool) -> ClientTarget | None:
    """docs/webhooks.md §3 clientConfig: ORK_WEBHOOK_URL (defaulted on a loopback API server), else the
    Service in a cluster, else None (served but not registered)."""
    url = settings.webhook_url or (f"https://127.0.0.1:{settings.port}" if loopback else "")
    if url:
        return ClientTarget(url=url)
    if cluster:
        return ClientTarget(service=service, namespace=settings.namespace, port=settings.port)
    return None


class WebhookRuntime:
    """The listener and controller of one process, plus the stats views."""

    def __init__(self, state: WebhookState, settings: WebhookSettings, *, tls: TlsManager | None,
                 server: HttpsServer | None, controller: WebhookController | None, gateway: bool) -> None:
        self.state, self.settings, self.tls, self.server = state, settings, tls, server
        self.controller = controller
        self.gateway = gateway
        self.listening = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._controller_started = False
        self._lock = threading.Lock()

    @property
    def plan(self) -> WebhookPlan:
        return self.state.plan

    @property
    def port(self) -> int | None:
        return self.server.server_port if self.server is not None else None

    # ------------------------------------------------------------------ lifecycle
    def start_listener(self) -> None:
        if self.server is None:
            return
        self._thread = threading.Thread(target=self._serve, name="ork-https", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        assert self.server is not None and self.tls is not None
        while True:
            try:
                self.tls.start()
                break
            except Exception as e:
                log.error("webhook TLS material unavailable, retrying", extra={"error": str(e)})
                if self._stopping.wait(TLS_RETRY):
                    return
        self.server.ssl_context = self.tls.context()
        self.listening.set()
        log.info("webhook server listening",
                 extra={"https": f"{self.settings.bind_address}:{self.port}", "paths": sorted(self.plan.paths)})
        self.server.serve_forever(poll_interval=0.5)

    def start_controller(self, leading: bool = True) -> None:
        """Leadership callback in runtime mode; called once directly in gateway mode."""
        controller = self.controller
        if not leading or controller is None:
            return
        with self._lock:
            if self._controller_started:
                return
            self._controller_started = True
        if self.tls is not None:
            self.tls.on_change(lambda _ca: controller.trigger())
        controller.start()

    def stop(self) -> None:
        """Shutdown step 4: cleanupOnShutdown configurations, then the listener and TLS files."""
        self._stopping.set()
        if self.controller is not None:
            self.controller.stop()
            if self._controller_started:
                self.controller.cleanup_on_shutdown()
        if self.server is not None:
            if self.listening.is_set():
                self.server.shutdown()
            self.server.server_close()
        if self.tls is not None:
            self.tls.close()

    # ------------------------------------------------------------------ views (docs/webhooks.md §8)
    def describe_crd(self, key: str) -> dict:
        plan = self.plan
        entry = plan.entries.get(key)
        if entry is None:
            return {}
        return {"admission": self._admission(entry), "conversion": self._conversion(entry),
                "deletionProtection": self._deletion(entry), "namespaceProtection": self._namespace(entry)}

    def _admission(self, entry: CrdEntry) -> dict:
        stats = self.state.stats
        c = stats.counters(f"admission:{entry.key}")
        val, mut = stats.latency(f"validate:{entry.key}"), stats.latency(f"mutate:{entry.key}")
        served = self.plan.admission_switch and (entry in self.plan.validate_entries or entry in self.plan.mutate_entries)
        return {"webhooksEnabled": bool(served),
                "validationRules": len((entry.validation or {}).get("rules") or []),
                "mutationRules": len((entry.mutation or {}).get("rules") or []),
                "validationTotal": c.get("validationTotal", 0), "validationAllowed": c.get("validationAllowed", 0),
                "validationDenied": c.get("validationDenied", 0), "validationWarned": c.get("validationWarned", 0),
                "valAvgLatencyMs": val["avg"], "valP95LatencyMs": val["p95"], "valMaxLatencyMs": val["max"],
                "mutationTotal": c.get("mutationTotal", 0), "mutationApplied": c.get("mutationApplied", 0),
                "mutationSkipped": c.get("mutationSkipped", 0),
                "mutAvgLatencyMs": mut["avg"], "mutP95LatencyMs": mut["p95"], "mutMaxLatencyMs": mut["max"]}

    def _conversion(self, entry: CrdEntry) -> dict:
        group = self.plan.conversion_group_of(entry)
        if group is None:
            return {"enabled": False}
        stats = self.state.stats
        scope = scope_of(group)
        c, lat = stats.counters(scope), stats.latency(scope)
        return {"enabled": self.plan.conversion_switch, "storageVersion": group.storage_version,
                "paths": group.path_names, "total": c.get("total", 0), "success": c.get("success", 0),
                "failures": c.get("failures", 0), "avgLatencyMs": lat["avg"], "p95LatencyMs": lat["p95"],
                "maxLatencyMs": lat["max"], "byDirection": stats.directions(scope)}

    def _deletion(self, entry: CrdEntry) -> dict:
        dp = entry.deletion_protection or {}
        enabled = self.plan.deletion is not None and bool(dp.get("enabled", True))
        c = self.state.stats.counters(f"deletion:{entry.key}")
        return {"enabled": enabled, "protectCRD": bool(dp.get("protectCRD", True)),
                "protectCRs": bool(dp.get("protectCRs", True)), "strictMode": bool(dp.get("strictMode", False)),
                "total": c.get("total", 0), "blocked": c.get("blocked", 0), "allowed": c.get("allowed", 0)}

    def _namespace(self, entry: CrdEntry) -> dict:
        np = self.plan.namespace
        c = self.state.stats.counters(f"namespace:{entry.key}")
        return {"enabled": np is not None and entry in np.entries,
                "allowedNamespaces": list(entry.allowed_namespaces),
                "restrictedNamespaces": list(entry.restricted_namespaces),
                "total": c.get("total", 0), "blocked": c.get("blocked", 0), "allowed": c.get("allowed", 0)}

    def describe_katalog(self) -> dict | None:
        """The top-level `protection` block, or None when no protection feature is on."""
        if self.plan.deletion is None and self.plan.namespace is None:
            return None
        out = {}
        for feature, on in (("deletion", self.plan.deletion is not None), ("namespace", self.plan.namespace is not None)):
            c = self.state.stats.counters(f"protection:{feature}")
            out[feature] = {"enabled": on, "total": c.get("total", 0), "blocked": c.get("blocked", 0),
                            "allowed": c.get("allowed", 0)}
        return out


def _cache_lookup(engine: Any):
    def lookup(key: str) -> CacheView | None:
        box = engine.box(key)
        informer = getattr(box, "informer", None) if box is not None else None
        if informer is None:
            return None
        return CacheView(synced=bool(informer.has_synced()), items=list(informer.store.list()))
    return lookup


def attach(engine: Any) -> WebhookRuntime | None:
    """Start what docs/webhooks.md §1/§3 require for this engine; None when nothing is needed."""
    settings = WebhookSettings.from_settings(engine.settings)
    gateway = engine.mode == Mode.GATEWAY
    if settings.gateway_endpoint and not gateway:
        return None
    state = WebhookState.build(engine.katalog, settings, cache_lookup=_cache_lookup(engine))
    plan = state.plan
    serve = plan.listener_needed(gateway=gateway)
    if not serve and not plan.declares_feature:
        return None
    from orkestra.webhooks.tls import TlsManager, in_cluster, make_source
    cluster = in_cluster(settings.service_account_dir)
    tls = server = None
    if serve:
        tls = TlsManager(make_source(settings, service=plan.service_name, kube=engine.kube, cluster=cluster))
        app = create_webhook_app(engine.katalog, state)
        try:
            server = HttpsServer(settings.bind_address, settings.port, app, tls)
        except OSError as e:
            tls.close()
            raise WebhookStartError(f"cannot listen on {settings.bind_address}:{settings.port} "
                                    f"for webhooks: {e.strerror or e}") from None
    target = client_target(settings, plan.service_name, loopback=bool(getattr(engine.kube, "is_loopback", False)),
                           cluster=cluster)
    controller = None
    if target is None:
        if serve:
            log.warning(f"webhooks are served on :{settings.port} but not registered: not running in a cluster "
                        "and ORK_WEBHOOK_URL is not set")
    elif plan.declares_feature:
        controller = WebhookController(
            engine.kube, plan, target=target, ca_bundle=(tls.ca_bundle if tls is not None else bytes),
            resync=settings.resync, own_namespace=settings.namespace, tls_secret=settings.tls_secret_name,
            runtime_mode=not gateway)
    runtime = WebhookRuntime(state, settings, tls=tls, server=server, controller=controller, gateway=gateway)
    if controller is not None and server is not None:
        controller.ready = runtime.listening    # register only once the caBundle is known
    runtime.start_listener()
    if controller is not None:
        if gateway:
            runtime.start_controller(True)
        else:
            engine.on_leadership(runtime.start_controller)
    return runtime
