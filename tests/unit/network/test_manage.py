"""network ls/inspect/rm/prune: rows, filters, the inspect shape, "in use" and ``reap``."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from pynerd.config import Config
from pynerd.errors import Conflict, InvalidArgument, NotFound, PynerdError
from pynerd.format.listing import render_listing
from pynerd.network import manage
from pynerd.network.endpoints import Endpoints
from pynerd.network.manage import NETWORK_SPEC, NetworkRow, list_networks
from pynerd.network.networks import CreateNetworkOptions, NetworkStore
from tests.unit.network.conftest import FakeHostNet


@pytest.fixture
def store(cfg: Config, host: FakeHostNet) -> NetworkStore:
    return NetworkStore(cfg)  # what manage constructs: host plumbing is the fake


def create(store: NetworkStore, name: str, **kw: Any) -> Any:
    return store.create(CreateNetworkOptions(name, **kw))


def attach(cfg: Config, cid: str, name: str, **nets: str) -> None:
    """Register an endpoint of container ``cid`` on ``nets`` (network -> address)."""
    Endpoints(cfg.data_root).update(
        cid,
        {
            "Id": cid,
            "Name": name,
            "Hostname": cid[:12],
            "HostsPath": "",
            "Networks": {
                n: {
                    "IPAddress": ip,
                    "IPPrefixLen": 24,
                    "EndpointID": "e" + cid[1:],
                    "MacAddress": "02:42:0a:04:00:02",
                }
                for n, ip in nets.items()
            },
        },
    )


def names(rows: list[NetworkRow]) -> list[str]:
    return [r.Name for r in rows]


# list


def test_list_networks_by_name_with_builtins(cfg: Config, store: NetworkStore) -> None:
    create(store, "zeta")
    create(store, "alpha", labels={"env": "prod"})
    assert names(list_networks(cfg)) == ["alpha", "bridge", "host", "none", "zeta"]


def test_network_row_fields(cfg: Config, store: NetworkStore) -> None:
    net = create(store, "front", labels={"b": "2", "a": "1"}, internal=True)
    row = NetworkRow(net)
    assert net.id[:12] == row.ID
    assert net.id == NetworkRow(net, no_trunc=True).ID
    assert (row.Name, row.Driver, row.Scope, row.IPv6, row.Internal) == (
        "front",
        "bridge",
        "local",
        "false",
        "true",
    )
    assert row.Labels == "a=1,b=2"
    assert (row.Label("a"), row.Label("zz")) == ("1", "")
    assert NetworkRow(store.get("host")).Internal == "false"
    assert set(row.to_json()) == {
        "CreatedAt",
        "Driver",
        "ID",
        "IPv6",
        "Internal",
        "Labels",
        "Name",
        "Scope",
    }


@pytest.mark.parametrize(
    ("created", "shown"),
    [
        ("2024-05-01T10:11:12.123456789Z", "2024-05-01 10:11:12.123456789 +0000 UTC"),
        # Go's time.Time String() drops trailing zeros of the fraction
        ("2024-05-01T10:11:12.120000000Z", "2024-05-01 10:11:12.12 +0000 UTC"),
        ("2024-05-01T10:11:12.000000000Z", "2024-05-01 10:11:12 +0000 UTC"),
        ("0001-01-01T00:00:00Z", "0001-01-01 00:00:00 +0000 UTC"),
    ],
)
def test_network_row_created_at_is_gos_time_string(
    store: NetworkStore, created: str, shown: str
) -> None:
    from pynerd.structs import replace

    net = replace(create(store, "front"), created=created)
    assert NetworkRow(net).CreatedAt == shown


def test_default_table(cfg: Config, store: NetworkStore) -> None:
    out = render_listing(list_networks(cfg), NETWORK_SPEC)
    lines = out.splitlines()
    assert lines[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert [ln.split()[1:] for ln in lines[1:]] == [
        ["bridge", "bridge", "local"],
        ["host", "host", "local"],
        ["none", "null", "local"],
    ]
    assert render_listing(list_networks(cfg), NETWORK_SPEC, quiet=True).splitlines() == [
        r.ID for r in list_networks(cfg)
    ]
    header = render_listing([], NETWORK_SPEC, "table {{.Internal}}\t{{.CreatedAt}}\t{{.Labels}}")
    assert header.split() == ["INTERNAL", "CREATED", "AT", "LABELS"]


def test_list_filters(cfg: Config, store: NetworkStore) -> None:
    front = create(store, "front", labels={"env": "prod", "tier": "web"})
    create(store, "back", labels={"env": "dev"})
    create(store, "lan", driver="macvlan", options={"parent": "eth0"})

    def ls(*filters: str) -> list[str]:
        return names(list_networks(cfg, filters))

    assert ls("driver=macvlan") == ["lan"]
    assert ls("driver=bridge") == ["back", "bridge", "front"]
    assert ls("driver=null", "driver=host") == ["host", "none"]  # values of one key: or
    assert ls(f"id={front.id[:6]}") == ["front"]
    assert ls("name=ac") == ["back"]  # a substring
    assert ls("label=env") == ["back", "front"]
    assert ls("label=env=prod") == ["front"]
    assert ls("label=env=prod", "label=tier=api") == []  # labels: and
    assert ls("type=builtin") == ["bridge", "host", "none"]
    assert ls("type=custom") == ["back", "front", "lan"]
    assert ls("scope=local") == ls()
    assert ls("scope=swarm") == []
    assert ls("driver=bridge", "type=custom") == ["back", "front"]  # keys: and


def test_list_dangling_filter(cfg: Config, store: NetworkStore) -> None:
    create(store, "front")
    create(store, "back")
    attach(cfg, "a" * 64, "web", front="10.4.1.2")
    assert names(list_networks(cfg, ["dangling=true"])) == ["back"]
    assert names(list_networks(cfg, ["dangling=false"])) == ["bridge", "front", "host", "none"]


def test_list_rejects_bad_filters(cfg: Config, store: NetworkStore) -> None:
    with pytest.raises(PynerdError, match="invalid filter: 'type'='other'"):
        list_networks(cfg, ["type=other"])
    with pytest.raises(InvalidArgument, match="invalid filter 'status'"):
        list_networks(cfg, ["status=up"])


# inspect


def test_inspect_with_containers_and_missing_refs(cfg: Config, store: NetworkStore) -> None:
    net = create(store, "front")
    attach(cfg, "b" * 64, "db", front="10.4.0.3")
    attach(cfg, "a" * 64, "web", front="10.4.0.2", bridge="10.4.1.2")
    found, errors = manage.inspect(cfg, ["front", "nope", "host"])
    assert [f["Name"] for f in found] == ["front", "host"]
    assert [str(e) for e in errors] == ["network nope not found"]
    assert isinstance(errors[0], NotFound)
    assert found[0]["Id"] == net.id
    assert found[0]["Containers"] == {
        "a" * 64: {
            "Name": "web",
            "EndpointID": "e" + "a" * 63,
            "MacAddress": "02:42:0a:04:00:02",
            "IPv4Address": "10.4.0.2/24",
            "IPv6Address": "",
        },
        "b" * 64: {
            "Name": "db",
            "EndpointID": "e" + "b" * 63,
            "MacAddress": "02:42:0a:04:00:02",
            "IPv4Address": "10.4.0.3/24",
            "IPv6Address": "",
        },
    }
    assert list(found[0]["Containers"]) == ["a" * 64, "b" * 64]
    assert found[1]["Containers"] == {}
    json.dumps(found)  # plain data


def test_inspect_reaps_dead_endpoints_first(cfg: Config, store: NetworkStore) -> None:
    create(store, "front")
    attach(cfg, "a" * 64, "web", front="10.4.0.2")
    attach(cfg, "b" * 64, "dead", front="10.4.0.3")
    seen: list[str] = []

    def reap(ep: dict[str, Any]) -> None:
        seen.append(ep["Name"])
        if ep["Name"] == "dead":
            Endpoints(cfg.data_root).update(ep["Id"], None)

    found, _ = manage.inspect(cfg, ["front"], reap)
    assert sorted(seen) == ["dead", "web"]
    assert [c["Name"] for c in found[0]["Containers"].values()] == ["web"]


# remove


def test_remove(cfg: Config, store: NetworkStore, host: FakeHostNet) -> None:
    create(store, "front")
    create(store, "back")
    result = manage.remove(cfg, ["front", "nope", "bridge", "host", "back"])
    assert result.removed == ["front", "back"]
    assert [str(e) for e in result.errors] == [
        "network nope not found",
        "bridge is a pre-defined network and cannot be removed",
        "host is a pre-defined network and cannot be removed",
    ]
    assert [type(e) for e in result.errors] == [NotFound, Conflict, Conflict]
    assert names(list_networks(cfg)) == ["bridge", "host", "none"]
    assert host.names().count("delete_rules") == 2


def test_remove_refuses_a_network_in_use_until_reaped(cfg: Config, store: NetworkStore) -> None:
    net = create(store, "front")
    attach(cfg, "a" * 64, "web", front="10.4.0.2")
    result = manage.remove(cfg, ["front"])
    assert result.removed == []
    assert str(result.errors[0]) == (
        f"error while removing network: network front id {net.id} has active endpoints"
    )
    assert isinstance(result.errors[0], Conflict)
    # a reaper that finds the container gone releases the endpoint: the network goes
    result = manage.remove(
        cfg, [net.id[:8]], lambda ep: Endpoints(cfg.data_root).update(ep["Id"], None)
    )
    assert result.removed == [net.id[:8]] and result.errors == []
    with pytest.raises(NotFound):
        store.get("front")


def test_remove_by_id_of_a_network_pynerd_did_not_make(cfg: Config, store: NetworkStore) -> None:
    cfg.cni_netconfpath.mkdir(parents=True, exist_ok=True)
    (cfg.cni_netconfpath / "50-x.conflist").write_text(
        json.dumps({"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": "ptp"}]})
    )
    result = manage.remove(cfg, ["x"])
    assert [str(e) for e in result.errors] == [
        "network x was not created by pynerd and cannot be removed"
    ]


# prune


def test_prune_removes_unused_user_networks_only(cfg: Config, store: NetworkStore) -> None:
    create(store, "used")
    create(store, "idle-b")
    create(store, "idle-a")
    cfg.cni_netconfpath.mkdir(parents=True, exist_ok=True)
    (cfg.cni_netconfpath / "50-x.conflist").write_text(
        json.dumps({"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": "ptp"}]})
    )
    attach(cfg, "a" * 64, "web", used="10.4.0.2", bridge="10.4.9.2")
    assert manage.prune(cfg) == ["idle-a", "idle-b"]
    assert names(list_networks(cfg)) == ["bridge", "host", "none", "used", "x"]
    assert manage.prune(cfg) == []


def test_prune_reaps_before_deciding(cfg: Config, store: NetworkStore) -> None:
    create(store, "front")
    attach(cfg, "a" * 64, "dead", front="10.4.0.2")
    assert manage.prune(cfg, reap=lambda ep: Endpoints(cfg.data_root).update(ep["Id"], None)) == [
        "front"
    ]


def test_prune_label_filters(cfg: Config, store: NetworkStore) -> None:
    create(store, "a", labels={"keep": "yes"})
    create(store, "b", labels={"keep": "no"})
    create(store, "c")
    assert manage.prune(cfg, ["label!=keep=yes"]) == ["b", "c"]
    assert manage.prune(cfg, ["label=keep"]) == ["a"]
    with pytest.raises(InvalidArgument, match="invalid filter 'driver'"):
        manage.prune(cfg, ["driver=bridge"])


def test_prune_until_filter(cfg: Config, store: NetworkStore) -> None:
    """``until`` keeps networks created at or after the bound: a Go duration before now,
    an RFC 3339 time or a Unix timestamp."""
    create(store, "new")
    now = time.time()
    day_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 86400))
    assert manage.prune(cfg, ["until=24h"]) == []
    assert manage.prune(cfg, ["until=1h30m"]) == []
    assert manage.prune(cfg, [f"until={day_ago}"]) == []
    assert manage.prune(cfg, [f"until={int(now) - 60}"]) == []
    assert manage.prune(cfg, [f"until={int(now) + 60}"]) == ["new"]
    create(store, "newer")
    assert manage.prune(cfg, ["until=2999-01-01T00:00:00+02:00"]) == ["newer"]
    with pytest.raises(InvalidArgument, match='failed to parse value as time or duration: "soon"'):
        manage.prune(cfg, ["until=soon"])
