"""Webhooks: the HTTPS server, TLS, conversion, admission, protection and their registration.

The public surface is small: `attach(engine)` (called by the engine at start), the Flask app
factory `create_webhook_app`, and `check_switches(settings)` (the start-up rule of
docs/webhooks.md §1, used by `ork run` and `ork gateway`). Nothing is imported or started until
used, so importing this package stays cheap for the offline commands.
"""
from __future__ import annotations

from typing import Any

from orkestra.webhooks.switches import check_switches

__all__ = ["attach", "check_switches", "create_webhook_app"]


def attach(engine: Any) -> Any:
    """Start the webhook listener and controller this engine needs (`WebhookRuntime`), or None."""
    from orkestra.webhooks.runtime import attach as _attach
    return _attach(engine)


def create_webhook_app(katalog: Any, state: Any = None, **kwargs: Any) -> Any:
    """The webhook Flask app (see `orkestra.webhooks.app.create_webhook_app`)."""
    from orkestra.webhooks.app import create_webhook_app as _create
    return _create(katalog, state, **kwargs)
