"""``top`` and ``stats``: what a running container's processes are and what they use.

Both read what the kernel already knows (runc's view of the cgroup, ``ps`` on the
host, /proc), so there is nothing to keep running between calls.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from pynerd.config import Config
from pynerd.containers.control import find
from pynerd.errors import Conflict, InvalidArgument
from pynerd.format.listing import ListingSpec
from pynerd.format.units import human_size

Record = dict[str, Any]


def top(cfg: Config, ref: str, ps_args: list[str]) -> tuple[list[str], list[list[str]]]:
    """Titles and rows of host ``ps`` output for the container's processes (Docker's top)."""
    from pynerd.containers.runtime import runc_for

    record = find(cfg, ref)
    if record["State"]["Status"] not in ("running", "paused"):
        raise Conflict(f"container {record['Id']} is not running")
    pids = {str(p) for p in runc_for(cfg).ps(record["Id"])}
    args = ps_args or ["-ef"]
    out = subprocess.run(["ps", *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise InvalidArgument(f"ps: {out.stderr.strip()}")
    lines = out.stdout.splitlines()
    if not lines:
        return [], []
    titles = lines[0].split()
    if "PID" not in titles:
        raise InvalidArgument("Couldn't find PID field in ps output")
    at = titles.index("PID")
    rows = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) > at and fields[at] in pids:
            rows.append(fields)
    return titles, rows


STATS_SPEC = ListingSpec(
    default_table=(
        "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}"
        "\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
    ),
    headers={
        "ID": "CONTAINER ID",
        "Container": "CONTAINER",
        "Name": "NAME",
        "CPUPerc": "CPU %",
        "MemUsage": "MEM USAGE / LIMIT",
        "MemPerc": "MEM %",
        "NetIO": "NET I/O",
        "BlockIO": "BLOCK I/O",
        "PIDs": "PIDS",
    },
)


@dataclass
class StatsRow:
    record: Record
    cpu: float
    mem: int
    limit: int
    net: tuple[int, int]
    block: tuple[int, int]
    pids: int
    trunc: bool = True

    @property
    def ID(self) -> str:
        cid: str = self.record["Id"]
        return cid[:12] if self.trunc else cid

    @property
    def Container(self) -> str:
        return self.ID

    @property
    def Name(self) -> str:
        return str(self.record["Name"]).lstrip("/")

    @property
    def CPUPerc(self) -> str:
        return f"{self.cpu:.2f}%"

    @property
    def MemUsage(self) -> str:
        return f"{_binary(self.mem)} / {_binary(self.limit)}"

    @property
    def MemPerc(self) -> str:
        return f"{(100.0 * self.mem / self.limit) if self.limit else 0.0:.2f}%"

    @property
    def NetIO(self) -> str:
        return f"{human_size(self.net[0])} / {human_size(self.net[1])}"

    @property
    def BlockIO(self) -> str:
        return f"{human_size(self.block[0])} / {human_size(self.block[1])}"

    @property
    def PIDs(self) -> str:
        return str(self.pids)

    def to_json(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in (
                "BlockIO",
                "CPUPerc",
                "Container",
                "ID",
                "MemPerc",
                "MemUsage",
                "Name",
                "NetIO",
                "PIDs",
            )
        }


def _binary(n: float) -> str:
    """Docker's BytesSize: 1024-based units, 3 significant digits (``1.5MiB``)."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n /= 1024
        i += 1
    return f"{n:.4g}{units[i]}" if i else f"{int(n)}B"


def _host_memory() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _net(pid: int) -> tuple[int, int]:
    rx = tx = 0
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.read().splitlines()[2:]
        for line in lines:
            name, _, data = line.partition(":")
            if name.strip() == "lo":
                continue
            counters = data.split()
            rx += int(counters[0])
            tx += int(counters[8])
    except (OSError, ValueError, IndexError):
        pass
    return rx, tx


def _sample(cfg: Config, record: Record) -> dict[str, Any]:
    from pynerd.containers.runtime import runc_for

    return runc_for(cfg).stats(record["Id"])


def _memory(data: dict[str, Any]) -> tuple[int, int]:
    mem = data.get("memory") or {}
    usage = int((mem.get("usage") or {}).get("usage") or 0)
    raw = mem.get("raw") or {}
    inactive = int(raw.get("total_inactive_file", raw.get("inactive_file", 0)) or 0)
    limit = int((mem.get("usage") or {}).get("limit") or 0)
    host = _host_memory()
    if not limit or limit >= (1 << 62) or (host and limit > host):
        limit = host
    return max(0, usage - inactive if inactive < usage else usage), limit


def _block(data: dict[str, Any]) -> tuple[int, int]:
    read = write = 0
    for entry in (data.get("blkio") or {}).get("ioServiceBytesRecursive") or []:
        op = str(entry.get("op", "")).lower()
        if op == "read":
            read += int(entry.get("value") or 0)
        elif op == "write":
            write += int(entry.get("value") or 0)
    return read, write


def stats(
    cfg: Config, refs: list[str], all: bool = False, no_trunc: bool = False, interval: float = 0.5
) -> list[StatsRow]:
    """One snapshot of usage: two samples ``interval`` apart give the CPU percentage."""
    from pynerd.containers.store import ContainerStore

    if refs:
        records = [find(cfg, r) for r in refs]
    else:
        records = [
            r
            for r in ContainerStore(cfg.namespace_root).list()
            if all or r["State"]["Status"] == "running"
        ]
    running = [r for r in records if r["State"]["Status"] in ("running", "paused")]
    first = {r["Id"]: (_safe_sample(cfg, r), time.monotonic()) for r in running}
    if running:
        time.sleep(interval)
    ncpu = os.cpu_count() or 1
    rows = []
    for r in records:
        if r["Id"] not in first:
            rows.append(StatsRow(r, 0.0, 0, 0, (0, 0), (0, 0), 0, not no_trunc))
            continue
        before, t0 = first[r["Id"]]
        after = _safe_sample(cfg, r)
        elapsed_ns = (time.monotonic() - t0) * 1e9
        used = int(((after.get("cpu") or {}).get("usage") or {}).get("total") or 0) - int(
            ((before.get("cpu") or {}).get("usage") or {}).get("total") or 0
        )
        cpu = max(0.0, 100.0 * used / elapsed_ns) if elapsed_ns else 0.0
        cpu = min(cpu, 100.0 * ncpu)
        mem, limit = _memory(after)
        pid = int(r["State"].get("Pid") or 0)
        rows.append(
            StatsRow(
                r,
                cpu,
                mem,
                limit,
                _net(pid),
                _block(after),
                int((after.get("pids") or {}).get("current") or 0),
                not no_trunc,
            )
        )
    return rows


def _safe_sample(cfg: Config, record: Record) -> dict[str, Any]:
    from pynerd.errors import PynerdError

    try:
        return _sample(cfg, record)
    except PynerdError:
        return {}


def ports(cfg: Config, ref: str, private: str | None = None) -> list[str]:
    """``port``: the container's published ports, ``80/tcp -> 0.0.0.0:8080`` lines."""
    from pynerd.errors import NotFound

    record = find(cfg, ref)
    mapping = (record.get("NetworkSettings") or {}).get("Ports") or {}
    if private is not None:
        key = private if "/" in private else f"{private}/tcp"
        bindings = mapping.get(key)
        if not bindings:
            raise NotFound(f"No public port '{key}' published for {ref}")
        return [f"{b.get('HostIp') or '0.0.0.0'}:{b['HostPort']}" for b in bindings]
    out = []
    for port, bindings in sorted(mapping.items()):
        for b in bindings or []:
            out.append(f"{port} -> {b.get('HostIp') or '0.0.0.0'}:{b['HostPort']}")
    return out
