"""The networks pynerd knows: CNI config lists in ``cni_netconfpath``, plus host/none.

A network made by pynerd is one file, ``<cni_netconfpath>/pynerd-<name>.conflist``, in
the CNI spec's format (so cnitool, nerdctl or Podman read it), carrying pynerd's own
metadata in a top-level ``"pynerd"`` object that CNI ignores: ID, creation time, driver,
labels, options, IPAM config, ``internal``. Other ``.conflist``/``.conf`` files of the
directory are networks too (their plugins run as written; pynerd adds no host rules).

The default network ``bridge`` is written on first use (``ensure_default``), with the
first free /24 of the pool and the first free ``pynerd<N>`` bridge name, so several data
roots can share one host. A bridge network's host side (device, iptables rules; see
:mod:`pynerd.network.hostnet`) is set up when it is created — its route then claims the
subnet and its device the name, for every other data root too — and again whenever a
container attaches and the device is missing (after a reboot).

Writes are atomic renames under a lock on ``<data_root>/network/networks.lock``; choosing
a subnet and a bridge name and creating the device also hold the host-wide
``/run/lock/pynerd-networks.lock``, so two data roots never pick the same ones.
"""

from __future__ import annotations

import builtins
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pynerd.config import Config
from pynerd.errors import Conflict, InvalidArgument, NotFound
from pynerd.network.cni.config import NAME_RE, NetworkConfigList
from pynerd.structs import frozen_record
from pynerd.timestamps import now_rfc3339

CNI_VERSION = "1.0.0"
HOST_LOCK = Path("/run/lock/pynerd-networks.lock")
DEFAULT_NETWORK = "bridge"
FILE_PREFIX = "pynerd-"
DRIVERS = ("bridge", "macvlan", "ipvlan")
PSEUDO = {"host": "host", "none": "null"}  # name -> driver: listed, never attached via CNI
BRIDGE_NAME_OPT = "com.docker.network.bridge.name"
MTU_OPTS = ("com.docker.network.driver.mtu", "mtu")
KNOWN_OPTS = {
    "bridge": (BRIDGE_NAME_OPT, *MTU_OPTS),
    "macvlan": ("parent", "macvlan_mode", *MTU_OPTS),
    "ipvlan": ("parent", "ipvlan_mode", *MTU_OPTS),
}


_EMPTY: Mapping[str, str] = MappingProxyType({})


@frozen_record
class CreateNetworkOptions:
    name: str
    driver: str = "bridge"
    subnets: tuple[str, ...] = ()
    gateways: tuple[str, ...] = ()
    ip_ranges: tuple[str, ...] = ()
    internal: bool = False
    labels: Mapping[str, str] = _EMPTY
    options: Mapping[str, str] = _EMPTY
    ipv6: bool = False


@frozen_record
class Network:
    """One network as pynerd sees it (``conf`` is None for host and none)."""

    name: str
    id: str
    driver: str
    created: str
    conf: NetworkConfigList | None
    meta: dict[str, Any]

    @property
    def is_pseudo(self) -> bool:
        return self.conf is None

    @property
    def pynerd_made(self) -> bool:
        return bool(self.meta.get("id"))

    @property
    def internal(self) -> bool:
        return bool(self.meta.get("internal"))

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_NETWORK

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.meta.get("labels") or {})

    @property
    def options(self) -> dict[str, str]:
        return dict(self.meta.get("options") or {})

    @property
    def ipam(self) -> list[dict[str, str]]:
        return list(self.meta.get("ipam") or [])

    @property
    def bridge(self) -> str | None:
        if self.conf is None:
            return None
        first = self.conf.plugins[0]
        return str(first.get("bridge") or "") or None if first.get("type") == "bridge" else None

    @property
    def resolves_names(self) -> bool:
        """Docker: containers find each other by name on user networks, not on ``bridge``."""
        return not self.is_default and not self.is_pseudo

    def inspect(self, containers: dict[str, Any] | None = None) -> dict[str, Any]:
        """Docker's ``network inspect`` object."""
        return {
            "Name": self.name,
            "Id": self.id,
            "Created": self.created,
            "Scope": "local",
            "Driver": self.driver,
            "EnableIPv6": False,
            "IPAM": {
                "Driver": "default",
                "Options": {},
                "Config": [{k: v for k, v in c.items() if v} for c in self.ipam],
            },
            "Internal": self.internal,
            "Attachable": False,
            "Ingress": False,
            "ConfigFrom": {"Network": ""},
            "ConfigOnly": False,
            "Containers": containers or {},
            "Options": self.options,
            "Labels": self.labels,
        }


def link_exists(name: str) -> bool:
    """Whether the host has a network interface ``name`` (no :mod:`hostnet` import)."""
    return os.path.exists(f"/sys/class/net/{name}")


def _hash_id(text: str) -> str:
    """A stable ID for networks pynerd did not create (hashlib costs ~2 ms to import)."""
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def _pseudo(name: str) -> Network:
    nid = _hash_id(f"pynerd-{name}")
    return Network(name, nid, PSEUDO[name], "0001-01-01T00:00:00Z", None, {})


def _from_conf(conf: NetworkConfigList) -> Network:
    try:
        raw = json.loads(conf.raw)
    except ValueError:
        raw = {}
    meta = raw.get("pynerd") if isinstance(raw.get("pynerd"), dict) else {}
    nid = str(meta.get("id") or _hash_id(conf.name))
    driver = str(meta.get("driver") or conf.plugins[0].get("type", ""))
    created = str(meta.get("created") or "0001-01-01T00:00:00Z")
    if not meta.get("ipam"):
        meta = {**meta, "ipam": _ipam_of(conf.plugins[0])}
    return Network(conf.name, nid, driver, created, conf, meta)


def _ipam_of(plugin: dict[str, Any]) -> list[dict[str, str]]:
    ipam = plugin.get("ipam") or {}
    out = []
    for rng in ipam.get("ranges") or []:
        for r in rng:
            out.append({"Subnet": r.get("subnet", ""), "Gateway": r.get("gateway", "")})
    if ipam.get("subnet"):
        out.append({"Subnet": ipam["subnet"], "Gateway": ipam.get("gateway", "")})
    return out


class NetworkStore:
    """Create, find, list and remove networks of one configuration."""

    def __init__(self, cfg: Config, hostnet: Any = None) -> None:
        self.cfg = cfg
        self.dir = Path(cfg.cni_netconfpath)
        self.state = Path(cfg.data_root) / "network"
        self._hostnet = hostnet

    @property
    def hostnet(self) -> Any:
        if self._hostnet is None:
            from pynerd.network.hostnet import HostNet

            self._hostnet = HostNet()
        return self._hostnet

    # Reading.

    def list(self) -> builtins.list[Network]:
        from pynerd.network.cni.config import load_all

        nets = [_from_conf(c) for c in load_all(self.dir).values()]
        names = {n.name for n in nets}
        if DEFAULT_NETWORK not in names:
            nets.insert(0, self.ensure_default())
        return [*nets, *(_pseudo(n) for n in PSEUDO if n not in names)]

    def get(self, ref: str) -> Network:
        """By name, full ID or unique ID prefix; NotFound ``network REF not found``."""
        if ref in PSEUDO:
            return _pseudo(ref)
        if ref == DEFAULT_NETWORK:
            return self.ensure_default()
        path = self._path(ref)
        if NAME_RE.match(ref) and path.exists():
            return _from_conf(self._load(path))
        from pynerd.network.cni.config import load

        try:
            return _from_conf(load(self.dir, ref))
        except NotFound:
            pass
        matches = [n for n in self.list() if n.id.startswith(ref)] if ref else []
        exact = [n for n in matches if n.id == ref]
        if len(exact) == 1 or len(matches) == 1:
            return (exact or matches)[0]
        if len(matches) > 1:
            raise NotFound(f"network {ref} is ambiguous ({len(matches)} matches found on ID)")
        raise NotFound(f"network {ref} not found")

    def _path(self, name: str) -> Path:
        return self.dir / f"{FILE_PREFIX}{name}.conflist"

    def _load(self, path: Path) -> NetworkConfigList:
        from pynerd.network.cni.config import load_file

        return load_file(path)

    # Writing.

    def ensure_default(self) -> Network:
        """The default ``bridge`` network, written on first use."""
        path = self._path(DEFAULT_NETWORK)
        try:
            return _from_conf(self._load(path))
        except Exception:
            if path.exists():
                raise
        with self._locked(), self._host_locked():
            if path.exists():
                return _from_conf(self._load(path))
            subnet = self._free_subnet()
            bridge = self._free_bridge_name()
            opts = CreateNetworkOptions(
                DEFAULT_NETWORK,
                subnets=(str(subnet),),
                options={BRIDGE_NAME_OPT: bridge},
            )
            net = self._write(opts, default=True)
            self._make_host_side(net)  # claims the name and the subnet host-wide
            return net

    def create(self, opts: CreateNetworkOptions) -> Network:
        _validate(opts)
        if opts.name in PSEUDO or opts.name == DEFAULT_NETWORK:
            raise Conflict(f"network with name {opts.name} already exists")
        with self._locked(), self._host_locked():
            from pynerd.network.cni.config import load_all

            existing = load_all(self.dir)
            if opts.name in existing:
                raise Conflict(f"network with name {opts.name} already exists")
            bridge = opts.options.get(BRIDGE_NAME_OPT) if opts.driver == "bridge" else None
            same = [n for n in map(_from_conf, existing.values()) if bridge and n.bridge == bridge]
            if same:  # removing one would take the other's device and rules along
                raise Conflict(
                    f"cannot create network {opts.name} ({bridge}): conflicts with network "
                    f"{same[0].id} ({bridge}): networks have same bridge name"
                )
            if not opts.subnets:
                opts = _with(opts, subnets=(str(self._free_subnet(existing.values())),))
            else:
                self._check_overlap(opts.subnets, existing.values())
                bridge = opts.options.get(BRIDGE_NAME_OPT) if opts.driver == "bridge" else None
            # a bridge that exists already (made by hand, or by Docker) is used, never deleted
            net = self._write(opts, external=bool(bridge and link_exists(bridge)))
            self._make_host_side(net)
        return net

    def _make_host_side(self, net: Network) -> None:
        """Bridge device and rules of a just-written network; the file goes if they fail."""
        try:
            if net.meta.get("external_bridge"):
                self.hostnet.add_rules(self.bridge_spec(net))  # the device is there already
            else:
                self._setup_host_unlocked(net)
        except BaseException:
            self._path(net.name).unlink(missing_ok=True)
            raise

    def remove(self, net: Network, *, allow_default: bool = False) -> None:
        """Delete the config and the host side; the caller checked it is unused."""
        if net.is_pseudo or (net.is_default and not allow_default):
            raise Conflict(f"{net.name} is a pre-defined network and cannot be removed")
        if not net.pynerd_made or net.conf is None or net.conf.path is None:
            raise Conflict(f"network {net.name} was not created by pynerd and cannot be removed")
        with self._locked():
            self.teardown_host(net)
            net.conf.path.unlink(missing_ok=True)
            import shutil

            shutil.rmtree(self.ipam_dir / net.name, ignore_errors=True)

    def remove_all(self) -> None:
        """Every network pynerd made, default included (tests, ``system reset``)."""
        from pynerd.network.cni.config import load_all

        for conf in load_all(self.dir).values():
            net = _from_conf(conf)
            if net.pynerd_made:
                self.remove(net, allow_default=True)

    # Host side.

    @property
    def ipam_dir(self) -> Path:
        return self.state / "ipam"

    def bridge_spec(self, net: Network) -> Any:
        from pynerd.network.hostnet import BridgeSpec

        first = net.ipam[0] if net.ipam else {}
        return BridgeSpec(
            bridge=net.bridge or "",
            subnet=first.get("Subnet", ""),
            gateway=first.get("Gateway", ""),
            internal=net.internal,
            mtu=int(_mtu(net.options) or 0),
        )

    def setup_host(self, net: Network) -> None:
        """Make the bridge device and rules if the device is missing (idempotent)."""
        if not net.pynerd_made or net.driver != "bridge" or not net.bridge:
            return
        if link_exists(net.bridge):
            return
        with self._locked(), self._host_locked():
            self._setup_host_unlocked(net)

    def _setup_host_unlocked(self, net: Network) -> None:
        if not net.pynerd_made or net.driver != "bridge" or not net.bridge:
            return
        if link_exists(net.bridge):
            return
        spec = self.bridge_spec(net)
        self.hostnet.add_bridge(spec)
        try:
            self.hostnet.add_rules(spec)
        except BaseException:
            self.hostnet.delete_bridge(spec.bridge)
            raise

    def teardown_host(self, net: Network) -> None:
        if not net.pynerd_made or net.driver != "bridge" or not net.bridge:
            return
        spec = self.bridge_spec(net)
        self.hostnet.delete_rules(spec)
        if not net.meta.get("external_bridge"):
            self.hostnet.delete_bridge(spec.bridge)

    # Plumbing.

    def _locked(self) -> Any:
        from pynerd.state.lock import file_lock

        self.state.mkdir(parents=True, exist_ok=True)
        return file_lock(self.state / "networks.lock")

    def _host_locked(self) -> Any:
        """Bridge names and subnets are host-wide: data roots choose them one at a time."""
        from pynerd.state.lock import file_lock

        HOST_LOCK.parent.mkdir(parents=True, exist_ok=True)
        return file_lock(HOST_LOCK)

    def _taken(self, nets: Iterable[NetworkConfigList] | None = None) -> builtins.list[Any]:
        import ipaddress

        from pynerd.network.subnets import host_routes

        taken: list[Any] = list(host_routes())
        if nets is None:
            from pynerd.network.cni.config import load_all

            nets = load_all(self.dir).values()
        for conf in nets:
            for c in _from_conf(conf).ipam:
                try:
                    taken.append(ipaddress.ip_network(c["Subnet"], strict=False))
                except (KeyError, ValueError):
                    continue
        return taken

    def _free_subnet(self, nets: Iterable[NetworkConfigList] | None = None) -> Any:
        from pynerd.network.subnets import pick_free

        return pick_free(self._taken(nets))

    def _check_overlap(self, subnets: Iterable[str], nets: Iterable[NetworkConfigList]) -> None:
        import ipaddress

        mine = [ipaddress.ip_network(s, strict=False) for s in subnets]
        for conf in nets:
            for c in _from_conf(conf).ipam:
                try:
                    other = ipaddress.ip_network(c["Subnet"], strict=False)
                except (KeyError, ValueError):
                    continue
                for m in mine:
                    if m.overlaps(other):
                        raise Conflict(
                            f"invalid pool request: Pool overlaps with other one on this "
                            f"address space (network {conf.name}, {other})"
                        )

    def _free_bridge_name(self) -> str:
        from pynerd.network.cni.config import load_all
        used = {_from_conf(c).bridge for c in load_all(self.dir).values()}
        for i in range(1000):
            name = f"pynerd{i}"
            if name not in used and not link_exists(name):
                return name
        raise Conflict("no free bridge name pynerd0..pynerd999")

    def _write(
        self, opts: CreateNetworkOptions, default: bool = False, external: bool = False
    ) -> Network:
        from pynerd.network.cni.config import parse_list
        from pynerd.state.atomic import atomic_write

        nid = os.urandom(32).hex()
        ipam_cfg = _ipam_config(opts)
        meta = {
            "id": nid,
            "created": now_rfc3339(),
            **({"external_bridge": True} if external else {}),
            "driver": opts.driver,
            "internal": opts.internal,
            "labels": dict(opts.labels),
            "options": dict(opts.options),
            "ipam": ipam_cfg,
        }
        plugins = _plugins(opts, nid, ipam_cfg, self.ipam_dir)
        doc = {"cniVersion": CNI_VERSION, "name": opts.name, "pynerd": meta, "plugins": plugins}
        data = (json.dumps(doc, indent=2) + "\n").encode()
        conf = parse_list(data, self._path(opts.name))
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self._path(opts.name), data, mode=0o644)
        return _from_conf(conf)


def _with(opts: CreateNetworkOptions, **changes: Any) -> CreateNetworkOptions:
    from pynerd.structs import replace

    return replace(opts, **changes)


def _mtu(options: Mapping[str, str]) -> str | None:
    for key in MTU_OPTS:
        if options.get(key):
            return options[key]
    return None


def _validate(opts: CreateNetworkOptions) -> None:
    from pynerd.network.subnets import parse_address, parse_subnet

    if not NAME_RE.match(opts.name):
        raise InvalidArgument(
            f'invalid network name "{opts.name}": must match [a-zA-Z0-9][a-zA-Z0-9_.-]*'
        )
    if opts.driver not in DRIVERS:
        raise NotFound(
            f"plugin {opts.driver!r} not found: pynerd supports the drivers " + ", ".join(DRIVERS)
        )
    if opts.ipv6:
        raise InvalidArgument("IPv6 networks are not supported yet")
    for key, value in opts.options.items():
        if key not in KNOWN_OPTS[opts.driver] and not key.startswith("com.docker.network."):
            raise InvalidArgument(f"unsupported option {key!r} for driver {opts.driver}")
        if key in MTU_OPTS and not value.isdigit():
            raise InvalidArgument(f"invalid MTU {value!r}")
    if opts.driver in ("macvlan", "ipvlan") and not opts.options.get("parent"):
        parent = default_parent()
        if parent is None:
            raise InvalidArgument(f"{opts.driver} needs a parent interface: -o parent=IFACE")
    if len(opts.gateways) > len(opts.subnets) or len(opts.ip_ranges) > len(opts.subnets):
        raise InvalidArgument("cannot specify a gateway or ip-range without a subnet")
    nets = [parse_subnet(s) for s in opts.subnets]
    for i, gw in enumerate(opts.gateways):
        if parse_address(gw, "gateway") not in nets[i]:
            raise InvalidArgument(f"no matching subnet for gateway {gw}")
    for i, rng in enumerate(opts.ip_ranges):
        if not parse_subnet(rng).subnet_of(nets[i]):
            raise InvalidArgument(f"no matching subnet for range {rng}")


def default_parent() -> str | None:
    """The interface of the host's default route (Docker's default macvlan parent)."""
    try:
        lines = Path("/proc/net/route").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        f = line.split()
        if len(f) > 2 and f[1] == "00000000":
            return f[0]
    return None


def _ipam_config(opts: CreateNetworkOptions) -> list[dict[str, str]]:
    import ipaddress

    out = []
    for i, subnet in enumerate(opts.subnets):
        net = ipaddress.ip_network(subnet, strict=False)
        gw = opts.gateways[i] if i < len(opts.gateways) else str(net.network_address + 1)
        entry = {"Subnet": str(net), "Gateway": gw}
        if i < len(opts.ip_ranges):
            entry["IPRange"] = str(ipaddress.ip_network(opts.ip_ranges[i], strict=False))
        out.append(entry)
    return out


def _plugins(
    opts: CreateNetworkOptions, nid: str, ipam_cfg: list[dict[str, str]], ipam_dir: Path
) -> list[dict[str, Any]]:
    import ipaddress

    ranges = []
    for c in ipam_cfg:
        r: dict[str, str] = {"subnet": c["Subnet"], "gateway": c["Gateway"]}
        if c.get("IPRange"):
            rng = ipaddress.ip_network(c["IPRange"])
            hosts = list(rng.hosts()) if rng.num_addresses <= 4 else None
            r["rangeStart"] = str(hosts[0] if hosts else rng.network_address + 1)
            r["rangeEnd"] = str(hosts[-1] if hosts else rng.broadcast_address - 1)
        ranges.append([r])
    routes = [] if opts.internal else [{"dst": "0.0.0.0/0"}]
    ipam = {"type": "host-local", "ranges": ranges, "routes": routes, "dataDir": str(ipam_dir)}
    mtu = _mtu(opts.options)
    main: dict[str, Any]
    if opts.driver == "bridge":
        main = {
            "type": "bridge",
            "bridge": opts.options.get(BRIDGE_NAME_OPT) or f"br-{nid[:12]}",
            "isGateway": True,
            "ipMasq": False,
            "hairpinMode": True,
        }
    else:
        main = {
            "type": opts.driver,
            "master": opts.options.get("parent") or default_parent(),
            "mode": opts.options.get(f"{opts.driver}_mode")
            or ("bridge" if opts.driver == "macvlan" else "l2"),
        }
    if mtu:
        main["mtu"] = int(mtu)
    main["capabilities"] = {"ips": True}
    main["ipam"] = ipam
    plugins = [main]
    if opts.driver == "bridge":
        plugins.append({"type": "portmap", "capabilities": {"portMappings": True}})
    plugins.append({"type": "tuning", "capabilities": {"mac": True}})
    return plugins
