"""Choosing a subnet for a new network that clashes with nothing on the host.

Like Docker, pynerd takes the first free block of its address pool: a block is taken
when it overlaps a route of the host's main table (``/proc/net/route``: connected
networks of every interface, other bridges — Docker's, Podman's, other pynerd data
roots' — VPNs, the default route excepted) or a subnet pynerd already gave to one of
its networks. Reading /proc costs microseconds and needs no ``ip`` process.

The pool is 10.4.0.0/16 in /24 blocks (the first for the default ``bridge`` network),
then 10.5.0.0/16 and so on up to 10.15.0.0/16; ``network create --subnet`` chooses freely.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

from pynerd.errors import Conflict, InvalidArgument

Net = ipaddress.IPv4Network
POOLS = tuple(ipaddress.ip_network(f"10.{b}.0.0/16") for b in range(4, 16))
BLOCK_PREFIX = 24
ROUTES = Path("/proc/net/route")


def host_routes(path: Path = ROUTES) -> list[Net]:
    """The destinations of the host's IPv4 routes, the default route left out."""
    try:
        lines = path.read_text().splitlines()[1:]
    except OSError:
        return []
    nets: list[Net] = []
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        dest = socket.inet_ntoa(struct.pack("<I", int(fields[1], 16)))
        mask = socket.inet_ntoa(struct.pack("<I", int(fields[7], 16)))
        net = ipaddress.IPv4Network(f"{dest}/{mask}", strict=False)
        if net.prefixlen:
            nets.append(net)
    return nets


def blocks() -> Iterator[Net]:
    for pool in POOLS:
        for block in pool.subnets(new_prefix=BLOCK_PREFIX):
            assert isinstance(block, ipaddress.IPv4Network)
            yield block


def pick_free(taken: Iterable[Net]) -> Net:
    """The first block of the pool overlapping none of ``taken``."""
    used = list(taken)
    for block in blocks():
        if not any(block.overlaps(t) for t in used):
            return block
    raise Conflict("could not find an available, non-overlapping IPv4 address pool")


def parse_subnet(text: str) -> Net:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidArgument(f"invalid CIDR address: {text}") from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise InvalidArgument(f"IPv6 subnets are not supported: {text}")
    return net


def parse_address(text: str, what: str) -> ipaddress.IPv4Address:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidArgument(f"invalid {what}: {text}") from None
    if not isinstance(addr, ipaddress.IPv4Address):
        raise InvalidArgument(f"IPv6 addresses are not supported: {text}")
    return addr
