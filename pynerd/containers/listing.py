"""``ps``: container rows as Docker shows them (fields, STATUS wording, filters)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynerd.errors import InvalidArgument
from pynerd.filters import Filters, label_matches, parse_filters
from pynerd.format.listing import ListingSpec
from pynerd.format.units import human_duration, human_size

PS_SPEC = ListingSpec(
    default_table=(
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}"
        "\t{{.Names}}"
    ),
    headers={
        "ID": "CONTAINER ID",
        "Image": "IMAGE",
        "Command": "COMMAND",
        "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED",
        "Ports": "PORTS",
        "State": "STATE",
        "Status": "STATUS",
        "Size": "SIZE",
        "Names": "NAMES",
        "Labels": "LABELS",
        "Label": "LABEL",
        "Mounts": "MOUNTS",
        "Networks": "NETWORKS",
        "LocalVolumes": "LOCAL VOLUMES",
    },
)
PS_SIZE_TABLE = PS_SPEC.default_table + "\t{{.Size}}"
PS_FILTERS = (
    "id",
    "name",
    "label",
    "status",
    "exited",
    "before",
    "since",
    "ancestor",
    "volume",
    "network",
    "health",
)
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


@dataclass(frozen=True)
class PsOptions:
    all: bool = False
    last: int = -1
    latest: bool = False
    filters: list[str] = field(default_factory=list)
    no_trunc: bool = False
    size: bool = False


def parse_time(value: str | None) -> float:
    """RFC 3339 (as stored in records) to a Unix time; 0 for Go's zero time or nothing."""
    if not value or value.startswith("0001-01-01"):
        return 0.0
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class PsRow:
    """One container as the template fields of ``ps --format`` see it."""

    def __init__(self, record: dict[str, Any], trunc: bool = True, now: float | None = None):
        self.record = record
        self.trunc = trunc
        self.now = time.time() if now is None else now

    @property
    def ID(self) -> str:
        cid: str = self.record["Id"]
        return cid[:12] if self.trunc else cid

    @property
    def Image(self) -> str:
        return str(self.record.get("Config", {}).get("Image") or self.record.get("Image", ""))

    @property
    def Command(self) -> str:
        args = [self.record.get("Path", ""), *list(self.record.get("Args") or [])]
        command = " ".join(a for a in args if a)
        if self.trunc and len(command) > 20:
            command = command[:19] + "…"
        return f'"{command}"'

    @property
    def CreatedAt(self) -> str:
        ts = parse_time(self.record.get("Created"))
        return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(ts))

    @property
    def RunningFor(self) -> str:
        return human_duration(self.now - parse_time(self.record.get("Created"))) + " ago"

    @property
    def Ports(self) -> str:
        ports = (self.record.get("NetworkSettings") or {}).get("Ports") or {}
        if not ports:
            return ""
        from pynerd.network.ports import format_ps

        return format_ps(ports)

    @property
    def State(self) -> str:
        return str(self.record.get("State", {}).get("Status", "created"))

    @property
    def Status(self) -> str:
        return status_text(self.record.get("State", {}), self.now)

    @property
    def Size(self) -> str:
        rw = int(self.record.get("SizeRw") or 0)
        root = int(self.record.get("SizeRootFs") or 0)
        return f"{human_size(rw)} (virtual {human_size(root)})"

    @property
    def Names(self) -> str:
        return str(self.record.get("Name", "")).lstrip("/")

    @property
    def Labels(self) -> str:
        labels = self.record.get("Config", {}).get("Labels") or {}
        return ",".join(f"{k}={v}" for k, v in labels.items())

    def Label(self, key: str) -> str:
        return str((self.record.get("Config", {}).get("Labels") or {}).get(key, ""))

    @property
    def Mounts(self) -> str:
        mounts = self.record.get("Mounts") or []
        return ",".join(m.get("Name") or m.get("Source", "") for m in mounts)

    @property
    def Networks(self) -> str:
        nets = (self.record.get("NetworkSettings") or {}).get("Networks") or {}
        return ",".join(nets)

    @property
    def LocalVolumes(self) -> str:
        return str(sum(1 for m in self.record.get("Mounts") or [] if m.get("Type") == "volume"))

    def to_json(self) -> dict[str, Any]:
        return {
            name: getattr(self, name)
            for name in (
                "Command",
                "CreatedAt",
                "ID",
                "Image",
                "Labels",
                "LocalVolumes",
                "Mounts",
                "Names",
                "Networks",
                "Ports",
                "RunningFor",
                "Size",
                "State",
                "Status",
            )
        }


def status_text(state: dict[str, Any], now: float) -> str:
    """Docker's STATUS column: 'Up 3 seconds', 'Exited (0) 2 minutes ago', 'Created'…"""
    status = state.get("Status", "created")
    if status in ("running", "paused"):
        text = "Up " + human_duration(now - parse_time(state.get("StartedAt")))
        if status == "paused":
            text += " (Paused)"
        health = (state.get("Health") or {}).get("Status")
        if health and health != "none":
            text += " (health: starting)" if health == "starting" else f" ({health})"
        return text
    if status == "restarting":
        ago = human_duration(now - parse_time(state.get("FinishedAt")))
        return f"Restarting ({state.get('ExitCode', 0)}) {ago} ago"
    if status == "exited":
        finished = parse_time(state.get("FinishedAt"))
        if not finished:
            return f"Exited ({state.get('ExitCode', 0)})"
        return f"Exited ({state.get('ExitCode', 0)}) {human_duration(now - finished)} ago"
    if status == "removing":
        return "Removal In Progress"
    if status == "dead":
        return "Dead"
    return "Created"


def select(records: list[dict[str, Any]], opts: PsOptions) -> list[dict[str, Any]]:
    """Apply -a, -n, -l and --filter; newest first, as Docker lists."""
    filters = parse_filters(opts.filters, PS_FILTERS)
    for s in filters.get("status", []):
        if s not in STATUSES:
            raise InvalidArgument(f"invalid filter 'status={s}'")
    records = sorted(records, key=lambda r: r.get("Created", ""), reverse=True)
    show_all = (
        opts.all or opts.latest or opts.last > 0 or "status" in filters or ("exited" in filters)
    )
    out = [r for r in records if (show_all or _running(r)) and _matches(r, filters, records)]
    if opts.latest:
        return out[:1]
    if opts.last > 0:
        return out[: opts.last]
    return out


def _running(record: dict[str, Any]) -> bool:
    return record.get("State", {}).get("Status") in ("running", "paused", "restarting")


def _matches(record: dict[str, Any], filters: Filters, everyone: list[dict[str, Any]]) -> bool:
    state = record.get("State", {})
    name = str(record.get("Name", "")).lstrip("/")
    if "id" in filters and not any(record["Id"].startswith(v) for v in filters["id"]):
        return False
    if "name" in filters and not any(v.lstrip("/") in name for v in filters["name"]):
        return False
    if "label" in filters and not label_matches(
        record.get("Config", {}).get("Labels"), filters["label"]
    ):
        return False
    if "status" in filters and state.get("Status") not in filters["status"]:
        return False
    if "exited" in filters and (
        state.get("Status") != "exited" or str(state.get("ExitCode", 0)) not in filters["exited"]
    ):
        return False
    if "ancestor" in filters and not any(
        v in (record.get("Image"), record.get("Config", {}).get("Image"))
        for v in filters["ancestor"]
    ):
        return False
    if (
        "health" in filters
        and (state.get("Health") or {}).get("Status", "none") not in filters["health"]
    ):
        return False
    if "volume" in filters and not any(
        v in (m.get("Name"), m.get("Source"), m.get("Destination"))
        for m in record.get("Mounts") or []
        for v in filters["volume"]
    ):
        return False
    if "network" in filters and not any(
        v in ((record.get("NetworkSettings") or {}).get("Networks") or {})
        for v in filters["network"]
    ):
        return False
    for key, newer in (("before", False), ("since", True)):
        for ref in filters.get(key, []):
            pivot = _lookup(ref, everyone)
            if newer and not record.get("Created", "") > pivot.get("Created", ""):
                return False
            if not newer and not record.get("Created", "") < pivot.get("Created", ""):
                return False
    return True


def _lookup(ref: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    for r in records:
        if r["Id"].startswith(ref) or str(r.get("Name", "")).lstrip("/") == ref:
            return r
    from pynerd.errors import no_such_container

    raise no_such_container(ref)


def list_containers(cfg: Any, opts: PsOptions) -> list[PsRow]:
    """The rows ``ps`` prints; records that claim a process which is gone are corrected."""
    from pynerd.containers.control import RUNNING, refresh
    from pynerd.containers.store import ContainerStore

    now = time.time()
    records = [
        refresh(cfg, r) if r.get("State", {}).get("Status") in RUNNING else r
        for r in ContainerStore(cfg.namespace_root).list()
    ]
    chosen = select(records, opts)
    if opts.size:
        chosen = [with_sizes(cfg, r) for r in chosen]
    return [PsRow(r, trunc=not opts.no_trunc, now=now) for r in chosen]


def with_sizes(cfg: Any, record: dict[str, Any]) -> dict[str, Any]:
    """``SizeRw`` (the container's own changes) and ``SizeRootFs`` (plus its image)."""
    from pynerd.errors import PynerdError
    from pynerd.snapshots import get_snapshotter

    snapshotter = record.get("Pynerd", {}).get("Snapshotter", cfg.snapshotter)
    snap = get_snapshotter(snapshotter, cfg.data_root / "snapshots" / snapshotter)
    try:
        rw = snap.usage(record["Id"])
    except PynerdError:
        rw = 0
    image = 0
    try:
        from pynerd.images.view import ImageCatalog

        image = ImageCatalog(cfg).view(record["Image"]).size
    except PynerdError:
        pass
    return {**record, "SizeRw": rw, "SizeRootFs": rw + image}
