"""The Control Center's settings, read once from the command line and the environment.

`CCSettings` is built by `ork control` and handed to the app factory and the poller; nothing
else reads the environment. `startup_refusal` holds the one start-up rule of
docs/control-center.md: default credentials are accepted on a loopback bind only.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from orkestra.netaddr import is_loopback_host

DEFAULT_USERNAME = "orkestra"
DEFAULT_PASSWORD = "orkestra"
# Where Kubernetes mounts a Pod's ServiceAccount token: the default bearer token when present.
SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
SECRET_WARNING = ("SESSION_SECRET not set: sessions end when the Control Center restarts and are not "
                  "shared between replicas")


class SettingsError(ValueError):
    """A setting that cannot be used; the message names it."""


@dataclass(frozen=True)
class CCSettings:
    host: str = "127.0.0.1"
    port: int = 8081
    urls: tuple[str, ...] = ("http://localhost:8080",)
    refresh: float = 10.0
    insecure: bool = False
    username: str = DEFAULT_USERNAME
    password: str = field(default=DEFAULT_PASSWORD, repr=False)
    session_secret: bytes = field(default=b"", repr=False)
    secret_generated: bool = False
    cookie_secure: str = "auto"                 # "true" | "false" | "auto"
    token_file: Path | None = None             # bearer token sent to the runtimes, re-read every poll
    log_level: str = "info"

    @property
    def default_credentials(self) -> bool:
        return self.password == DEFAULT_PASSWORD

    @property
    def bind(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"



def startup_refusal(settings: CCSettings) -> str | None:
    """The message `ork control` exits 1 with, or None when it may start."""
    if settings.default_credentials and not is_loopback_host(settings.host) and not settings.insecure:
        return (f"refusing to start: default credentials on non-loopback address {settings.bind} — "
                f"set ADMIN_USERNAME and ADMIN_PASSWORD, or pass --insecure")
    return None


def split_urls(text: str) -> tuple[str, ...]:
    urls = tuple(u.strip().rstrip("/") for u in text.split(",") if u.strip())
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise SettingsError(f'--urls: "{url}" is not an http(s) URL')
    if not urls:
        raise SettingsError("--urls: at least one runtime URL is needed")
    return urls


def _token_file(explicit: str | None) -> Path | None:
    if explicit:
        return Path(explicit)
    return SERVICE_ACCOUNT_TOKEN if SERVICE_ACCOUNT_TOKEN.is_file() else None


def build_settings(*, host: str, port: int, urls: str, refresh: float, insecure: bool,
                   token_file: str | None, log_level: str, env: Mapping[str, str] | None = None) -> CCSettings:
    """Settings from the (already parsed) options and the credential variables of `env`."""
    env = os.environ if env is None else env
    cookie_secure = env.get("SESSION_COOKIE_SECURE", "auto").strip().lower() or "auto"
    if cookie_secure not in ("true", "false", "auto"):
        raise SettingsError(f'SESSION_COOKIE_SECURE: "{cookie_secure}" is not true, false or auto')
    secret = env.get("SESSION_SECRET", "")
    return CCSettings(
        host=host, port=port, urls=split_urls(urls), refresh=refresh, insecure=insecure,
        username=env.get("ADMIN_USERNAME") or DEFAULT_USERNAME,
        password=env.get("ADMIN_PASSWORD") or DEFAULT_PASSWORD,
        session_secret=secret.encode() if secret else secrets.token_bytes(32),
        secret_generated=not secret, cookie_secure=cookie_secure,
        token_file=_token_file(token_file), log_level=log_level)
