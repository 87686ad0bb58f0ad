"""``network create/ls/inspect/rm/prune``: the network subsystem's management API.

Whether a network is in use is answered by the endpoint registry (containers attached
right now, as Docker's "active endpoints"). A caller that knows about containers passes
``reap``: called for each endpoint before the check, it releases endpoints whose
container is gone or stopped (a monitor that died before releasing), so a dead container
never pins a network.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pynerd.config import Config
from pynerd.errors import Conflict, NotFound, PynerdError
from pynerd.filters import label_matches, parse_filters, until_bound
from pynerd.format.listing import ListingSpec
from pynerd.network.endpoints import Endpoint, Endpoints
from pynerd.network.networks import CreateNetworkOptions, Network, NetworkStore

Reap = Callable[[Endpoint], None]
LIST_FILTERS = ("driver", "id", "label", "name", "scope", "type", "dangling")
PRUNE_FILTERS = ("label", "label!", "until")


def no_such_network(ref: str) -> NotFound:
    # The Docker daemon's words (and Docker 23+ clients'); python-on-whales maps
    # "network ... not found" to NoSuchNetwork, so network.exists() works.
    return NotFound(f"network {ref} not found")


def create(cfg: Config, opts: CreateNetworkOptions) -> Network:
    return NetworkStore(cfg).create(opts)


def _attached(cfg: Config, net: Network, reap: Reap | None) -> builtins.list[Endpoint]:
    eps = Endpoints(cfg.data_root)
    found = eps.on_network(net.name)
    if reap is not None and found:
        for ep in found:
            reap(ep)
        found = eps.on_network(net.name)
    return found


def containers_of(cfg: Config, net: Network, reap: Reap | None = None) -> dict[str, Any]:
    """Docker's ``Containers`` map of ``network inspect``."""
    out: dict[str, Any] = {}
    for ep in sorted(_attached(cfg, net, reap), key=lambda e: e["Id"]):
        a = ep["Networks"][net.name]
        out[ep["Id"]] = {
            "Name": ep["Name"],
            "EndpointID": a.get("EndpointID", ""),
            "MacAddress": a.get("MacAddress", ""),
            "IPv4Address": f"{a['IPAddress']}/{a['IPPrefixLen']}" if a.get("IPAddress") else "",
            "IPv6Address": "",
        }
    return out


def inspect(
    cfg: Config, refs: Iterable[str], reap: Reap | None = None
) -> tuple[builtins.list[dict[str, Any]], builtins.list[PynerdError]]:
    store = NetworkStore(cfg)
    found: builtins.list[dict[str, Any]] = []
    errors: builtins.list[PynerdError] = []
    for ref in refs:
        try:
            net = store.get(ref)
        except NotFound:
            errors.append(no_such_network(ref))
            continue
        found.append(net.inspect(containers_of(cfg, net, reap) if not net.is_pseudo else {}))
    return found, errors


@dataclass
class RemoveResult:
    removed: builtins.list[str] = field(default_factory=list)
    errors: builtins.list[PynerdError] = field(default_factory=list)


def _remove_one(cfg: Config, store: NetworkStore, net: Network, reap: Reap | None) -> None:
    if net.is_pseudo or net.is_default:
        raise Conflict(f"{net.name} is a pre-defined network and cannot be removed")
    if _attached(cfg, net, reap):
        raise Conflict(
            f"error while removing network: network {net.name} id {net.id} has active endpoints"
        )
    store.remove(net)


def remove(
    cfg: Config, refs: Iterable[str], reap: Reap | None = None, force: bool = False
) -> RemoveResult:
    """``network rm``; with ``force`` a missing network is no error (``-f``)."""
    store = NetworkStore(cfg)
    result = RemoveResult()
    for ref in refs:
        try:
            try:
                net = store.get(ref)
            except NotFound:
                if force:
                    continue
                raise no_such_network(ref) from None
            _remove_one(cfg, store, net, reap)
            result.removed.append(ref)
        except PynerdError as e:
            result.errors.append(e)
    return result


def prune(
    cfg: Config, filters: Iterable[str] = (), reap: Reap | None = None
) -> builtins.list[str]:
    """Remove every pynerd-made user network without attached containers."""
    f = parse_filters(filters, PRUNE_FILTERS)
    until = [until_bound(u) for u in f.get("until", [])]
    store = NetworkStore(cfg)
    removed = []
    for net in sorted(store.list(), key=lambda n: n.name):
        if net.is_pseudo or net.is_default or not net.pynerd_made:
            continue
        if "label" in f and not label_matches(net.labels, f["label"]):
            continue
        if "label!" in f and any(label_matches(net.labels, [w]) for w in f["label!"]):
            continue
        if any(net.created >= u for u in until):
            continue
        if _attached(cfg, net, reap):
            continue
        store.remove(net)
        removed.append(net.name)
    return removed


class NetworkRow:
    """One line of ``network ls`` (fields as Docker's template names them)."""

    def __init__(self, net: Network, no_trunc: bool = False) -> None:
        self.net = net
        self.no_trunc = no_trunc

    @property
    def ID(self) -> str:
        return self.net.id if self.no_trunc else self.net.id[:12]

    @property
    def Name(self) -> str:
        return self.net.name

    @property
    def Driver(self) -> str:
        return self.net.driver

    @property
    def Scope(self) -> str:
        return "local"

    @property
    def IPv6(self) -> str:
        return "false"

    @property
    def Internal(self) -> str:
        return str(self.net.internal).lower()

    @property
    def Labels(self) -> str:
        return ",".join(f"{k}={v}" for k, v in sorted(self.net.labels.items()))

    def Label(self, name: str) -> str:
        return self.net.labels.get(name, "")

    @property
    def CreatedAt(self) -> str:
        created = self.net.created  # RFC 3339 in UTC -> Go's time.Time String()
        clock = created[11:].rstrip("Z")
        if "." in clock:  # Go's ".999999999": no trailing zeros
            clock = clock.rstrip("0").rstrip(".")
        return f"{created[:10]} {clock} +0000 UTC"

    def to_json(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in ("CreatedAt", "Driver", "ID", "IPv6", "Internal", "Labels", "Name", "Scope")
        }


NETWORK_SPEC = ListingSpec(
    default_table="table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
    headers={
        "ID": "NETWORK ID",
        "Name": "NAME",
        "Driver": "DRIVER",
        "Scope": "SCOPE",
        "IPv6": "IPV6",
        "Internal": "INTERNAL",
        "Labels": "LABELS",
        "Label": "LABEL",
        "CreatedAt": "CREATED AT",
    },
)


def _matches(net: Network, f: dict[str, builtins.list[str]], attached: set[str]) -> bool:
    if "driver" in f and net.driver not in f["driver"]:
        return False
    if "id" in f and not any(net.id.startswith(v) for v in f["id"]):
        return False
    if "name" in f and not any(v in net.name for v in f["name"]):
        return False
    if "scope" in f and "local" not in f["scope"]:
        return False
    if "label" in f and not label_matches(net.labels, f["label"]):
        return False
    builtin = net.is_pseudo or net.is_default
    if "type" in f and not any((v == "builtin") == builtin for v in f["type"]):
        return False
    if "dangling" in f:
        want = f["dangling"][-1].lower() in ("true", "1")
        dangling = not builtin and net.name not in attached
        if want != dangling:
            return False
    return True


def list_networks(
    cfg: Config, filters: Iterable[str] = (), no_trunc: bool = False
) -> builtins.list[NetworkRow]:
    f = parse_filters(filters, LIST_FILTERS)
    for v in f.get("type", []):
        if v not in ("custom", "builtin"):
            raise PynerdError(f"invalid filter: 'type'='{v}'")
    attached: set[str] = set()
    if "dangling" in f:
        for ep in Endpoints(cfg.data_root).all():
            attached.update(ep.get("Networks") or {})
    nets = sorted(NetworkStore(cfg).list(), key=lambda n: n.name)
    return [NetworkRow(n, no_trunc) for n in nets if _matches(n, f, attached)]
