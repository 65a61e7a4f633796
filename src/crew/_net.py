"""Is a host this machine? One answer for the LLM layer (offline deployments) and the pytest
plugin (which blocks every other address)."""

from __future__ import annotations

import ipaddress

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback_host(host: str) -> bool:
    """`localhost`, 127.0.0.0/8, ::1 (brackets and an IPv6 zone id allowed)."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False
