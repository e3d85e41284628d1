"""Where a webhook may go: resolve the host once and refuse addresses inside our own network.

A URL chosen by a sequence author must not reach the machine Cadenza runs on, its private
network or a cloud metadata service. The check resolves the name once and returns the
address it checked, so the caller connects there and a second DNS answer (rebinding)
cannot swap it. Entries of the allow list (IPs, CIDRs or hostnames) are exempt.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from cadenza.channels.errors import BlockedDestination, TransientError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]

METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, in the system's preferred order (getaddrinfo)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Destination:
    """A checked target: connect to `connect_url` (the address), name `host` in Host and SNI."""

    url: httpx.URL
    host: str
    address: str
    connect_url: httpx.URL
    host_header: str

    @property
    def tls(self) -> bool:
        """True for https, where the certificate must match `host`."""
        return self.url.scheme == "https"


class AllowList:
    """Addresses, networks and hostnames exempt from the guard (CADENZA_WEBHOOK_ALLOW)."""

    def __init__(self, entries: Sequence[str]) -> None:
        self.networks: list[IPNetwork] = []
        self.hosts: set[str] = set()
        for entry in (e.strip() for e in entries if e.strip()):
            try:
                self.networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                self.hosts.add(entry.lower().rstrip("."))

    def allows_host(self, host: str) -> bool:
        """True when the hostname itself is listed."""
        return host.lower().rstrip(".") in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        """True when the address is listed or inside a listed network."""
        return any(address in network for network in self.networks)


def check_destination(url: str, allow: AllowList, resolver: Resolver) -> Destination:
    """The address to send `url` to, or BlockedDestination saying why it is refused."""
    parsed = _parse(url)
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    literal = _ip(host)
    addresses = [literal] if literal is not None else _resolve(host, port, resolver)
    for address in addresses:
        reason = blocked_reason(address)
        if reason and not allow.allows_host(host) and not allow.allows_address(address):
            what = f"{host}:" if literal else f"{host}: it resolves to {address},"
            raise BlockedDestination(
                f"refused to send to {what} a {reason} address "
                "(list it in CADENZA_WEBHOOK_ALLOW to permit it)"
            )
    chosen = str(addresses[0])
    return Destination(
        url=parsed,
        host=host,
        address=chosen,
        connect_url=parsed.copy_with(host=chosen),
        host_header=parsed.netloc.decode("ascii"),
    )


def blocked_reason(address: IPAddress) -> str | None:
    """Why an address is off limits ("loopback", "private"…), or None for a public one."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return blocked_reason(embedded)
    checks = [
        (address in METADATA, "cloud metadata"),
        (address.is_loopback, "loopback"),
        (address.is_unspecified, "unspecified"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "non-public"),
    ]
    return next((reason for hit, reason in checks if hit), None)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    # ::ffff:10.0.0.1, 2002:0a00:0001:: and 64:ff9b::10.0.0.1 all reach an IPv4 address.
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped or address.sixtofour:
        return address.ipv4_mapped or address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise BlockedDestination(f"not a valid URL: {url!r}") from exc
    if parsed.scheme not in ("http", "https"):
        raise BlockedDestination(f"only http and https URLs are called, not {parsed.scheme!r}")
    if not parsed.raw_host:
        raise BlockedDestination(f"the URL {url!r} has no host")
    return parsed


def _ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _resolve(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    try:
        found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolver(host, port)]
    except (OSError, UnicodeError) as exc:
        raise TransientError(f"cannot resolve {host}: {exc}") from exc
    if not found:
        raise TransientError(f"{host} has no address")
    return found
