"""Who is attached where, and the /etc/hosts files that make names resolve.

Name resolution without a daemon: every container on a user network gets the names of
its peers in its own ``/etc/hosts`` (a file in the container's directory, bind-mounted
into it), and pynerd rewrites the hosts files of the affected containers whenever one of
them attaches or detaches (start, stop, exit, connect, disconnect, rename). A rewrite is
made *in place* (``pwrite`` + ``ftruncate``), never by rename: the bind mount pins the
inode, so a renamed-over file would no longer be what the container sees.

The registry is a KV bucket, ``<data_root>/network/endpoints/<container id>.json``:
the container's names, its hosts file, ``--add-host`` entries, its attachments (per
network: address, gateway, MAC, aliases, interface) and its published ports. Every
change and the rewrites it causes happen under the bucket's lock, so concurrent starts
on one network converge: the last writer sees everyone.

The default ``bridge`` network does not resolve names (as in Docker): only user networks
(``Network.resolves_names``) contribute peers.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pynerd.errors import InvalidArgument
from pynerd.state.kv import BucketTxn, KVStore

Endpoint = dict[str, Any]
DEFAULT_NETWORK = "bridge"

DEFAULT_HOSTS = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)


def extra_host_lines(add_hosts: Iterable[str], host_gateway: str | None = None) -> str:
    """``--add-host name:ip`` entries (``host-gateway`` = the network's gateway)."""
    lines = []
    for entry in add_hosts:
        name, sep, ip = entry.partition(":") if "=" not in entry else entry.partition("=")
        if not sep or not name or not ip:
            raise InvalidArgument(f"bad format for add-host: {entry!r}")
        if ip == "host-gateway":
            if host_gateway is None:
                raise InvalidArgument(
                    "unable to derive the IP value for host-gateway: no network gateway"
                )
            ip = host_gateway
        import ipaddress  # only with --add-host: ~1 ms to import

        try:
            ipaddress.ip_address(ip.strip("[]"))
        except ValueError:
            raise InvalidArgument(f"invalid IP address in add-host: {ip!r}") from None
        lines.append(f"{ip.strip('[]')}\t{name}\n")
    return "".join(lines)


def own_names(hostname: str) -> str:
    short = hostname.split(".")[0]
    return hostname if short == hostname else f"{hostname} {short}"


def hosts_content(
    hostname: str,
    addresses: Iterable[str] = (),
    add_hosts: Iterable[str] = (),
    host_gateway: str | None = None,
    peers: Iterable[tuple[str, list[str]]] = (),
) -> str:
    """Docker's default hosts file, ``--add-host`` entries, the container's own
    addresses, then its peers on user networks."""
    out = [DEFAULT_HOSTS, extra_host_lines(add_hosts, host_gateway)]
    names = own_names(hostname)
    out.extend(f"{a}\t{names}\n" for a in addresses)
    out.extend(f"{ip}\t{' '.join(n)}\n" for ip, n in peers)
    return "".join(out)


def write_in_place(path: Path, content: str) -> None:
    """Replace a (bind-mounted) file's content without changing its inode."""
    data = content.encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # the container is being removed
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


class Endpoints:
    """The endpoint registry of one data root."""

    def __init__(self, data_root: Path) -> None:
        # not fsynced: like the CNI result cache, it describes veths, namespaces and
        # rules that a power loss takes away anyway
        self.bucket = KVStore(Path(data_root) / "network").bucket("endpoints", durable=False)

    def get(self, container_id: str) -> Endpoint | None:
        return self.bucket.get(container_id)

    def all(self) -> list[Endpoint]:
        return [v for _, v in self.bucket.items()]

    def on_network(self, network: str) -> list[Endpoint]:
        return [e for e in self.all() if network in (e.get("Networks") or {})]

    @contextlib.contextmanager
    def txn(self) -> Iterator[BucketTxn]:
        with self.bucket.txn() as t:
            yield t

    def update(self, container_id: str, endpoint: Endpoint | None) -> None:
        """Store (or with None, drop) an endpoint and rewrite the hosts files it affects."""
        with self.txn() as t:
            old = t.get(container_id)
            if endpoint is None:
                t.delete(container_id)
            else:
                t.put(container_id, endpoint)
            keys = t.keys()
            everyone = {k: v for k in keys if (v := t.get(k)) is not None}
            sync_hosts(everyone, container_id, old, endpoint)


def _nets(e: Endpoint | None) -> set[str]:
    return set((e or {}).get("Networks") or {})


def _names_of(e: Endpoint, net: str) -> list[str]:
    names = [e["Name"]]
    if e.get("Hostname") and e["Hostname"] not in names:
        names.append(e["Hostname"])
    for alias in (e.get("Networks") or {}).get(net, {}).get("Aliases") or []:
        if alias not in names:
            names.append(alias)
    return names


def resolves(network: str) -> bool:
    """Docker: names resolve on user networks, not on the default ``bridge``."""
    return network != DEFAULT_NETWORK


def render_hosts(e: Endpoint, everyone: dict[str, Endpoint]) -> str:
    nets = e.get("Networks") or {}
    addresses = [a["IPAddress"] for a in nets.values() if a.get("IPAddress")]
    peers: list[tuple[str, list[str]]] = []
    seen = set(own_names(e.get("Hostname") or "").split())
    for net in nets:
        if not resolves(net):
            continue
        for cid, other in sorted(everyone.items(), key=lambda kv: kv[1].get("Name", "")):
            if cid == e["Id"] or net not in (other.get("Networks") or {}):
                continue
            ip = other["Networks"][net].get("IPAddress")
            fresh = [n for n in _names_of(other, net) if n not in seen]
            if ip and fresh:
                seen.update(fresh)
                peers.append((ip, fresh))
    gateway = next((a.get("Gateway") for a in nets.values() if a.get("Gateway")), None)
    return hosts_content(
        e.get("Hostname") or "", addresses, e.get("ExtraHosts") or (), gateway, peers
    )


def sync_hosts(
    everyone: dict[str, Endpoint],
    changed: str,
    old: Endpoint | None,
    new: Endpoint | None,
) -> None:
    """Rewrite the hosts file of ``changed`` and of everyone sharing a user network."""
    affected_nets = {n for n in _nets(old) | _nets(new) if resolves(n)}
    for cid, e in everyone.items():
        if (cid == changed or _nets(e) & affected_nets) and e.get("HostsPath"):
            write_in_place(Path(e["HostsPath"]), render_hosts(e, everyone))
