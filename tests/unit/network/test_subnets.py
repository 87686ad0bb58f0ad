"""Subnet choice: the host's routes, the pool, and parsing of subnets and addresses."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from pynerd.errors import Conflict, InvalidArgument
from pynerd.network.subnets import host_routes, parse_address, parse_subnet, pick_free

ROUTE_HEADER = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
)


def route_file(tmp_path: Path, *rows: tuple[str, str, str]) -> Path:
    """/proc/net/route with rows (iface, destination, mask) in the kernel's little-endian hex."""
    path = tmp_path / "route"
    lines = [
        f"{iface}\t{dest}\t00000000\t0001\t0\t0\t0\t{mask}\t0\t0\t0\n" for iface, dest, mask in rows
    ]
    path.write_text(ROUTE_HEADER + "".join(lines))
    return path


def net(text: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(text)


def test_host_routes_reads_the_kernels_table_without_the_default_route(tmp_path: Path) -> None:
    path = route_file(
        tmp_path,
        ("eth0", "00000000", "00000000"),  # default via …
        ("pynerd0", "0000040A", "00FFFFFF"),  # 10.4.0.0/24
        ("docker0", "000011AC", "0000FFFF"),  # 172.17.0.0/16
        ("wg0", "0A00000A", "FFFFFFFF"),  # 10.0.0.10/32
    )
    assert host_routes(path) == [net("10.4.0.0/24"), net("172.17.0.0/16"), net("10.0.0.10/32")]


def test_host_routes_skips_short_lines_and_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "route"
    path.write_text(ROUTE_HEADER + "garbage\n\n")
    assert host_routes(path) == []
    assert host_routes(tmp_path / "absent") == []


def test_host_routes_of_this_host_parse() -> None:
    assert all(isinstance(n, ipaddress.IPv4Network) and n.prefixlen for n in host_routes())


def test_pick_free_takes_the_first_block_of_the_pool() -> None:
    assert pick_free([]) == net("10.4.0.0/24")


def test_pick_free_skips_overlapping_blocks() -> None:
    taken = [net("10.4.0.0/24"), net("10.4.1.128/25"), net("10.4.2.7/32")]
    assert pick_free(taken) == net("10.4.3.0/24")
    # a route that covers blocks of several pools
    assert pick_free([net("10.4.0.0/15")]) == net("10.6.0.0/24")
    # a route unrelated to the pool changes nothing
    assert pick_free([net("192.168.0.0/16"), net("172.17.0.0/16")]) == net("10.4.0.0/24")


def test_pick_free_fails_when_the_pool_is_covered() -> None:
    with pytest.raises(Conflict, match="could not find an available, non-overlapping IPv4"):
        pick_free([net("10.0.0.0/8")])
    # the last block of the last pool is still found
    taken = [net("10.4.0.0/14"), net("10.8.0.0/14"), net("10.12.0.0/15"), net("10.14.0.0/16")]
    taken.append(net("10.15.0.0/17"))
    assert pick_free(taken) == net("10.15.128.0/24")


def test_parse_subnet() -> None:
    assert parse_subnet("10.1.2.0/24") == net("10.1.2.0/24")
    assert parse_subnet("10.1.2.3/24") == net("10.1.2.0/24")  # host bits are dropped
    with pytest.raises(InvalidArgument, match=r"^invalid CIDR address: 10\.1\.2/33$"):
        parse_subnet("10.1.2/33")
    with pytest.raises(InvalidArgument, match=r"^IPv6 subnets are not supported: fd00::/64$"):
        parse_subnet("fd00::/64")


def test_parse_address() -> None:
    assert parse_address("10.1.2.3", "gateway") == ipaddress.IPv4Address("10.1.2.3")
    with pytest.raises(InvalidArgument, match=r"^invalid gateway: 10\.1\.2\.3/24$"):
        parse_address("10.1.2.3/24", "gateway")
    with pytest.raises(InvalidArgument, match=r"^IPv6 addresses are not supported: ::1$"):
        parse_address("::1", "gateway")
