"""The webhook side of a process: what it does (`webhook_role`) and the `WebhookRuntime`.

`webhook_role` is the one rule of docs/webhooks.md §1/§3 for whether this process serves webhooks
(the HTTPS listener on `ork-https`), only registers them, or does neither; `ork run`'s start-up
line and the serve wiring both ask it. `build_runtime` makes the runtime from explicit arguments:
the port is bound synchronously (so a busy port fails start-up), while TLS material that needs
the API server (the in-cluster Secret) is loaded on the listener thread before it starts
accepting. The runtime hands the engine two runnables (`runnables()`): the listener, started
with the engine, and the webhook controller on `ork-webhook-ctl`, started on the leader in
runtime mode and on every replica in gateway mode. `WebhookDescriber` gives the `/katalog` blocks
of docs/webhooks.md §8.
"""
from __future__ import annotations

import enum
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from orkestra.errors import OrkestraError
from orkestra.katalog.model import Katalog
from orkestra.webhooks.app import WebhookState, create_webhook_app
from orkestra.webhooks.configurations import ClientTarget
from orkestra.webhooks.controller import WebhookController
from orkestra.webhooks.listener import HttpsServer
from orkestra.webhooks.plan import WebhookPlan
from orkestra.webhooks.switches import WebhookSettings

if TYPE_CHECKING:  # tls pulls in cryptography (~9 MB): imported only when a listener is needed
    from orkestra.kube import KubeClient
    from orkestra.webhooks.tls import TlsManager

log = logging.getLogger("orkestra.webhooks")
TLS_RETRY = 5.0


class WebhookStartError(OrkestraError):
    """The webhook listener cannot start (the port is taken, the TLS files are unreadable)."""


class WebhookRole(enum.Enum):
    """What this process does about webhooks (docs/webhooks.md §1, §3)."""

    NONE = "none"              # no webhook feature, or ORK_GATEWAY_ENDPOINT hands them to a gateway
    REGISTER = "register"      # features declared, nothing to serve here: the controller only
    SERVE = "serve"            # the HTTPS listener (and the controller when it has a target)


def webhook_role(plan: WebhookPlan, settings: WebhookSettings, *, gateway: bool) -> WebhookRole:
    """In `ork run` with ORK_GATEWAY_ENDPOINT the gateway does everything; otherwise a listener is
    needed for the conversion switch, a protection feature or gateway mode."""
    if settings.gateway_endpoint and not gateway:
        return WebhookRole.NONE
    if plan.listener_needed(gateway=gateway):
        return WebhookRole.SERVE
    return WebhookRole.REGISTER if plan.declares_feature else WebhookRole.NONE


@dataclass(frozen=True)
class WebhookPart:
    """One runnable of the runtime for the engine (`orkestra.engine.runnable.Runnable`)."""

    name: str
    needs_leader: bool
    start: Callable[[], None]
    stop: Callable[[], None]


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
    """The listener and controller of one process."""

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

    def start_controller(self) -> None:
        """The controller runnable's start (on the leader in runtime mode); once."""
        controller = self.controller
        if controller is None:
            return
        with self._lock:
            if self._controller_started:
                return
            self._controller_started = True
        if self.tls is not None:
            self.tls.on_change(lambda _ca: controller.trigger())
        controller.start()

    def runnables(self) -> list[WebhookPart]:
        """The listener (with the engine) and the controller (on the leader, except in gateway
        mode): the engine stops them in reverse, so configurations go before the listener."""
        parts = []
        if self.server is not None:
            parts.append(WebhookPart("webhook listener", False, self.start_listener, self.stop_listener))
        if self.controller is not None:
            parts.append(WebhookPart("webhook controller", not self.gateway, self.start_controller,
                                     self.stop_controller))
        return parts

    def stop_controller(self) -> None:
        """Shutdown step 4, first: the controller, then cleanupOnShutdown configurations."""
        if self.controller is not None:
            self.controller.stop()
            if self._controller_started:
                self.controller.cleanup_on_shutdown()

    def stop_listener(self) -> None:
        """Shutdown step 4, last: the HTTPS listener and the TLS files."""
        self._stopping.set()
        if self.server is not None:
            if self.listening.is_set():
                self.server.shutdown()
            self.server.server_close()
        if self.tls is not None:
            self.tls.close()


def build_runtime(katalog: Katalog, state: WebhookState, settings: WebhookSettings, *, kube: KubeClient,
                  gateway: bool) -> WebhookRuntime:
    """The runtime `webhook_role` asks for (not NONE): binds the HTTPS port when it serves
    (WebhookStartError when it cannot), starts nothing."""
    plan = state.plan
    serve = webhook_role(plan, settings, gateway=gateway) is WebhookRole.SERVE
    from orkestra.webhooks.tls import TlsManager, in_cluster, make_source
    cluster = in_cluster(settings.service_account_dir)
    tls = server = None
    if serve:
        tls = TlsManager(make_source(settings, service=plan.service_name, kube=kube, cluster=cluster))
        app = create_webhook_app(katalog, state)
        try:
            server = HttpsServer(settings.bind_address, settings.port, app, tls)
        except OSError as e:
            tls.close()
            raise WebhookStartError(f"cannot listen on {settings.bind_address}:{settings.port} "
                                    f"for webhooks: {e.strerror or e}") from None
    target = client_target(settings, plan.service_name, loopback=bool(getattr(kube, "is_loopback", False)),
                           cluster=cluster)
    controller = None
    if target is None:
        if serve:
            log.warning(f"webhooks are served on :{settings.port} but not registered: not running in a cluster "
                        "and ORK_WEBHOOK_URL is not set")
    elif plan.declares_feature:
        controller = WebhookController(
            kube, plan, target=target, ca_bundle=(tls.ca_bundle if tls is not None else bytes),
            resync=settings.resync, own_namespace=settings.namespace, tls_secret=settings.tls_secret_name,
            runtime_mode=not gateway)
    runtime = WebhookRuntime(state, settings, tls=tls, server=server, controller=controller, gateway=gateway)
    if controller is not None and server is not None:
        controller.ready = runtime.listening    # register only once the caBundle is known
    return runtime
