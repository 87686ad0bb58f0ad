"""Published ports: Docker's ``-p``/``-P`` syntax, free-port choice, the in-use check.

A mapping is DNAT through the CNI ``portmap`` plugin (no proxy process, nothing keeps
the port bound), so pynerd checks before the container starts that the host port is
neither published by another of its containers nor bound by a host process, and fails
with Docker's message otherwise.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable

from pynerd.errors import Conflict, InvalidArgument
from pynerd.structs import frozen_record

PROTOCOLS = ("tcp", "udp", "sctp")


@frozen_record
class PortMapping:
    container_port: int
    protocol: str = "tcp"
    host_ip: str = ""  # "" = every address (Docker shows 0.0.0.0)
    host_port: int = 0  # 0 = choose a free one at start
    host_port_end: int = 0  # a host range for one container port: the first free one

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.protocol}"

    def binding(self) -> dict[str, str]:
        """Docker's PortBinding object (HostConfig.PortBindings / NetworkSettings.Ports)."""
        return {"HostIp": self.host_ip or "0.0.0.0", "HostPort": str(self.host_port)}

    def cni(self) -> dict[str, object]:
        out: dict[str, object] = {
            "hostPort": self.host_port,
            "containerPort": self.container_port,
            "protocol": self.protocol,
        }
        if self.host_ip:
            out["hostIP"] = self.host_ip
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            "HostIp": self.host_ip,
            "HostPort": self.host_port,
            "ContainerPort": self.container_port,
            "Protocol": self.protocol,
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> PortMapping:
        return cls(
            int(str(d["ContainerPort"])),
            str(d.get("Protocol", "tcp")),
            str(d.get("HostIp", "")),
            int(str(d.get("HostPort", 0))),
        )


def _range(text: str, what: str) -> tuple[int, int]:
    lo, sep, hi = text.partition("-")
    try:
        a = int(lo)
        b = int(hi) if sep else a
    except ValueError:
        raise InvalidArgument(f"invalid {what}: {text}") from None
    if not (0 < a <= 65535 and 0 < b <= 65535) or b < a:
        raise InvalidArgument(f"invalid {what}: {text}")
    return a, b


def parse_publish(spec: str) -> list[PortMapping]:
    """``[ip:][hostPort[-end]:]containerPort[-end][/proto]``, Docker's ``-p``."""
    text, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto not in PROTOCOLS:
        raise InvalidArgument(f"invalid proto: {proto}")
    if text.startswith("["):
        raise InvalidArgument(f"IPv6 host addresses are not supported: {spec}")
    parts = text.split(":")
    if len(parts) > 3:
        raise InvalidArgument(f"invalid port format: {spec}")
    ip = parts[0] if len(parts) == 3 else ""
    host = parts[-2] if len(parts) >= 2 else ""
    if ip:
        from pynerd.network.subnets import parse_address

        parse_address(ip, "IP address")
        if ip == "0.0.0.0":
            ip = ""
    if not parts[-1]:
        raise InvalidArgument(f"no port specified: {spec}<empty>")
    c_lo, c_hi = _range(parts[-1], "containerPort")
    if not host:
        return [PortMapping(p, proto, ip) for p in range(c_lo, c_hi + 1)]
    h_lo, h_hi = _range(host, "hostPort")
    count = c_hi - c_lo + 1
    if count == 1 and h_hi > h_lo:
        return [PortMapping(c_lo, proto, ip, h_lo, h_hi)]
    if h_hi - h_lo + 1 != count:
        raise InvalidArgument(
            f"invalid ranges specified for container and host Ports: {parts[-1]} and {host}"
        )
    return [PortMapping(c_lo + i, proto, ip, h_lo + i) for i in range(count)]


def parse_all(specs: Iterable[str], publish_all: bool, exposed: Iterable[str]) -> list[PortMapping]:
    out: list[PortMapping] = []
    for spec in specs:
        out.extend(parse_publish(spec))
    if publish_all:
        have = {m.key for m in out}
        for key in exposed:
            port, _, proto = key.partition("/")
            if f"{port}/{proto or 'tcp'}" not in have:
                out.append(PortMapping(int(port), proto or "tcp"))
    return out


def _kind(proto: str) -> int:
    import socket

    return socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM


def _bindable(ip: str, port: int, proto: str) -> OSError | None:
    if proto == "sctp":
        return None
    import socket

    s = socket.socket(socket.AF_INET, _kind(proto))
    try:
        if proto == "tcp":  # as Go's net.Listen: closed connections in TIME_WAIT do not count
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip or "0.0.0.0", port))
        return None
    except OSError as e:
        return e
    finally:
        s.close()


def _free_port(ip: str, proto: str) -> int:
    import socket

    s = socket.socket(socket.AF_INET, _kind("udp" if proto == "udp" else "tcp"))
    try:
        s.bind((ip or "0.0.0.0", 0))
        return int(s.getsockname()[1])
    finally:
        s.close()


def _overlaps(a: PortMapping, b: PortMapping) -> bool:
    return (
        a.host_port == b.host_port
        and a.protocol == b.protocol
        and (not a.host_ip or not b.host_ip or a.host_ip == b.host_ip)
    )


def allocate(
    wanted: list[PortMapping], taken: list[PortMapping], endpoint: str
) -> list[PortMapping]:
    """Concrete host ports for ``wanted``, checked against ``taken`` and the host's sockets."""
    from pynerd.structs import replace

    out: list[PortMapping] = []
    for m in wanted:
        candidates = (
            list(range(m.host_port, (m.host_port_end or m.host_port) + 1)) if m.host_port else []
        )
        if not candidates:
            for _ in range(50):
                port = _free_port(m.host_ip, m.protocol)
                trial = replace(m, host_port=port)
                if not any(_overlaps(trial, t) for t in [*taken, *out]):
                    out.append(trial)
                    break
            else:
                raise Conflict("no free host port")
            continue
        error = ""
        for port in candidates:
            trial = replace(m, host_port=port, host_port_end=0)
            addr = f"{m.host_ip or '0.0.0.0'}:{port}"
            if any(_overlaps(trial, t) for t in [*taken, *out]):
                error = f"Bind for {addr} failed: port is already allocated"
                continue
            e = _bindable(m.host_ip, port, m.protocol)
            if e is not None and e.errno == errno.EADDRINUSE:
                error = (
                    f"Error starting userland proxy: listen {m.protocol}4 {addr}: "
                    "bind: address already in use"
                )
                continue
            out.append(trial)
            break
        else:
            raise Conflict(
                f"driver failed programming external connectivity on endpoint {endpoint}: {error}"
            )
    return out


def format_ps(ports: dict[str, list[dict[str, str]] | None]) -> str:
    """The PORTS column of ``ps``, laid out as Docker's CLI does.

    Ports are ordered by container port, then host address, host port and protocol.
    Unpublished ports, and published ones whose host port equals the container port,
    are grouped per protocol (and address) into ranges of consecutive ports
    (``80-81/tcp``, ``0.0.0.0:80-81->80-81/tcp``); mappings to another host port follow
    at the end, one each (``0.0.0.0:8080->80/tcp``).
    """
    entries: list[tuple[int, str, int, str]] = []  # container port, ip, host port, proto
    for key, bindings in ports.items():
        number, _, protocol = key.partition("/")
        for b in bindings or [{"HostIp": "", "HostPort": "0"}]:
            entries.append(
                (int(number), b.get("HostIp") or "", int(b.get("HostPort") or 0), protocol)
            )
    entries.sort()
    groups: dict[str, list[int]] = {}  # key -> [first, last], in first-seen order
    out: list[str] = []
    mappings: list[str] = []
    for port, ip, host_port, proto in entries:
        if ip and host_port != port:
            mappings.append(f"{ip}:{host_port}->{port}/{proto}")
            continue
        key = f"{ip}/{proto}" if ip else proto
        group = groups.get(key)
        if group is not None and port == group[1] + 1:
            group[1] = port
            continue
        if group is not None:
            out.append(_group(key, *group))
        groups[key] = [port, port]  # a new range keeps the key's place among the groups
    out.extend(_group(key, *g) for key, g in groups.items())
    return ", ".join(out + mappings)


def _group(key: str, first: int, last: int) -> str:
    ip, _, proto = key.rpartition("/")
    span = str(first) if first == last else f"{first}-{last}"
    return f"{ip}:{span}->{span}/{proto}" if ip else f"{span}/{proto}"
