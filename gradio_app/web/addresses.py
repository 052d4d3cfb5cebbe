"""Which IP addresses the page fetcher may connect to (the SSRF guard's rule).

A search result is a URL chosen by strangers. Fetching it from the user's machine must not turn
the app into a way to reach what only that machine can reach: the router's admin page, a cloud
metadata service at 169.254.169.254, a database on localhost. So only globally routable addresses
are allowed by default. The user can allow private, loopback and link-local ones (an intranet
wiki); multicast, unspecified and reserved addresses never host a web page and stay refused.

IPv6 forms that embed an IPv4 address (IPv4-mapped ::ffff:a.b.c.d, 6to4 2002::/16, NAT64
64:ff9b::/96, Teredo) are judged by the IPv4 address they carry, so ::ffff:127.0.0.1 is loopback.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not public, not RFC 1918
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Kinds the user may allow with allow_private; the others never are.
ALLOWABLE_KINDS = frozenset({"loopback", "private", "link-local", "shared"})


class AddressRefused(Exception):
    """Connecting to this address is not allowed; the message says which address and why."""

    def __init__(self, host: str, address: str, kind: str) -> None:
        self.host, self.address, self.kind = host, address, kind
        shown = address if host == address else f"{host} ({address})"
        hint = " (allow private addresses in the personality's settings to read it)" if kind in ALLOWABLE_KINDS else ""
        super().__init__(f"refused to connect to {shown}: a {kind} address{hint}")


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the translation forms."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_kind(ip: IPAddress) -> str:
    """'public', or the kind of non-public address it is (the first that applies)."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        return address_kind(inner)
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "shared"
    if ip.is_reserved or ip == ipaddress.IPv4Address("255.255.255.255"):
        return "reserved"
    if ip.is_private or not ip.is_global:
        return "private"
    return "public"


@dataclass(frozen=True)
class AddressPolicy:
    """`allow_private`: also allow loopback, private, link-local and shared addresses.
    `allowed_networks`: allow exactly these networks besides public addresses (e.g. 127.0.0.1/32
    for a test server) without opening every private range."""

    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def allowing(cls, *networks: str, allow_private: bool = False) -> AddressPolicy:
        return cls(allow_private, tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    def check(self, host: str, address: str) -> IPAddress:
        """The parsed address when it may be connected to; AddressRefused otherwise."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id ("fe80::1%eth0")
        kind = address_kind(ip)
        if kind == "public":
            return ip
        if kind in ALLOWABLE_KINDS and (self.allow_private or self._listed(ip)):
            return ip
        raise AddressRefused(host, str(ip), kind)

    def check_all(self, host: str, addresses: Iterable[str]) -> list[IPAddress]:
        """Every address a host resolves to must pass: a name that resolves to one public and one
        private address is refused rather than gambled on."""
        return [self.check(host, a) for a in addresses]

    def _listed(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.allowed_networks)
