"""The container side of networking: the plan made at create, the sandbox at start.

``create`` turns ``--network``/``-p``/``--ip``/… into a plan stored in the record
(``HostConfig.NetworkMode``/``PortBindings``, ``NetworkSettings.Networks`` without
addresses yet, and pynerd's private ``Pynerd.Networks``); the spec points runc at the
namespace file :func:`pynerd.network.sandbox.netns_path`. ``up`` attaches the sandbox
before every start and fills ``NetworkSettings`` in Docker's shape; ``down`` releases
it after the last exit. Modes ``none``, ``host`` and ``container:NAME`` need neither.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pynerd.config import Config
from pynerd.containers.options import CreateOptions
from pynerd.errors import Conflict, InvalidArgument

Record = dict[str, Any]
SPECIAL = ("none", "host")
DEFAULT = "bridge"


def uses_cni(record: Record) -> bool:
    """Whether the container has a sandbox of its own (even with no network left in it)."""
    return bool((record.get("Pynerd") or {}).get("Sandbox"))


def plan(cfg: Config, opts: CreateOptions, cid: str, exposed: list[str]) -> dict[str, Any]:
    """Validate the network options; what the record and the spec need."""
    modes = list(opts.network) or ["default"]
    first = modes[0]
    special = first in SPECIAL or first.startswith("container:")
    if special and len(modes) > 1:
        raise InvalidArgument(
            f"conflicting options: cannot attach both user-defined and non-user-defined "
            f"network-modes ({first})"
        )
    if special:
        if opts.network_aliases or opts.ip:
            raise InvalidArgument(
                "conflicting options: network-scoped aliases and IP addresses are only "
                "supported for user-defined networks"
            )
        return _special(cfg, first)
    from pynerd.network.networks import NetworkStore
    from pynerd.network.ports import parse_all

    store = NetworkStore(cfg)
    requests = []
    settings: dict[str, Any] = {}
    for i, mode in enumerate(modes):
        if mode in SPECIAL or mode.startswith("container:"):
            raise InvalidArgument(
                "conflicting options: cannot attach both user-defined and non-user-defined "
                f"network-modes ({mode})"
            )
        net = store.get(DEFAULT if mode == "default" else mode)
        aliases = list(opts.network_aliases) if i == 0 else []
        ip = opts.ip if i == 0 else None
        if net.is_default and (aliases or ip):
            raise InvalidArgument(
                "network-scoped alias is supported only for containers in user defined networks"
                if aliases
                else "user specified IP address is supported on user defined networks only"
            )
        req = {"Network": net.name, "Aliases": aliases, "IP": ip, "MAC": None}
        if i == 0:
            req["MAC"] = opts.mac_address
        requests.append(req)
        settings[net.name] = _empty_settings(net.id, aliases, ip)
    ports = parse_all(opts.publish, opts.publish_all, exposed)
    bindings: dict[str, list[dict[str, str]]] = {}
    for m in ports:
        bindings.setdefault(m.key, []).append({"HostIp": m.host_ip, "HostPort": _host_port_text(m)})
    from pynerd.network.sandbox import netns_path

    return {
        "netns": str(netns_path(cfg, cid)),
        "mode": "default" if first == "default" else requests[0]["Network"],
        "networks": requests,
        "settings": settings,
        "ports": [m.__dict__ for m in ports],
        "bindings": bindings,
    }


def _host_port_text(m: Any) -> str:
    if not m.host_port:
        return ""
    return f"{m.host_port}-{m.host_port_end}" if m.host_port_end else str(m.host_port)


def _special(cfg: Config, mode: str) -> dict[str, Any]:
    base: dict[str, Any] = {"networks": [], "ports": [], "bindings": {}, "settings": {}}
    if mode == "none":
        return {**base, "netns": None, "mode": "none"}
    if mode == "host":
        return {**base, "netns": "host", "mode": "host"}
    from pynerd.containers.store import ContainerStore

    other = ContainerStore(cfg.namespace_root).find(mode.split(":", 1)[1])
    pid = other.get("State", {}).get("Pid", 0)
    if not other.get("State", {}).get("Running") or not pid:
        raise Conflict(f"cannot join network of a non running container: {other['Id']}")
    return {**base, "netns": f"/proc/{pid}/ns/net", "mode": f"container:{other['Id']}"}


def _empty_settings(network_id: str, aliases: list[str], ip: str | None) -> dict[str, Any]:
    return {
        "IPAMConfig": {"IPv4Address": ip} if ip else None,
        "Links": None,
        "Aliases": aliases or None,
        "NetworkID": network_id,
        "EndpointID": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "MacAddress": "",
        "DriverOpts": None,
    }


def sandbox_request(
    cid: str,
    name: str,
    hostname: str,
    hosts_path: Any,
    networks: list[dict[str, Any]],
    ports: list[dict[str, Any]],
    extra_hosts: list[str],
) -> Any:
    """The network subsystem's request for a container's sandbox, from the plan that
    ``create`` makes (stored in the record's private ``Pynerd`` object)."""
    from pynerd.network.ports import PortMapping
    from pynerd.network.sandbox import NetworkRequest, SandboxRequest

    return SandboxRequest(
        container_id=cid,
        name=name,
        hostname=hostname,
        hosts_path=hosts_path,
        networks=tuple(
            NetworkRequest(n["Network"], tuple(n.get("Aliases") or ()), n.get("IP"), n.get("MAC"))
            for n in networks
        ),
        ports=tuple(PortMapping(**p) for p in ports),
        extra_hosts=tuple(extra_hosts),
    )


def _attached(settings: dict[str, Any], attachment: dict[str, Any]) -> dict[str, Any]:
    """Docker's per-network settings of a container, filled from a sandbox attachment."""
    settings.update(
        {k: attachment[k] for k in ("EndpointID", "Gateway", "IPAddress", "IPPrefixLen")},
        MacAddress=attachment["MacAddress"],
        Aliases=attachment.get("Aliases"),
    )
    return settings


def up(cfg: Config, record: Record) -> Record:
    """Attach the sandbox of a container about to start; the updated record."""
    if not uses_cni(record):
        return record
    from pynerd.network.sandbox import attach

    private = record["Pynerd"]
    req = sandbox_request(
        record["Id"],
        record["Name"].lstrip("/"),
        record["Config"].get("Hostname") or record["Id"][:12],
        record["HostsPath"],
        private.get("Networks") or [],
        private.get("Ports") or [],
        private.get("ExtraHosts") or record["HostConfig"].get("ExtraHosts") or [],
    )
    return record_sandbox(cfg, record, attach(cfg, req))


def record_sandbox(cfg: Config, record: Record, sandbox: Any) -> Record:
    """Put an attached sandbox's addresses and ports into the record, as Docker shows them."""
    from pynerd.containers import state

    ports: dict[str, list[dict[str, str]] | None] = {
        k: None for k in (record["Config"].get("ExposedPorts") or {})
    }
    for m in sandbox.ports:
        ports.setdefault(m.key, None)
        ports[m.key] = [*(ports[m.key] or []), m.binding()]
    endpoint = sandbox.endpoint

    def fn(r: Record) -> None:
        ns = r["NetworkSettings"]
        ns["SandboxID"] = endpoint["Generation"]
        ns["SandboxKey"] = sandbox.netns
        ns["Ports"] = ports
        nets = {}
        for name, a in endpoint["Networks"].items():
            entry = _attached(_empty_settings(a["NetworkID"], [], None), a)
            entry["IPAMConfig"] = a.get("IPAMConfig")
            nets[name] = entry
        ns["Networks"] = nets
        primary = nets.get(DEFAULT) or {}
        for key in ("EndpointID", "Gateway", "IPAddress", "IPPrefixLen", "MacAddress"):
            ns[key] = primary.get(key, "" if key != "IPPrefixLen" else 0)
        r["Pynerd"]["NetGeneration"] = endpoint["Generation"]

    # not fsynced: after a power loss the sandbox is gone and start makes a new one
    return state.update(cfg.namespace_root, record["Id"], fn, durable=False)


def down(cfg: Config, container_id: str, generation: str | None = None) -> None:
    """Release the sandbox after the container's last exit (idempotent)."""
    from pynerd.containers import state
    from pynerd.errors import NotFound
    from pynerd.network.sandbox import release

    if not release(cfg, container_id, generation):
        return

    def fn(r: Record) -> None:
        ns = r.get("NetworkSettings") or {}
        for a in (ns.get("Networks") or {}).values():
            for key in ("EndpointID", "Gateway", "IPAddress", "MacAddress"):
                a[key] = ""
            a["IPPrefixLen"] = 0
        for key in ("EndpointID", "Gateway", "IPAddress", "MacAddress", "SandboxKey"):
            if key in ns:
                ns[key] = ""
        ns["IPPrefixLen"] = 0
        ns["Ports"] = {}

    with contextlib.suppress(NotFound):  # removed meanwhile
        state.update(cfg.namespace_root, container_id, fn, durable=False)


def reaper(cfg: Config) -> Any:
    """A ``reap`` hook for :mod:`pynerd.network.manage`: release endpoints of dead containers."""
    from pynerd.containers.control import RUNNING, refresh
    from pynerd.containers.store import ContainerStore
    from pynerd.network.sandbox import release
    from pynerd.structs import replace

    def reap(ep: dict[str, Any]) -> None:
        from pynerd.state.pending import wait_pending

        own = replace(cfg, namespace=ep.get("Namespace") or cfg.namespace)
        wait_pending(own.namespace_root)
        record = ContainerStore(own.namespace_root).records.get(ep["Id"])
        if record is None:
            release(own, ep["Id"])
            return
        record = refresh(own, record)
        if record["State"]["Status"] not in RUNNING:
            down(own, ep["Id"])

    return reap


def _plan_entry(record: Record, network: str) -> dict[str, Any] | None:
    for n in (record.get("Pynerd") or {}).get("Networks") or []:
        if n["Network"] == network:
            return dict(n)
    return None


def connect(
    cfg: Config, network: str, container: str, ip: str | None = None, aliases: tuple[str, ...] = ()
) -> None:
    """``network connect``: now if the container runs, at its next start otherwise."""
    from pynerd.containers import state
    from pynerd.containers.control import RUNNING, find
    from pynerd.network.networks import NetworkStore
    from pynerd.network.sandbox import NetworkRequest
    from pynerd.network.sandbox import connect as connect_sandbox

    record = find(cfg, container)
    net = NetworkStore(cfg).get(network)
    mode = record["HostConfig"].get("NetworkMode", "")
    if mode in SPECIAL or mode.startswith("container:"):
        raise Conflict(
            "container sharing network namespace with another container or host cannot be "
            "connected to any other network"
        )
    if net.is_pseudo:
        raise Conflict(f"container cannot be connected to network {net.name}")
    if _plan_entry(record, net.name) is not None:
        raise Conflict(
            f"endpoint with name {record['Name'].lstrip('/')} already exists in network "
            f"{net.name}"
        )
    if net.is_default and (ip or aliases):
        raise InvalidArgument(
            "network-scoped alias is supported only for containers in user defined networks"
            if aliases
            else "user specified IP address is supported on user defined networks only"
        )
    entry = {"Network": net.name, "Aliases": list(aliases), "IP": ip, "MAC": None}
    running = record["State"]["Status"] in RUNNING and uses_cni(record)
    settings = _empty_settings(net.id, list(aliases), ip)
    if running:
        ep = connect_sandbox(cfg, record["Id"], NetworkRequest(net.name, aliases, ip))
        settings = _attached(settings, ep["Networks"][net.name])

    def fn(r: Record) -> None:
        r["Pynerd"].setdefault("Networks", []).append(entry)
        r["NetworkSettings"].setdefault("Networks", {})[net.name] = settings
        if r["HostConfig"].get("NetworkMode") in ("none", ""):
            r["HostConfig"]["NetworkMode"] = net.name

    state.update(cfg.namespace_root, record["Id"], fn)


def disconnect(cfg: Config, network: str, container: str, force: bool = False) -> None:
    """``network disconnect``."""
    from pynerd.containers import state
    from pynerd.containers.control import RUNNING, find
    from pynerd.errors import NotFound
    from pynerd.network.networks import NetworkStore
    from pynerd.network.sandbox import disconnect as disconnect_sandbox

    record = find(cfg, container)
    try:
        net = NetworkStore(cfg).get(network)
        name = net.name
    except NotFound:
        if not force:
            raise
        name = network
    if _plan_entry(record, name) is None:
        mode = record["HostConfig"].get("NetworkMode", "")
        if mode == name and mode in SPECIAL:
            raise Conflict(f"container cannot be disconnected from {name} network")
        raise Conflict(f"container {record['Id']} is not connected to network {name}")
    if record["State"]["Status"] in RUNNING:
        disconnect_sandbox(cfg, record["Id"], name)

    def fn(r: Record) -> None:
        r["Pynerd"]["Networks"] = [n for n in r["Pynerd"]["Networks"] if n["Network"] != name]
        (r["NetworkSettings"].get("Networks") or {}).pop(name, None)

    state.update(cfg.namespace_root, record["Id"], fn)
