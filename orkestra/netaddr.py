"""Address facts shared by every layer (no Orkestra imports): is a host this machine?"""
from __future__ import annotations

import ipaddress


def is_loopback_host(host: str) -> bool:
    """`localhost` or a loopback IP address (v4 or v6, with or without URL brackets)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
