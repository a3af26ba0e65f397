"""The webhook switches: what the environment turns on, and the start-up checks on it.

`check_switches` is the one place that knows the start-up rules of docs/webhooks.md §1 and §2
(`ork run` and `ork gateway` both call it before anything starts). `WebhookSettings` is the
webhook layer's view of `orkestra.config.Settings`: every other module of this package reads
these few typed fields, so the attribute names of the engine's settings object are read in
exactly one function (`WebhookSettings.from_settings`), and every default is `Settings`' own.
"""
from __future__ import annotations

from dataclasses import dataclass
from orkestra.config import Settings

ADMISSION_WITHOUT_CONVERSION = (
    "ENABLE_ADMISSION_WEBHOOK requires ENABLE_CONVERSION — set ENABLE_CONVERSION=true to start "
    "the HTTPS server that serves /validate and /mutate"
)
TLS_PAIR_INCOMPLETE = "TLS_CERT and TLS_KEY must be set together"


@dataclass(frozen=True)
class WebhookSettings:
    enable_conversion: bool = Settings.enable_conversion
    enable_admission: bool = Settings.enable_admission_webhook
    tls_cert: str = Settings.tls_cert
    tls_key: str = Settings.tls_key
    tls_ca: str = Settings.tls_ca
    tls_secret_name: str = Settings.tls_secret_name
    port: int = Settings.webhook_port
    bind_address: str = Settings.bind_address
    webhook_url: str = Settings.webhook_url            # ORK_WEBHOOK_URL as configured ("" = unset)
    namespace: str = Settings.namespace
    service_name: str = Settings.service_name          # ORK_SERVICE_NAME ("" = unset: security.serviceName, else orkestra)
    resync: float = Settings.webhook_resync            # WEBHOOK_RESYNC, seconds
    window: int = Settings.conversion_window           # CONVERSION_WINDOW
    gateway_endpoint: str = Settings.gateway_endpoint  # ORK_GATEWAY_ENDPOINT
    service_account_dir: str = Settings.service_account_dir   # a mounted token there: in a cluster

    @classmethod
    def from_settings(cls, settings: Settings) -> "WebhookSettings":
        """The engine's `orkestra.config.Settings` (already parsed and validated), as this view."""
        return cls(
            enable_conversion=settings.enable_conversion,
            enable_admission=settings.enable_admission_webhook,
            tls_cert=settings.tls_cert,
            tls_key=settings.tls_key,
            tls_ca=settings.tls_ca,
            tls_secret_name=settings.tls_secret_name,
            port=settings.webhook_port,
            bind_address=settings.bind_address,
            webhook_url=settings.webhook_url,
            namespace=settings.namespace,
            service_name=settings.service_name,
            resync=settings.webhook_resync,
            window=settings.conversion_window,
            gateway_endpoint=settings.gateway_endpoint,
            service_account_dir=settings.service_account_dir,
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
