"""What Beacon may keep about a request: an IP address only truncated (/24 for IPv4, /48 for IPv6);
a user agent only as its class (beacon.tracking.classify.client_class)."""

from __future__ import annotations

import ipaddress


def truncate_ip(value: str) -> str:
    """The network a request came from, never the host: "203.0.113.0/24", "2001:db8:85a3::/48"; ""
    for anything that is not an IP address. An IPv4-mapped IPv6 address is truncated as IPv4."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
