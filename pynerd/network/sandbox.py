"""A container's network sandbox: its namespace and its attachments, made and released.

This is the network subsystem's interface to the container lifecycle:

- :func:`attach` before the container's first process starts: create the namespace,
  allocate published ports, run CNI ADD for each network (``eth0``, ``eth1`` …), record
  the endpoint and rewrite the hosts files of the peers;
- :func:`release` when the container stopped for good (exit, stop, ``rm``, ``--rm``, or
  a dead container noticed later): CNI DEL of every attachment in the result cache (the
  config and arguments it was added with), the namespace, the endpoint, the peers' hosts;
  idempotent, so the monitor, ``stop`` and ``rm`` may all call it;
- :func:`connect` / :func:`disconnect` for a running container.

See docs/networking.md.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from pynerd.config import Config
from pynerd.errors import Conflict, InvalidArgument, PynerdError
from pynerd.network.endpoints import Endpoint, Endpoints
from pynerd.network.networks import Network, NetworkStore
from pynerd.network.ports import PortMapping
from pynerd.structs import frozen_record


@frozen_record
class NetworkRequest:
    network: str  # name or ID
    aliases: tuple[str, ...] = ()
    ip: str | None = None
    mac: str | None = None


@frozen_record
class SandboxRequest:
    container_id: str
    name: str  # without the leading "/"
    hostname: str
    hosts_path: Path
    networks: tuple[NetworkRequest, ...]
    ports: tuple[PortMapping, ...] = ()
    extra_hosts: tuple[str, ...] = ()


@frozen_record
class Sandbox:
    netns: str
    endpoint: Endpoint
    ports: list[PortMapping]


def netns_dir(cfg: Config) -> Path:
    return Path(cfg.run_root) / "netns"


def netns_path(cfg: Config, container_id: str) -> Path:
    return netns_dir(cfg) / container_id


def cni_for(cfg: Config) -> Any:
    from pynerd.network.cni.runtime import CNI

    return CNI(cfg.cni_path, Path(cfg.data_root) / "network" / "cni")


def _settings(net: Network, ifname: str, result: Any, req: NetworkRequest, cid: str) -> Any:
    ips = result.ips_of(ifname) or list(result.ips)
    if not ips:
        raise PynerdError(f"network {net.name}: the CNI plugins assigned no address")
    addr = ips[0]
    mac = next((i.mac for i in result.interfaces if i.name == ifname and i.sandbox), "")
    aliases = list(req.aliases)
    if net.resolves_names and cid[:12] not in aliases:
        aliases.append(cid[:12])
    return {
        "NetworkID": net.id,
        "EndpointID": _endpoint_id(),
        "IfName": ifname,
        "IPAddress": addr.ip,
        "IPPrefixLen": int(addr.address.split("/")[1]),
        "Gateway": addr.gateway,
        "MacAddress": mac or req.mac or "",
        "Aliases": aliases or None,
        "IPAMConfig": {"IPv4Address": req.ip} if req.ip else None,
    }


def _endpoint_id() -> str:
    return os.urandom(32).hex()


def _check_request(net: Network, req: NetworkRequest) -> None:
    if net.is_pseudo:
        raise InvalidArgument(
            f"container cannot be connected to network {net.name} together with others"
        )
    if (req.ip or req.aliases) and net.is_default:
        what = "IP address" if req.ip else "network-scoped alias"
        raise InvalidArgument(f"user specified {what} is supported on user defined networks only")
    if req.ip:
        import ipaddress

        subnets = [ipaddress.ip_network(c["Subnet"]) for c in net.ipam if c.get("Subnet")]
        ip = ipaddress.ip_address(req.ip)
        if subnets and not any(ip in s for s in subnets):
            raise InvalidArgument(
                f"Invalid address {req.ip}: It does not belong to any of this network's subnets"
            )


def _ips_arg(net: Network, ip: str) -> list[str]:
    import ipaddress

    for c in net.ipam:
        s = ipaddress.ip_network(c["Subnet"])
        if ipaddress.ip_address(ip) in s:
            return [f"{ip}/{s.prefixlen}"]
    return [ip]


def _add_one(
    cfg: Config,
    cni: Any,
    net: Network,
    req: NetworkRequest,
    cid: str,
    netns: str,
    ifname: str,
    ports: list[PortMapping],
) -> dict[str, Any]:
    from pynerd.network.cni.runtime import RuntimeConf

    assert net.conf is not None
    caps: dict[str, Any] = {}
    if ports:
        caps["portMappings"] = [m.cni() for m in ports]
    if req.ip:
        caps["ips"] = _ips_arg(net, req.ip)
    if req.mac:
        caps["mac"] = req.mac
    rt = RuntimeConf(cid, netns, ifname, args=[("IgnoreUnknown", "1")], capability_args=caps)
    result = cni.add(net.conf, rt)
    return dict(_settings(net, ifname, result, req, cid))


@contextlib.contextmanager
def _locked(cfg: Config, cid: str) -> Any:
    """Attach and release of one container never interleave (monitor vs. ``start``)."""
    from pynerd.state.lock import file_lock

    locks = Path(cfg.data_root) / "network" / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with file_lock(locks / f"{cid}.lock"):
        yield


def forget(cfg: Config, container_id: str) -> None:
    """Drop the container's lock file once the container itself is gone."""
    (Path(cfg.data_root) / "network" / "locks" / f"{container_id}.lock").unlink(missing_ok=True)


def attach(cfg: Config, req: SandboxRequest) -> Sandbox:
    """Create the namespace and attach every requested network (see the module doc)."""
    with _locked(cfg, req.container_id):
        _release(cfg, req.container_id, None)  # what a crashed or unfinished run left
        return _attach(cfg, req)


def _attach(cfg: Config, req: SandboxRequest) -> Sandbox:

    from pynerd.network import netns as nsmod
    from pynerd.network.ports import allocate

    store = NetworkStore(cfg)
    nets = [store.get(r.network) for r in req.networks]
    for net, r in zip(nets, req.networks, strict=True):
        _check_request(net, r)
    for net in nets:
        store.setup_host(net)
    cid = req.container_id
    endpoints = Endpoints(cfg.data_root)
    port_net = next((i for i, n in enumerate(nets) if _has_portmap(n)), None)
    if req.ports and port_net is None:
        raise InvalidArgument("publishing ports needs a bridge network")
    ports: list[PortMapping] = []
    base: Endpoint = {
        "Id": cid,
        "Namespace": cfg.namespace,
        "Name": req.name,
        "Hostname": req.hostname,
        "HostsPath": str(req.hosts_path),
        "ExtraHosts": list(req.extra_hosts),
        "Netns": str(netns_path(cfg, cid)),
        "Networks": {},
        "Ports": [],
        "Generation": os.urandom(8).hex(),
    }
    with endpoints.txn() as t:  # ports are checked and reserved atomically
        keys = t.keys()
        taken = [
            PortMapping.from_dict(p)
            for k in keys
            if k != cid
            for p in (t.get(k) or {}).get("Ports") or []
        ]
        if req.ports:
            ports = allocate(list(req.ports), taken, req.name)
        base["Ports"] = [m.to_dict() for m in ports]
        t.put(cid, base)
    ns = str(netns_path(cfg, cid))
    cni = cni_for(cfg)
    try:
        if not nsmod.is_netns(ns):
            with contextlib.suppress(FileNotFoundError):
                nsmod.remove(ns)  # a stale mount point of a crashed run
            nsmod.create(netns_dir(cfg), cid)
        for i, (net, r) in enumerate(zip(nets, req.networks, strict=True)):
            settings = _add_one(
                cfg, cni, net, r, cid, ns, f"eth{i}", ports if i == port_net else []
            )
            base["Networks"][net.name] = settings
    except BaseException:
        with contextlib.suppress(Exception):
            _release(cfg, cid, None)
        raise
    endpoints.update(cid, base)
    return Sandbox(ns, base, ports)


def _has_portmap(net: Network) -> bool:
    return net.conf is not None and any(p.get("type") == "portmap" for p in net.conf.plugins)


def _cached_attachments(cfg: Config, cid: str) -> list[Path]:
    results = Path(cfg.data_root) / "network" / "cni" / "results"
    try:
        return sorted(p for p in results.iterdir() if f"-{cid}-" in p.name)
    except FileNotFoundError:
        return []


def _delete_cached(cfg: Config, cni: Any, path: Path, cid: str, ns: str) -> None:
    from pynerd.network.cni import cache
    from pynerd.network.cni.errors import CNIError
    from pynerd.network.cni.runtime import RuntimeConf

    try:
        entry = cache.read(path)
    except CNIError:
        # unreadable, e.g. cut short by a crash (the cache is not fsynced): DEL with the
        # current config of the network the file is named after, which drops the file too
        from pynerd.network.cni.config import load

        network, _, ifname = path.name.partition(f"-{cid}-")
        try:
            conf = load(Path(cfg.cni_netconfpath), network)
        except PynerdError:
            cache.remove(path)
            return
        cni.delete(conf, RuntimeConf(cid, ns, ifname))
        return
    if entry is None:
        return
    found = cni.get_cached_config(entry.network_name, RuntimeConf(cid, ns, entry.ifname))
    if found is None:
        cache.remove(path)
        return
    net, rt = found
    cni.delete(net, rt)


def release(cfg: Config, container_id: str, generation: str | None = None) -> bool:
    """Undo :func:`attach` (idempotent); True if there was anything to release.

    With ``generation`` only that attachment is released: a monitor releasing after its
    container's exit must not undo the attachment of a newer start of the container.
    """
    with _locked(cfg, container_id):
        return _release(cfg, container_id, generation)


def _release(cfg: Config, container_id: str, generation: str | None) -> bool:
    from pynerd.network import netns as nsmod

    cid = container_id
    endpoints = Endpoints(cfg.data_root)
    ep = endpoints.get(cid)
    if generation is not None and ep is not None and ep.get("Generation") != generation:
        return False
    ns = str(netns_path(cfg, cid))
    cached = _cached_attachments(cfg, cid)
    if ep is None and not cached and not Path(ns).exists():
        return False
    cni = cni_for(cfg)
    errors: list[PynerdError] = []
    for path in cached:
        try:
            _delete_cached(cfg, cni, path, cid, ns)
        except PynerdError as e:
            errors.append(e)
    if errors:
        raise errors[0]
    nsmod.remove(ns)
    if ep is not None:
        endpoints.update(cid, None)
    return True


def free_ports(cfg: Config, container_id: str) -> None:
    """Give the container's published host ports back before its sandbox is released."""

    def drop(ep: Endpoint | None) -> Endpoint | None:
        return None if ep is None else {**ep, "Ports": []}

    Endpoints(cfg.data_root).bucket.update(container_id, drop)


def connect(cfg: Config, container_id: str, req: NetworkRequest) -> Endpoint:
    """Attach a running container's sandbox to one more network."""
    with _locked(cfg, container_id):
        return _connect(cfg, container_id, req)


def _connect(cfg: Config, container_id: str, req: NetworkRequest) -> Endpoint:
    store = NetworkStore(cfg)
    net = store.get(req.network)
    endpoints = Endpoints(cfg.data_root)
    ep = endpoints.get(container_id)
    if ep is None:
        raise Conflict(f"container {container_id} has no network sandbox to connect to")
    if net.name in (ep.get("Networks") or {}):
        raise Conflict(f"endpoint with name {ep['Name']} already exists in network {net.name}")
    _check_request(net, req)
    store.setup_host(net)
    used = {a.get("IfName") for a in (ep.get("Networks") or {}).values()}
    ifname = next(f"eth{i}" for i in range(64) if f"eth{i}" not in used)
    settings = _add_one(cfg, cni_for(cfg), net, req, container_id, ep["Netns"], ifname, [])
    ep = {**ep, "Networks": {**(ep.get("Networks") or {}), net.name: settings}}
    endpoints.update(container_id, ep)
    return ep


def disconnect(cfg: Config, container_id: str, network: str) -> Endpoint | None:
    """Detach a running container from one network; None if it was not attached."""
    with _locked(cfg, container_id):
        return _disconnect(cfg, container_id, network)


def _disconnect(cfg: Config, container_id: str, network: str) -> Endpoint | None:
    from pynerd.network.cni.runtime import RuntimeConf

    store = NetworkStore(cfg)
    net = store.get(network)
    endpoints = Endpoints(cfg.data_root)
    ep = endpoints.get(container_id)
    attached = (ep or {}).get("Networks") or {}
    if ep is None or net.name not in attached:
        return None
    cni = cni_for(cfg)
    rt = RuntimeConf(container_id, ep["Netns"], attached[net.name]["IfName"])
    try:
        found = cni.get_cached_config(net.name, rt)
    except PynerdError:  # an unreadable cache: DEL with the network's config (drops it)
        found = None
    if found is not None:
        cni.delete(*found)
    elif net.conf is not None:
        cni.delete(net.conf, rt)
    left = {k: v for k, v in attached.items() if k != net.name}
    ep = {**ep, "Networks": left}
    endpoints.update(container_id, ep)
    return ep


def rename(cfg: Config, container_id: str, new_name: str) -> None:
    """Keep peers' hosts files current when a container is renamed."""
    endpoints = Endpoints(cfg.data_root)
    ep = endpoints.get(container_id)
    if ep is None:
        return
    ep = {**ep, "Name": new_name}
    endpoints.update(container_id, ep)


def in_use(cfg: Config, network: str) -> list[Endpoint]:
    """The endpoints attached to ``network`` (by name)."""
    return Endpoints(cfg.data_root).on_network(network)
