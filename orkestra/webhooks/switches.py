"""The webhook switches: what the environment turns on, and the start-up checks on it.

`check_switches` is the one place that knows the start-up rules of docs/webhooks.md §1 and §2
(`ork run` and `ork gateway` both call it before anything starts). `WebhookSettings` is the
webhook layer's view of `orkestra.config.Settings`: every other module of this package reads
these few typed fields, so the attribute names of the engine's settings object are read in
exactly one function (`WebhookSettings.from_settings`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orkestra.config import Settings

ADMISSION_WITHOUT_CONVERSION = (
    "ENABLE_ADMISSION_WEBHOOK requires ENABLE_CONVERSION — set ENABLE_CONVERSION=true to start "
    "the HTTPS server that serves /validate and /mutate"
)
TLS_PAIR_INCOMPLETE = "TLS_CERT and TLS_KEY must be set together"


@dataclass(frozen=True)
class WebhookSettings:
    enable_conversion: bool = False
    enable_admission: bool = False
    tls_cert: str = ""
    tls_key: str = ""
    tls_ca: str = ""
    tls_secret_name: str = "orkestra-webhook-tls"
    port: int = 8443
    bind_address: str = "0.0.0.0"
    webhook_url: str = ""            # ORK_WEBHOOK_URL as configured ("" = unset)
    namespace: str = "default"
    service_name: str = ""           # ORK_SERVICE_NAME ("" = unset: security.serviceName, else orkestra)
    resync: float = 30.0             # WEBHOOK_RESYNC, seconds
    window: int = 1000               # CONVERSION_WINDOW
    gateway_endpoint: str = ""       # ORK_GATEWAY_ENDPOINT

    @classmethod
    def from_settings(cls, settings: Settings) -> "WebhookSettings":
        """Read the engine's `orkestra.config.Settings` (already parsed and validated).

        `Settings.service_name` defaults to `orkestra`, so that value counts as "unset" here:
        `security.serviceName` then wins (docs/webhooks.md §2 order ORK_SERVICE_NAME > serviceName).
        """
        service = str(getattr(settings, "service_name", "") or "")
        return cls(
            enable_conversion=bool(settings.enable_conversion),
            enable_admission=bool(settings.enable_admission_webhook),
            tls_cert=settings.tls_cert or "",
            tls_key=settings.tls_key or "",
            tls_ca=settings.tls_ca or "",
            tls_secret_name=settings.tls_secret_name or "orkestra-webhook-tls",
            port=int(settings.webhook_port),
            bind_address=settings.bind_address or "0.0.0.0",
            webhook_url=settings.webhook_url or "",
            namespace=settings.namespace or "default",
            service_name="" if service == "orkestra" else service,
            resync=float(settings.webhook_resync),
            window=int(settings.conversion_window),
            gateway_endpoint=settings.gateway_endpoint or "",
        )


def check_switches(settings: Settings | WebhookSettings) -> str | None:
    """The start-up error of docs/webhooks.md §1/§2 for these settings, or None when they are fine.

    Accepts `orkestra.config.Settings` or a `WebhookSettings`. The caller prints the message on
    stderr, logs it at error level and exits 1.
    """
    ws = settings if isinstance(settings, WebhookSettings) else WebhookSettings.from_settings(settings)
    if ws.enable_admission and not ws.enable_conversion:
        return ADMISSION_WITHOUT_CONVERSION
    if bool(ws.tls_cert) != bool(ws.tls_key):
        return TLS_PAIR_INCOMPLETE
    return None
