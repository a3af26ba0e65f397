"""Webhooks: the HTTPS server, TLS, conversion, admission, protection and their registration.

The public surface is small: `orkestra.webhooks.runtime` (`webhook_role`, `build_runtime`, which
the serve wiring calls and registers with the engine), `orkestra.webhooks.describe` (the
`/katalog` blocks), the Flask app factory `create_webhook_app`, and `check_switches(settings)`
(the start-up rule of docs/webhooks.md §1, used by `ork run` and `ork gateway`). Nothing is imported or started until
used, so importing this package stays cheap for the offline commands.
"""
from __future__ import annotations

from typing import Any

from orkestra.webhooks.switches import check_switches

__all__ = ["check_switches", "create_webhook_app"]


def create_webhook_app(katalog: Any, state: Any = None, **kwargs: Any) -> Any:
    """The webhook Flask app (see `orkestra.webhooks.app.create_webhook_app`)."""
    from orkestra.webhooks.app import create_webhook_app as _create
    return _create(katalog, state, **kwargs)
