"""The /etc/hostname, /etc/hosts and /etc/resolv.conf pynerd writes for a container.

They live in the container's directory and are bind-mounted into it, so pynerd
can rewrite them later (name resolution on user networks) without touching the
container's root file system.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path

from pynerd.errors import InvalidArgument
from pynerd.state.atomic import atomic_write

# Docker's fallback when the host has no usable (non-loopback) resolver.
DEFAULT_NAMESERVERS = ("8.8.8.8", "8.8.4.4")
# systemd-resolved keeps the real upstream list here when /etc/resolv.conf says 127.0.0.53.
RESOLVED_UPSTREAM = Path("/run/systemd/resolve/resolv.conf")


def hosts_content(
    hostname: str,
    addresses: Iterable[str] = (),
    add_hosts: Iterable[str] = (),
    host_gateway: str | None = None,
) -> str:
    """Docker's default hosts file, then ``--add-host`` entries, then the container's own
    name (the network subsystem keeps it current afterwards, with the peers' names)."""
    from pynerd.network.endpoints import hosts_content as render

    return render(hostname, addresses, add_hosts, host_gateway)


def _is_loopback(ns: str) -> bool:
    try:
        return ipaddress.ip_address(ns.split("%")[0]).is_loopback
    except ValueError:
        return False


def resolv_content(
    host_file: Path = Path("/etc/resolv.conf"),
    dns: Iterable[str] = (),
    search: Iterable[str] = (),
    options: Iterable[str] = (),
) -> str:
    """The host's resolv.conf with loopback resolvers replaced, and --dns* overrides applied."""
    text = ""
    for candidate in (host_file, RESOLVED_UPSTREAM):
        try:
            text = candidate.read_text()
        except OSError:
            continue
        servers = [
            ln.split()[1]
            for ln in text.splitlines()
            if ln.startswith("nameserver") and len(ln.split()) > 1
        ]
        if servers and all(_is_loopback(s) for s in servers) and candidate == host_file:
            continue  # e.g. 127.0.0.53: try systemd-resolved's upstream list
        break
    nameservers = [
        ln.split()[1]
        for ln in text.splitlines()
        if ln.startswith("nameserver") and len(ln.split()) > 1
    ]
    nameservers = [s for s in nameservers if not _is_loopback(s)]
    searches: list[str] = []
    opts: list[str] = []
    for ln in text.splitlines():
        parts = ln.split()
        if parts and parts[0] in ("search", "domain"):
            searches = parts[1:]
        elif parts and parts[0] == "options":
            opts.extend(parts[1:])
    dns, search, options = list(dns), list(search), list(options)
    for s in dns:
        try:
            ipaddress.ip_address(s)
        except ValueError:
            raise InvalidArgument(f"{s} is not an ip address") from None
    nameservers = dns or nameservers or list(DEFAULT_NAMESERVERS)
    if search:
        searches = [] if search == ["."] else search
    if options:
        opts = options
    out = "".join(f"nameserver {s}\n" for s in nameservers)
    if searches:
        out += "search " + " ".join(searches) + "\n"
    if opts:
        out += "options " + " ".join(opts) + "\n"
    return out


def write(path: Path, content: str) -> None:
    atomic_write(path, content.encode(), mode=0o644)
