"""The webhook controller: keeps the cluster's webhook objects equal to the plan (docs/webhooks.md §3).

One pass (`reconcile_once`) GETs each of the four configurations and compares it with
`configurations.desired_configurations` (create, update, or delete an unwanted labelled one),
merge-patches `spec.conversion` of each conversion CRD with `updateCRD`, and puts the protection
label on the protected CRDs and, in runtime mode, on Orkestra's own namespace and objects
(§6.1). Writes happen only when something differs.

Passes run on the `ork-webhook-ctl` thread: at start, on every watch event (one watch per
object, field selector on its name, each on a small daemon thread, so a deleted configuration
is recreated within about a second), on a caBundle change, and every `WEBHOOK_RESYNC`.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orkestra import metrics
from orkestra.gvk import GVR
from orkestra.webhooks.configurations import (
    CONFIGURATIONS, DELETION, LABELS, MUTATING_KIND, NAMESPACE, ClientTarget, conversion_patch, covers,
    desired_configurations,
)
from orkestra.webhooks.plan import CRD_GVR, PROTECTION_LABEL, WebhookPlan

if TYPE_CHECKING:
    from orkestra.kube.client import KubeClient

log = logging.getLogger("orkestra.webhooks")

VALIDATING = GVR("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations")
MUTATING = GVR("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations")
NAMESPACES = GVR("", "v1", "namespaces")
SELF_KINDS = (GVR("", "v1", "configmaps"), GVR("", "v1", "secrets"), GVR("", "v1", "services"),
              GVR("", "v1", "serviceaccounts"), GVR("apps", "v1", "deployments"))
PART_OF = "app.kubernetes.io/part-of=orkestra"
RETRY_AFTER_FAILURE = 2.0
WATCH_SECONDS = 300


def _gvr_of(name: str) -> GVR:
    return MUTATING if CONFIGURATIONS[name][0] == MUTATING_KIND else VALIDATING


def _watch_path(gvr: GVR) -> str:
    return f"/apis/{gvr.group}/{gvr.version}/{gvr.resource}"


class WebhookController:
    def __init__(self, kube: KubeClient, plan: WebhookPlan, *, target: ClientTarget, ca_bundle: Callable[[], bytes],
                 resync: float, own_namespace: str, tls_secret: str, runtime_mode: bool,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kube, self.plan, self.target, self.ca_bundle = kube, plan, target, ca_bundle
        self.resync, self.own_namespace, self.tls_secret = resync, own_namespace, tls_secret
        self.runtime_mode = runtime_mode
        self._clock = clock
        self._stop = threading.Event()
        self._kick = threading.Event()
        self._streams: set[Any] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._labelled_once = False
        self.ready: threading.Event | None = None      # set by the runtime: TLS material is loaded

    # ------------------------------------------------------------------ one pass
    def reconcile_once(self, source: str) -> bool:
        """One full pass; True when every object is as wanted. Never raises."""
        metrics.webhook_reconciled.labels(source).inc()
        ok = True
        ca = self.ca_bundle()
        for name, body in desired_configurations(self.plan, self.target, ca).items():
            ok &= self._guard(CONFIGURATIONS[name][1], self._sync_configuration, name, body)
        if self.plan.conversion_switch:
            for group in self.plan.conversion_groups.values():
                if group.update_crd:
                    ok &= self._guard("conversion", self._sync_conversion, group.crd_name, ca)
        label_now = self.runtime_mode or not self._labelled_once
        if self.plan.deletion is not None and label_now:
            for name in self.plan.deletion.protected_crds:
                ok &= self._guard("deletion-protection", self._label, CRD_GVR, name, None)
            ok &= self._guard("deletion-protection", self._label, NAMESPACES, self.own_namespace, None)
            if self.runtime_mode and source != "watch":   # a resync duty (§6.1), not a watch repair
                ok &= self._guard("deletion-protection", self._label_own_objects)
            self._labelled_once = self._labelled_once or ok
        return ok

    def _guard(self, webhook: str, fn: Callable[..., None], *args: Any) -> bool:
        try:
            fn(*args)
            return True
        except Exception as e:
            metrics.webhook_reconcile_failures.labels(webhook).inc()
            log.warning("webhook reconcile failed", extra={"webhook": webhook, "error": str(e)})
            return False

    def _sync_configuration(self, name: str, body: dict | None) -> None:
        gvr = _gvr_of(name)
        current = self.kube.get(gvr, name)
        if body is None:
            labels = ((current or {}).get("metadata") or {}).get("labels") or {}
            if current is not None and labels.get("app.kubernetes.io/managed-by") == "orkestra":
                self.kube.delete(gvr, name)
                log.info("webhook configuration deleted: no longer wanted", extra={"configuration": name})
            return
        if current is None:
            self.kube.create(gvr, body)
            log.info("webhook configuration created", extra={"configuration": name})
            return
        meta = current.get("metadata") or {}
        if covers(meta.get("labels") or {}, LABELS) and covers(current.get("webhooks") or [], body["webhooks"]):
            return
        updated = {**body, "metadata": {**meta, "labels": {**(meta.get("labels") or {}), **LABELS}}}
        updated["metadata"].pop("managedFields", None)
        self.kube.replace(gvr, updated)
        log.info("webhook configuration updated", extra={"configuration": name})

    def _sync_conversion(self, crd_name: str, ca: bytes) -> None:
        crd = self.kube.get(CRD_GVR, crd_name)
        if crd is None:
            log.debug("conversion CRD not found yet", extra={"crd_name": crd_name})
            return
        patch = conversion_patch(self.target, ca)
        if not covers((crd.get("spec") or {}).get("conversion"), patch["spec"]["conversion"]):
            self.kube.patch(CRD_GVR, crd_name, patch)
            log.info("crd conversion webhook updated", extra={"crd_name": crd_name})

    def _label(self, gvr: GVR, name: str, namespace: str | None, current: dict | None = None) -> None:
        obj = current if current is not None else self.kube.get(gvr, name, namespace)
        if obj is None:
            return
        if ((obj.get("metadata") or {}).get("labels") or {}).get(PROTECTION_LABEL) != "true":
            self.kube.patch(gvr, name, {"metadata": {"labels": {PROTECTION_LABEL: "true"}}}, namespace)
            log.info("protection label applied", extra={"resource": gvr.resource, "object": name})

    def _label_own_objects(self) -> None:
        for gvr in SELF_KINDS:
            items, _ = self.kube.list(gvr, namespace=self.own_namespace, label_selector=PART_OF)
            for obj in items:
                self._label(gvr, obj["metadata"]["name"], self.own_namespace, obj)
        self._label(GVR("", "v1", "secrets"), self.tls_secret, self.own_namespace)

    # ------------------------------------------------------------------ threads
    def start(self) -> None:
        self._spawn("ork-webhook-ctl", self._loop)
        watched: list[tuple[GVR, str]] = [(_gvr_of(n), n) for n in CONFIGURATIONS]
        if self.plan.conversion_switch:
            watched += [(CRD_GVR, g.crd_name) for g in self.plan.conversion_groups.values() if g.update_crd]
        for gvr, name in watched:
            self._spawn(f"ork-webhook-watch-{name}"[:60], self._watch, gvr, name)

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def trigger(self) -> None:
        """Run a pass soon (a watch event or a new caBundle)."""
        self._kick.set()

    def _loop(self) -> None:
        while self.ready is not None and not self.ready.wait(0.5):
            if self._stop.is_set():
                return
        ok = self.reconcile_once("startup")
        next_timer = self._clock() + (self.resync if ok else RETRY_AFTER_FAILURE)
        while not self._stop.is_set():
            kicked = self._kick.wait(max(0.0, next_timer - self._clock()))
            if self._stop.is_set():
                return
            if kicked:
                self._kick.clear()
                ok = self.reconcile_once("watch")
            else:
                ok = self.reconcile_once("timer")
            if kicked and ok:
                continue
            next_timer = self._clock() + (self.resync if ok else RETRY_AFTER_FAILURE)

    def _watch(self, gvr: GVR, name: str) -> None:
        query = {"fieldSelector": f"metadata.name={name}", "timeoutSeconds": WATCH_SECONDS}
        while not self._stop.is_set():
            try:
                stream = self.kube.watch(_watch_path(gvr), query, timeout=WATCH_SECONDS + 30)
                with self._lock:
                    self._streams.add(stream)
                try:
                    for event in stream:
                        if self._stop.is_set():
                            return
                        if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                            self.trigger()
                finally:
                    with self._lock:
                        self._streams.discard(stream)
                    stream.close()
            except Exception as e:
                if self._stop.is_set():
                    return
                log.debug("webhook watch interrupted", extra={"object": name, "error": str(e)})
                self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        self._kick.set()
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - closing a dead stream
                pass
        for t in self._threads:
            t.join(timeout=2)

    def cleanup_on_shutdown(self) -> None:
        """Delete the security configurations whose feature has `cleanupOnShutdown: true`."""
        for name, wanted in ((DELETION, self.plan.deletion is not None and self.plan.deletion.cleanup),
                             (NAMESPACE, self.plan.namespace is not None and self.plan.namespace.cleanup)):
            if wanted:
                self._guard(CONFIGURATIONS[name][1], self._delete, name)

    def _delete(self, name: str) -> None:
        if self.kube.delete(_gvr_of(name), name):
            log.info("webhook configuration deleted on shutdown", extra={"configuration": name})
