"""CNI results: one model for every spec version, converted on the way in and out.

A plugin answers ADD in its config's ``cniVersion``; the runtime hands results on as
``prevResult`` and caches them, converting to the list's version (libcni's
``GetAsVersion``). Internally a result is the 1.0 shape: ``ips`` point at ``interfaces``
by index and carry no ``version``; 0.3.x/0.4.0 add ``version`` ("4"/"6") to each IP;
0.1.0/0.2.0 only know one ``ip4`` and one ``ip6`` block with their routes.
"""

from __future__ import annotations

from typing import Any

from pynerd.network.cni import version
from pynerd.network.cni.errors import CNIError
from pynerd.structs import frozen_record, record_field


@frozen_record
class Interface:
    name: str
    mac: str = ""
    mtu: int = 0
    sandbox: str = ""
    socket_path: str = ""
    pci_id: str = ""


@frozen_record
class IPConfig:
    address: str  # CIDR, e.g. "10.244.1.2/24"
    gateway: str = ""
    interface: int | None = None  # index into Result.interfaces

    @property
    def family(self) -> str:
        """ "4" or "6", as the 0.3/0.4 ``version`` field spells it."""
        return "6" if ":" in self.address else "4"

    @property
    def ip(self) -> str:
        return self.address.split("/", 1)[0]


@frozen_record
class Route:
    dst: str
    gw: str = ""


@frozen_record
class DNS:
    nameservers: list[str] = record_field(default_factory=list)
    domain: str = ""
    search: list[str] = record_field(default_factory=list)
    options: list[str] = record_field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.nameservers:
            out["nameservers"] = list(self.nameservers)
        if self.domain:
            out["domain"] = self.domain
        if self.search:
            out["search"] = list(self.search)
        if self.options:
            out["options"] = list(self.options)
        return out


@frozen_record
class Result:
    cni_version: str
    interfaces: list[Interface] = record_field(default_factory=list)
    ips: list[IPConfig] = record_field(default_factory=list)
    routes: list[Route] = record_field(default_factory=list)
    dns: DNS = record_field(default_factory=DNS)

    def ips_of(self, ifname: str, sandbox: str | None = None) -> list[IPConfig]:
        """The addresses assigned to interface ``ifname`` (in ``sandbox`` if given)."""
        out = []
        for ip in self.ips:
            if ip.interface is None or not 0 <= ip.interface < len(self.interfaces):
                continue
            intf = self.interfaces[ip.interface]
            if intf.name == ifname and (sandbox is None or intf.sandbox == sandbox):
                out.append(ip)
        return out

    @classmethod
    def from_dict(cls, data: Any, default_version: str = "") -> Result:
        """Parse a plugin's (or a cache's) result of any supported version.

        A result without ``cniVersion`` is taken to be ``default_version``, the config's,
        as libcni's fixupResultVersion does for plugins that omit it.
        """
        if not isinstance(data, dict):
            raise CNIError("invalid CNI result: expected a JSON object")
        ver = data.get("cniVersion") or default_version
        if not isinstance(ver, str) or ver not in version.SUPPORTED:
            raise CNIError(f"unsupported CNI result version {ver!r}")
        try:
            if version.at_least(ver, "0.3.0"):
                return _from_current(ver, data)
            return _from_legacy(ver, data)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise CNIError(f"invalid CNI {ver} result: {e!r}") from None

    def to_dict(self, cni_version: str | None = None) -> dict[str, Any]:
        """The result as JSON in ``cni_version`` (default: its own)."""
        ver = cni_version or self.cni_version
        if ver not in version.SUPPORTED:
            raise CNIError(f"cannot convert CNI result to unsupported version {ver!r}")
        if not version.at_least(ver, "0.3.0"):
            return self._to_legacy(ver)
        with_family = not version.at_least(ver, "1.0.0")
        out: dict[str, Any] = {"cniVersion": ver}
        if self.interfaces:
            out["interfaces"] = [_interface_dict(i, full=not with_family) for i in self.interfaces]
        if self.ips:
            ips = []
            for ip in self.ips:
                d: dict[str, Any] = {"version": ip.family} if with_family else {}
                if ip.interface is not None:
                    d["interface"] = ip.interface
                d["address"] = ip.address
                if ip.gateway:
                    d["gateway"] = ip.gateway
                ips.append(d)
            out["ips"] = ips
        if self.routes:
            out["routes"] = [_route_dict(r) for r in self.routes]
        out["dns"] = self.dns.to_dict()
        return out

    def as_version(self, cni_version: str) -> Result:
        """A copy converted to ``cni_version`` (what libcni's GetAsVersion returns)."""
        return Result.from_dict(self.to_dict(cni_version))

    def _to_legacy(self, ver: str) -> dict[str, Any]:
        """0.1.0/0.2.0: the first IP of each family, routes split by family (libcni)."""
        out: dict[str, Any] = {"cniVersion": ver}
        for fam in ("4", "6"):
            first = next((ip for ip in self.ips if ip.family == fam), None)
            if first is None:
                continue
            block: dict[str, Any] = {"ip": first.address}
            if first.gateway:
                block["gateway"] = first.gateway
            routes = [_route_dict(r) for r in self.routes if _family(r.dst) == fam]
            if routes:
                block["routes"] = routes
            out[f"ip{fam}"] = block
        if "ip4" not in out and "ip6" not in out:
            raise CNIError(f"cannot convert CNI result to {ver}: no valid IP addresses")
        out["dns"] = self.dns.to_dict()
        return out


def _family(cidr: str) -> str:
    return "6" if ":" in cidr else "4"


def _interface_dict(i: Interface, full: bool) -> dict[str, Any]:
    d: dict[str, Any] = {"name": i.name}
    if i.mac:
        d["mac"] = i.mac
    if full and i.mtu:
        d["mtu"] = i.mtu
    if i.sandbox:
        d["sandbox"] = i.sandbox
    if full and i.socket_path:
        d["socketPath"] = i.socket_path
    if full and i.pci_id:
        d["pciID"] = i.pci_id
    return d


def _route_dict(r: Route) -> dict[str, Any]:
    d: dict[str, Any] = {"dst": r.dst}
    if r.gw:
        d["gw"] = r.gw
    return d


def _str(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string")
    return value


def _strs(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{what} must be a list of strings")
    return list(value)


def _dns(value: Any) -> DNS:
    if value is None:
        return DNS()
    if not isinstance(value, dict):
        raise TypeError("dns must be an object")
    return DNS(
        _strs(value.get("nameservers"), "dns.nameservers"),
        _str(value.get("domain"), "dns.domain"),
        _strs(value.get("search"), "dns.search"),
        _strs(value.get("options"), "dns.options"),
    )


def _route(value: dict[str, Any]) -> Route:
    return Route(_str(value["dst"], "route dst"), _str(value.get("gw"), "route gw"))


def _from_current(ver: str, data: dict[str, Any]) -> Result:
    interfaces = [
        Interface(
            name=_str(i["name"], "interface name"),
            mac=_str(i.get("mac"), "interface mac"),
            mtu=int(i.get("mtu") or 0),
            sandbox=_str(i.get("sandbox"), "interface sandbox"),
            socket_path=_str(i.get("socketPath"), "interface socketPath"),
            pci_id=_str(i.get("pciID"), "interface pciID"),
        )
        for i in data.get("interfaces") or []
    ]
    ips = []
    for ip in data.get("ips") or []:
        index = ip.get("interface")
        if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
            raise TypeError("ip interface must be an integer index")
        ips.append(
            IPConfig(_str(ip["address"], "ip address"), _str(ip.get("gateway"), "gateway"), index)
        )
    routes = [_route(r) for r in data.get("routes") or []]
    return Result(ver, interfaces, ips, routes, _dns(data.get("dns")))


def _from_legacy(ver: str, data: dict[str, Any]) -> Result:
    result = Result(ver, dns=_dns(data.get("dns")))
    for fam in ("4", "6"):
        block = data.get(f"ip{fam}")
        if not block:
            continue
        result.ips.append(IPConfig(_str(block["ip"], "ip"), _str(block.get("gateway"), "gw")))
        result.routes.extend(_route(r) for r in block.get("routes") or [])
    return result
