"""NetworkStore: conflist files with pynerd's metadata, lookup, subnets and bridge names."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest

from pynerd.config import Config
from pynerd.errors import Conflict, InvalidArgument, NotFound
from pynerd.network import networks
from pynerd.network.cni.config import load_file
from pynerd.network.hostnet import BridgeSpec, HostNetError
from pynerd.network.networks import CreateNetworkOptions, NetworkStore
from tests.unit.network.conftest import FakeHostNet


@pytest.fixture
def store(cfg: Config, host: FakeHostNet) -> NetworkStore:
    return NetworkStore(cfg, hostnet=host)


def opts(name: str = "front", **kw: Any) -> CreateNetworkOptions:
    return CreateNetworkOptions(name, **kw)


def conf_of(cfg: Config, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((cfg.cni_netconfpath / f"pynerd-{name}.conflist").read_text())
    return data


# The default network


def test_ensure_default_writes_a_loadable_conflist(
    store: NetworkStore, cfg: Config, host: FakeHostNet
) -> None:
    net = store.ensure_default()
    path = cfg.cni_netconfpath / "pynerd-bridge.conflist"
    assert net.conf is not None and net.conf.path == path
    loaded = load_file(path)
    assert (loaded.name, loaded.cni_version) == ("bridge", "1.0.0")
    assert [p["type"] for p in loaded.plugins] == ["bridge", "portmap", "tuning"]
    bridge, portmap, tuning = loaded.plugins
    assert bridge == {
        "type": "bridge",
        "bridge": "pynerd0",
        "isGateway": True,
        "ipMasq": False,  # masquerading is the network's host rule, not per container
        "hairpinMode": True,
        "capabilities": {"ips": True},
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": "10.4.0.0/24", "gateway": "10.4.0.1"}]],
            "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": str(cfg.data_root / "network" / "ipam"),
        },
    }
    # capability-only plugins: skipped unless -p / --mac-address ask for them
    assert portmap == {"type": "portmap", "capabilities": {"portMappings": True}}
    assert tuning == {"type": "tuning", "capabilities": {"mac": True}}
    meta = json.loads(path.read_text())["pynerd"]
    assert meta["id"] == net.id and len(net.id) == 64
    assert (meta["driver"], meta["internal"], meta["labels"]) == ("bridge", False, {})
    assert meta["ipam"] == [{"Subnet": "10.4.0.0/24", "Gateway": "10.4.0.1"}]
    assert meta["options"] == {"com.docker.network.bridge.name": "pynerd0"}
    assert net.created.endswith("Z") and len(net.created) == len("2024-01-01T00:00:00.") + 10
    assert (net.name, net.driver, net.bridge) == ("bridge", "bridge", "pynerd0")
    assert net.is_default and net.pynerd_made and not net.resolves_names
    # the host side at once: the route claims the subnet, the device the name, host-wide
    spec = BridgeSpec("pynerd0", "10.4.0.0/24", "10.4.0.1")
    assert host.calls == [("add_bridge", spec), ("add_rules", spec)]


def test_ensure_default_is_written_once(store: NetworkStore, cfg: Config) -> None:
    first = store.ensure_default()
    assert store.ensure_default().id == first.id
    assert NetworkStore(cfg).get("bridge").id == first.id


def test_default_avoids_host_routes_and_existing_links(
    store: NetworkStore, host: FakeHostNet
) -> None:
    host.routes = [ipaddress.IPv4Network("10.4.0.0/23"), ipaddress.IPv4Network("10.4.3.0/24")]
    host.links = {"pynerd0", "pynerd1"}  # another data root's, or Docker-style leftovers
    net = store.ensure_default()
    assert net.ipam == [{"Subnet": "10.4.2.0/24", "Gateway": "10.4.2.1"}]
    assert net.bridge == "pynerd2"


def test_default_bridge_name_skips_names_of_configured_networks(
    store: NetworkStore, host: FakeHostNet
) -> None:
    store.create(opts("mine", options={"com.docker.network.bridge.name": "pynerd0"}))
    host.links.clear()  # after a reboot: only the config knows the name
    assert store.ensure_default().bridge == "pynerd1"


def test_create_rejects_a_bridge_name_another_network_uses(
    store: NetworkStore, cfg: Config
) -> None:
    default = store.ensure_default()
    with pytest.raises(Conflict) as info:
        store.create(opts("mine", options={"com.docker.network.bridge.name": "pynerd0"}))
    assert str(info.value) == (
        f"cannot create network mine (pynerd0): conflicts with network {default.id} "
        "(pynerd0): networks have same bridge name"
    )
    assert not (cfg.cni_netconfpath / "pynerd-mine.conflist").exists()
    net = store.create(opts("mine", options={"com.docker.network.bridge.name": "pynerd5"}))
    assert net.bridge == "pynerd5"


def test_a_broken_default_config_is_an_error_not_overwritten(
    store: NetworkStore, cfg: Config
) -> None:
    cfg.cni_netconfpath.mkdir(parents=True)
    (cfg.cni_netconfpath / "pynerd-bridge.conflist").write_text("{not json")
    with pytest.raises(Exception, match="invalid CNI network configuration"):
        store.ensure_default()
    assert (cfg.cni_netconfpath / "pynerd-bridge.conflist").read_text() == "{not json"


# create


def test_create_a_bridge_network_sets_up_the_host(store: NetworkStore, host: FakeHostNet) -> None:
    store.ensure_default()
    host.calls.clear()
    net = store.create(opts(labels={"a": "b"}))
    assert net.bridge == f"br-{net.id[:12]}"  # Docker's naming
    assert net.ipam == [{"Subnet": "10.4.1.0/24", "Gateway": "10.4.1.1"}]  # after the default's
    assert net.labels == {"a": "b"} and net.resolves_names and not net.is_default
    spec = BridgeSpec(f"br-{net.id[:12]}", "10.4.1.0/24", "10.4.1.1", internal=False, mtu=0)
    assert host.calls == [("add_bridge", spec), ("add_rules", spec)]
    loaded = load_file(net.conf.path)  # type: ignore[union-attr]
    assert loaded.name == "front"


def test_create_with_subnet_gateway_and_ip_range(store: NetworkStore, cfg: Config) -> None:
    net = store.create(
        opts(subnets=("172.28.0.0/16",), gateways=("172.28.5.254",), ip_ranges=("172.28.5.0/24",))
    )
    assert net.ipam == [
        {"Subnet": "172.28.0.0/16", "Gateway": "172.28.5.254", "IPRange": "172.28.5.0/24"}
    ]
    r = conf_of(cfg, "front")["plugins"][0]["ipam"]["ranges"]
    assert r == [
        [
            {
                "subnet": "172.28.0.0/16",
                "gateway": "172.28.5.254",
                "rangeStart": "172.28.5.1",
                "rangeEnd": "172.28.5.254",
            }
        ]
    ]
    assert net.inspect()["IPAM"]["Config"] == net.ipam


def test_create_with_a_subnet_given_with_host_bits(store: NetworkStore) -> None:
    net = store.create(opts(subnets=("192.168.7.9/24",)))
    assert net.ipam == [{"Subnet": "192.168.7.0/24", "Gateway": "192.168.7.1"}]


def test_create_with_a_tiny_ip_range(store: NetworkStore, cfg: Config) -> None:
    store.create(opts(subnets=("10.9.0.0/24",), ip_ranges=("10.9.0.8/30",)))
    r = conf_of(cfg, "front")["plugins"][0]["ipam"]["ranges"][0][0]
    assert (r["rangeStart"], r["rangeEnd"]) == ("10.9.0.9", "10.9.0.10")


def test_create_internal_network(store: NetworkStore, host: FakeHostNet, cfg: Config) -> None:
    net = store.create(opts(internal=True))
    assert net.internal
    assert conf_of(cfg, "front")["plugins"][0]["ipam"]["routes"] == []  # no default route
    assert host.calls[0][1].internal is True


def test_create_with_mtu(store: NetworkStore, host: FakeHostNet, cfg: Config) -> None:
    store.create(opts(options={"com.docker.network.driver.mtu": "1400"}))
    assert conf_of(cfg, "front")["plugins"][0]["mtu"] == 1400
    assert host.calls[0][1].mtu == 1400
    store.create(opts("other", options={"mtu": "9000"}))
    assert conf_of(cfg, "other")["plugins"][0]["mtu"] == 9000


def test_create_picks_subnets_that_do_not_overlap(store: NetworkStore, host: FakeHostNet) -> None:
    host.routes = [ipaddress.IPv4Network("10.4.1.0/24")]
    a = store.create(opts("a"))
    b = store.create(opts("b"))
    c = store.create(opts("c", subnets=("10.4.4.0/24",)))
    d = store.create(opts("d"))
    assert [n.ipam[0]["Subnet"] for n in (a, b, c, d)] == [
        "10.4.0.0/24",
        "10.4.2.0/24",
        "10.4.4.0/24",
        "10.4.3.0/24",
    ]


def test_create_rejects_an_overlapping_subnet(store: NetworkStore, cfg: Config) -> None:
    store.create(opts("a", subnets=("10.20.0.0/16",)))
    with pytest.raises(Conflict) as info:
        store.create(opts("b", subnets=("10.20.5.0/24",)))
    assert str(info.value) == (
        "invalid pool request: Pool overlaps with other one on this address space "
        "(network a, 10.20.0.0/16)"
    )
    assert not (cfg.cni_netconfpath / "pynerd-b.conflist").exists()


@pytest.mark.parametrize("name", ["front", "bridge", "host", "none"])
def test_create_rejects_an_existing_name(store: NetworkStore, name: str) -> None:
    store.create(opts("front"))
    with pytest.raises(Conflict, match=f"^network with name {name} already exists$"):
        store.create(opts(name))


def test_create_rejects_the_name_of_a_foreign_network(store: NetworkStore, cfg: Config) -> None:
    cfg.cni_netconfpath.mkdir(parents=True)
    (cfg.cni_netconfpath / "10-k8s.conflist").write_text(
        json.dumps({"cniVersion": "1.0.0", "name": "k8s", "plugins": [{"type": "ptp"}]})
    )
    with pytest.raises(Conflict, match="network with name k8s already exists"):
        store.create(opts("k8s"))


def test_a_failed_host_setup_leaves_no_network(
    store: NetworkStore, host: FakeHostNet, cfg: Config
) -> None:
    host.fail_rules = True
    with pytest.raises(HostNetError):
        store.create(opts())
    assert not (cfg.cni_netconfpath / "pynerd-front.conflist").exists()
    assert host.names() == ["add_bridge", "add_rules", "delete_bridge"]  # device undone
    assert host.links == set()


@pytest.mark.parametrize(
    ("o", "error", "message"),
    [
        (opts("-bad"), InvalidArgument, 'invalid network name "-bad"'),
        (opts("a/b"), InvalidArgument, 'invalid network name "a/b"'),
        (opts(driver="overlay"), NotFound, "plugin 'overlay' not found"),
        (opts(ipv6=True), InvalidArgument, "IPv6 networks are not supported yet"),
        (opts(options={"foo": "1"}), InvalidArgument, "unsupported option 'foo' for driver bridge"),
        (opts(options={"parent": "eth0"}), InvalidArgument, "unsupported option 'parent'"),
        (opts(options={"mtu": "big"}), InvalidArgument, "invalid MTU 'big'"),
        (opts(gateways=("10.1.0.1",)), InvalidArgument, "cannot specify a gateway or ip-range"),
        (opts(ip_ranges=("10.1.0.0/25",)), InvalidArgument, "cannot specify a gateway or"),
        (opts(subnets=("10.1.0.0/33",)), InvalidArgument, "invalid CIDR address: 10.1.0.0/33"),
        (opts(subnets=("fd00::/64",)), InvalidArgument, "IPv6 subnets are not supported"),
        (
            opts(subnets=("10.1.0.0/24",), gateways=("10.2.0.1",)),
            InvalidArgument,
            "no matching subnet for gateway 10.2.0.1",
        ),
        (
            opts(subnets=("10.1.0.0/24",), gateways=("bogus",)),
            InvalidArgument,
            "invalid gateway: bogus",
        ),
        (
            opts(subnets=("10.1.0.0/24",), ip_ranges=("10.1.0.0/23",)),
            InvalidArgument,
            "no matching subnet for range 10.1.0.0/23",
        ),
    ],
)
def test_create_validates(
    store: NetworkStore, cfg: Config, host: FakeHostNet, o: Any, error: type, message: str
) -> None:
    with pytest.raises(error) as info:
        store.create(o)
    assert str(info.value).startswith(message)
    assert not list(cfg.cni_netconfpath.glob("*.conflist"))
    assert host.calls == []


def test_docker_options_of_other_kinds_are_accepted(store: NetworkStore) -> None:
    net = store.create(opts(options={"com.docker.network.bridge.enable_icc": "true"}))
    assert net.options == {"com.docker.network.bridge.enable_icc": "true"}


@pytest.mark.parametrize(("driver", "mode"), [("macvlan", "bridge"), ("ipvlan", "l2")])
def test_macvlan_and_ipvlan_plugin_lists(
    store: NetworkStore, host: FakeHostNet, cfg: Config, driver: str, mode: str
) -> None:
    net = store.create(opts("lan", driver=driver, options={"parent": "eth9"}))
    plugins = conf_of(cfg, "lan")["plugins"]
    assert [p["type"] for p in plugins] == [driver, "tuning"]  # no portmap: no host ports
    main = plugins[0]
    assert (main["master"], main["mode"], main["capabilities"]) == ("eth9", mode, {"ips": True})
    assert main["ipam"]["type"] == "host-local"
    assert (net.driver, net.bridge) == (driver, None)
    assert host.calls == []  # nothing on the host for these drivers
    load_file(net.conf.path)  # type: ignore[union-attr]


def test_macvlan_mode_and_default_parent(
    store: NetworkStore, cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(networks, "default_parent", lambda: "enp1s0")
    store.create(opts("lan", driver="macvlan", options={"macvlan_mode": "private"}))
    main = conf_of(cfg, "lan")["plugins"][0]
    assert (main["master"], main["mode"]) == ("enp1s0", "private")
    store.create(opts("l3", driver="ipvlan", options={"ipvlan_mode": "l3", "parent": "eth1"}))
    assert conf_of(cfg, "l3")["plugins"][0]["mode"] == "l3"


def test_macvlan_without_any_parent(store: NetworkStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(networks, "default_parent", lambda: None)
    with pytest.raises(InvalidArgument, match="macvlan needs a parent interface"):
        store.create(opts("lan", driver="macvlan"))


def test_default_parent_is_the_default_routes_interface() -> None:
    routes = Path("/proc/net/route").read_text().splitlines()[1:]
    default = [f.split()[0] for f in routes if f.split()[1] == "00000000"]
    assert networks.default_parent() == (default[0] if default else None)


# get / list


def test_get_by_name_id_and_unique_prefix(store: NetworkStore) -> None:
    net = store.create(opts())
    assert store.get("front").id == net.id
    assert store.get(net.id).name == "front"
    assert store.get(net.id[:5]).name == "front"


def set_id(cfg: Config, name: str, nid: str) -> None:
    path = cfg.cni_netconfpath / f"pynerd-{name}.conflist"
    doc = json.loads(path.read_text())
    doc["pynerd"]["id"] = nid
    path.write_text(json.dumps(doc))


def test_get_reports_ambiguous_and_missing(store: NetworkStore, cfg: Config) -> None:
    store.create(opts("one"))
    store.create(opts("two"))
    store.ensure_default()
    set_id(cfg, "one", "abc1" + "0" * 60)
    set_id(cfg, "two", "abc2" + "0" * 60)
    set_id(cfg, "bridge", "f" * 64)
    with pytest.raises(NotFound, match=r"^network abc is ambiguous \(2 matches found on ID\)$"):
        store.get("abc")
    assert store.get("abc2").name == "two"
    assert store.get("abc1" + "0" * 60).name == "one"
    with pytest.raises(NotFound, match=r"^network nope not found$"):
        store.get("nope")
    with pytest.raises(NotFound, match=r"^network  not found$"):
        store.get("")


def test_get_pseudo_networks(store: NetworkStore) -> None:
    host_net, none = store.get("host"), store.get("none")
    assert (host_net.driver, none.driver) == ("host", "null")
    assert host_net.is_pseudo and not host_net.resolves_names and host_net.bridge is None
    assert host_net.id == hashlib.sha256(b"pynerd-host").hexdigest()  # stable
    assert store.get(host_net.id[:10]).name == "host"


def test_foreign_networks_are_found_and_listed(store: NetworkStore, cfg: Config) -> None:
    cfg.cni_netconfpath.mkdir(parents=True)
    (cfg.cni_netconfpath / "87-podman.conflist").write_text(
        json.dumps(
            {
                "cniVersion": "0.4.0",
                "name": "podman",
                "plugins": [
                    {
                        "type": "bridge",
                        "bridge": "cni-podman0",
                        "ipam": {
                            "type": "host-local",
                            "ranges": [[{"subnet": "10.88.0.0/16", "gateway": "10.88.0.1"}]],
                        },
                    }
                ],
            }
        )
    )
    (cfg.cni_netconfpath / "99-loop.conf").write_text(
        json.dumps({"cniVersion": "0.3.1", "name": "lo", "type": "loopback"})
    )
    pod = store.get("podman")
    assert not pod.pynerd_made and pod.driver == "bridge" and pod.bridge == "cni-podman0"
    assert pod.id == hashlib.sha256(b"podman").hexdigest()
    assert pod.ipam == [{"Subnet": "10.88.0.0/16", "Gateway": "10.88.0.1"}]
    assert store.get("lo").driver == "loopback"
    # its subnet is taken for new networks too
    with pytest.raises(Conflict, match=r"network podman, 10\.88\.0\.0/16"):
        store.create(opts(subnets=("10.88.128.0/24",)))


def test_list_has_the_default_first_and_the_pseudo_networks_last(store: NetworkStore) -> None:
    store.create(opts("zeta"))
    names = [n.name for n in store.list()]
    assert names == ["bridge", "zeta", "host", "none"]
    assert [n.name for n in store.list()] == ["bridge", "zeta", "host", "none"]  # written once


# remove


def test_remove_deletes_config_host_side_and_leases(
    store: NetworkStore, host: FakeHostNet, cfg: Config
) -> None:
    net = store.create(opts())
    leases = cfg.data_root / "network" / "ipam" / "front"
    leases.mkdir(parents=True)
    (leases / "10.4.0.2").write_text("cid")
    host.calls.clear()
    store.remove(net)
    spec = store.bridge_spec(net)
    assert host.calls == [("delete_rules", spec), ("delete_bridge", spec.bridge)]
    assert not net.conf.path.exists()  # type: ignore[union-attr]
    assert not leases.exists()
    with pytest.raises(NotFound):
        store.get("front")


def test_remove_refuses_predefined_and_foreign_networks(store: NetworkStore, cfg: Config) -> None:
    for name in ("bridge", "host", "none"):
        with pytest.raises(Conflict, match=f"^{name} is a pre-defined network and cannot be"):
            store.remove(store.get(name))
    (cfg.cni_netconfpath / "50-x.conflist").write_text(
        json.dumps({"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": "ptp"}]})
    )
    with pytest.raises(Conflict, match=r"^network x was not created by pynerd and cannot be"):
        store.remove(store.get("x"))
    assert (cfg.cni_netconfpath / "50-x.conflist").exists()


def test_remove_all_removes_what_pynerd_made_default_included(
    store: NetworkStore, host: FakeHostNet, cfg: Config
) -> None:
    store.ensure_default()
    a = store.create(opts("a"))
    store.create(opts("m", driver="macvlan", options={"parent": "eth0"}))
    (cfg.cni_netconfpath / "50-x.conflist").write_text(
        json.dumps({"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": "ptp"}]})
    )
    host.calls.clear()
    store.remove_all()
    assert sorted(p.name for p in cfg.cni_netconfpath.iterdir()) == ["50-x.conflist"]
    # the host side of the bridge networks only
    assert sorted(c[1].bridge for c in host.calls if c[0] == "delete_rules") == sorted(
        ["pynerd0", str(a.bridge)]
    )


# host side


def test_setup_host_is_made_once_and_again_after_a_reboot(
    store: NetworkStore, host: FakeHostNet
) -> None:
    net = store.ensure_default()
    host.links.clear()  # written without its device, e.g. by an older pynerd
    host.calls.clear()
    store.setup_host(net)
    store.setup_host(net)
    spec = BridgeSpec("pynerd0", "10.4.0.0/24", "10.4.0.1")
    assert host.calls == [("add_bridge", spec), ("add_rules", spec)]
    host.links.clear()  # the device vanished (reboot)
    store.setup_host(net)
    assert host.names() == ["add_bridge", "add_rules"] * 2


def test_setup_host_does_nothing_for_other_networks(store: NetworkStore, cfg: Config) -> None:
    mac = store.create(opts("m", driver="macvlan", options={"parent": "eth0"}))
    for net in (store.get("host"), mac):
        store.setup_host(net)
        store.teardown_host(net)
    assert store.hostnet.calls == []


def test_network_inspect_shape(store: NetworkStore) -> None:
    net = store.create(opts(labels={"k": "v"}, internal=True, options={"mtu": "1500"}))
    got = net.inspect({"c": {"Name": "x"}})
    assert got == {
        "Name": "front",
        "Id": net.id,
        "Created": net.created,
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": False,
        "IPAM": {
            "Driver": "default",
            "Options": {},
            "Config": [{"Subnet": "10.4.0.0/24", "Gateway": "10.4.0.1"}],
        },
        "Internal": True,
        "Attachable": False,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": {"c": {"Name": "x"}},
        "Options": {"mtu": "1500"},
        "Labels": {"k": "v"},
    }


def test_an_existing_bridge_is_used_and_never_deleted(
    store: NetworkStore, host: FakeHostNet
) -> None:
    """Docker leaves bridges it did not create alone: a bridge made by hand (or another
    tool) named with ``-o com.docker.network.bridge.name`` gets rules, keeps its device."""
    host.links.add("handmade0")
    net = store.create(
        CreateNetworkOptions("byhand", options={"com.docker.network.bridge.name": "handmade0"})
    )
    assert net.meta["external_bridge"] is True
    assert host.names() == ["add_rules"]
    store.remove(net)
    assert host.names() == ["add_rules", "delete_rules"]
    assert "handmade0" in host.links
