"""Host hygiene for tests that run real CNI plugins.

The plugins leave shared, host-wide state that outlives every DEL by design: portmap's
``CNI-HOSTPORT-*`` chains and firewall's ``CNI-FORWARD``/``CNI-ADMIN`` (with their jumps
from the built-in chains), and the bridge plugin turns on ``net.ipv4.ip_forward`` for a
gateway bridge. :func:`cni_host_state` puts all of that back as it was before the test, so
the session leak check stays meaningful. It removes only CNI rules and chains that were
not there before (a concurrent session using the same chains would lose them: run
concurrent sessions with PYNERD_LEAK_CHECK=0 and expect that).
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

CNI_MARKER = re.compile(r"cni", re.IGNORECASE)
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")

Tables = dict[str, tuple[set[str], list[str]]]


def _tool(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def iptables_save(tool: str = "iptables") -> str:
    """``iptables-save`` output ('' if the tool is missing)."""
    exe = _tool(f"{tool}-save")
    if exe is None:
        return ""
    return subprocess.run([exe], capture_output=True, text=True, check=True).stdout


def _tables(text: str) -> Tables:
    tables: Tables = {}
    table = ""
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
            tables[table] = (set(), [])
        elif line.startswith(":"):
            tables[table][0].add(line[1:].split()[0])
        elif line.startswith("-A "):
            tables[table][1].append(line)
    return tables


def _restore(tool: str, before: Tables) -> None:
    """Delete CNI rules and chains that appeared since ``before``."""
    exe = _tool(tool)
    if exe is None:
        return
    for table, (chains, rules) in _tables(iptables_save(tool)).items():
        old_chains, old_rules = before.get(table, (set(), []))
        new_chains = {c for c in chains - old_chains if CNI_MARKER.search(c)}
        for rule in rules:
            if rule in old_rules or not CNI_MARKER.search(rule):
                continue
            words = shlex.split(rule)
            if words[1] in new_chains:
                continue  # flushed with its chain below
            subprocess.run([exe, "-w", "-t", table, "-D", *words[1:]], check=True)
        for chain in sorted(new_chains):
            subprocess.run([exe, "-w", "-t", table, "-F", chain], check=True)
        for chain in sorted(new_chains):
            subprocess.run([exe, "-w", "-t", table, "-X", chain], check=True)


@pytest.fixture
def cni_host_state() -> Iterator[None]:
    """Restore iptables (CNI chains/rules) and ip_forward after the test."""
    before = {tool: _tables(iptables_save(tool)) for tool in ("iptables", "ip6tables")}
    forward = IP_FORWARD.read_text()
    try:
        yield
    finally:
        try:
            for tool, tables in before.items():
                _restore(tool, tables)
        finally:
            IP_FORWARD.write_text(forward)


def _used_networks() -> list[ipaddress.IPv4Network]:
    out = subprocess.run(
        ["ip", "-j", "-4", "route", "show", "table", "all"], capture_output=True, text=True
    ).stdout
    nets = []
    for route in json.loads(out or "[]"):
        dst = route.get("dst", "default")
        if dst in ("default", "0.0.0.0/0"):
            continue
        nets.append(ipaddress.IPv4Network(dst, strict=False))
    return nets


@pytest.fixture
def free_subnet() -> ipaddress.IPv4Network:
    """A 10.244.X.0/24 that no host route or address overlaps."""
    used = _used_networks()
    for _ in range(200):
        net = ipaddress.IPv4Network(f"10.244.{random.randint(1, 254)}.0/24")
        if not any(net.overlaps(u) for u in used):
            return net
    pytest.skip("no free 10.244.X.0/24 subnet on this host")
