"""Sandbox orchestration without root: fake namespaces, a FakeExecutor for the plugins.

``netns.create/remove/is_netns`` are replaced by plain files, ``sandbox.cni_for`` returns a
real :class:`CNI` runtime whose executor is a :class:`FakeExecutor` answering like the
bridge/macvlan plugins with host-local (addresses handed out in order), and the host side
of bridge networks is the conftest's FakeHostNet.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from pynerd.config import Config
from pynerd.errors import Conflict, InvalidArgument
from pynerd.network import netns, sandbox
from pynerd.network.cni.errors import CNIError
from pynerd.network.cni.exec import FakeCall, FakeExecutor
from pynerd.network.cni.runtime import CNI
from pynerd.network.endpoints import DEFAULT_HOSTS, Endpoints
from pynerd.network.networks import CreateNetworkOptions, NetworkStore
from pynerd.network.ports import PortMapping
from pynerd.network.sandbox import NetworkRequest, SandboxRequest
from tests.unit.network.conftest import FakeHostNet

A = "a" * 64
B = "b" * 64


class Plugins:
    """ADD answers of a main plugin with host-local IPAM: the next free address."""

    def __init__(self) -> None:
        self.leases: dict[str, dict[str, str]] = {}  # network -> address -> container

    def __call__(self, call: FakeCall) -> dict[str, Any]:
        conf = call.config
        r = conf["ipam"]["ranges"][0][0]
        subnet = ipaddress.ip_network(r["subnet"])
        leases = self.leases.setdefault(conf["name"], {})
        wanted = (conf.get("runtimeConfig") or {}).get("ips")
        if wanted:
            ip = wanted[0].split("/")[0]
        else:
            ip = next(
                str(a) for a in subnet.hosts() if str(a) not in leases and str(a) != r["gateway"]
            )
        leases[ip] = call.env["CNI_CONTAINERID"]
        ifname = call.env["CNI_IFNAME"]
        return {
            "cniVersion": "1.0.0",
            "interfaces": [
                {"name": conf.get("bridge") or conf.get("master", ""), "mac": "aa:aa:aa:aa:aa:aa"},
                {"name": "veth" + ip.replace(".", ""), "mac": "bb:bb:bb:bb:bb:bb"},
                {"name": ifname, "mac": f"02:42:{ip_hex(ip)}", "sandbox": call.env["CNI_NETNS"]},
            ],
            "ips": [
                {"interface": 2, "address": f"{ip}/{subnet.prefixlen}", "gateway": r["gateway"]}
            ],
        }


def ip_hex(ip: str) -> str:
    return ":".join(f"{int(b):02x}" for b in ip.split("."))


@pytest.fixture
def fake(
    cfg: Config, host: FakeHostNet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> FakeExecutor:
    plugins = Plugins()
    executor = FakeExecutor(results={"bridge": plugins, "macvlan": plugins})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("bridge", "portmap", "tuning", "macvlan"):
        (bin_dir / name).write_text("#!/bin/sh\nexit 99\n")
        (bin_dir / name).chmod(0o755)

    def cni_for(c: Config) -> CNI:
        return CNI([str(bin_dir)], Path(c.data_root) / "network" / "cni", executor)

    def create(directory: Path, name: str) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / name
        path.touch(exist_ok=False)
        return path

    monkeypatch.setattr(sandbox, "cni_for", cni_for)
    monkeypatch.setattr(netns, "create", create)
    monkeypatch.setattr(netns, "remove", lambda path: Path(path).unlink(missing_ok=True))
    monkeypatch.setattr(netns, "is_netns", lambda path: Path(path).is_file())
    return executor


@pytest.fixture
def store(cfg: Config, host: FakeHostNet) -> NetworkStore:
    s = NetworkStore(cfg)
    s.create(CreateNetworkOptions("front", subnets=("10.5.0.0/24",)))
    s.create(CreateNetworkOptions("back", subnets=("10.6.0.0/24",)))
    s.create(
        CreateNetworkOptions(
            "lan", driver="macvlan", subnets=("10.7.0.0/24",), options={"parent": "eth0"}
        )
    )
    return s


def request(
    tmp_path: Path, cid: str, name: str, *nets: str | NetworkRequest, **kw: Any
) -> SandboxRequest:
    hosts = tmp_path / f"hosts-{name}"
    hosts.write_text("")
    reqs = tuple(n if isinstance(n, NetworkRequest) else NetworkRequest(n) for n in nets)
    return SandboxRequest(cid, name, cid[:12], hosts, reqs, **kw)


def attached(cfg: Config, cid: str) -> dict[str, Any]:
    ep = Endpoints(cfg.data_root).get(cid)
    assert ep is not None
    return ep


# attach


def test_attach_one_user_network(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    req = request(tmp_path, A, "web", "front")
    sb = sandbox.attach(cfg, req)
    ns = cfg.run_root / "netns" / A
    assert sb.netns == str(ns) and ns.is_file()
    assert fake.commands() == [("bridge", "ADD")]  # no -p, no --mac-address: just the bridge
    assert fake.calls[0].env["CNI_NETNS"] == str(ns)
    assert fake.calls[0].env["CNI_ARGS"] == "IgnoreUnknown=1"
    front = store.get("front")
    settings = sb.endpoint["Networks"]["front"]
    assert {k: v for k, v in settings.items() if k != "EndpointID"} == {
        "NetworkID": front.id,
        "IfName": "eth0",
        "IPAddress": "10.5.0.2",
        "IPPrefixLen": 24,
        "Gateway": "10.5.0.1",
        "MacAddress": "02:42:0a:05:00:02",
        "Aliases": [A[:12]],  # a user network: the short ID resolves too
        "IPAMConfig": None,
    }
    assert len(settings["EndpointID"]) == 64
    assert attached(cfg, A) == sb.endpoint
    assert sb.endpoint["Name"] == "web" and sb.endpoint["Netns"] == str(ns)
    assert req.hosts_path.read_text() == DEFAULT_HOSTS + f"10.5.0.2\t{A[:12]}\n"


def test_attach_two_networks_names_interfaces_in_order(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    sb = sandbox.attach(cfg, request(tmp_path, A, "web", "back", "front"))
    assert [(c.plugin, c.env["CNI_IFNAME"], c.config["name"]) for c in fake.calls] == [
        ("bridge", "eth0", "back"),
        ("bridge", "eth1", "front"),
    ]
    nets = sb.endpoint["Networks"]
    assert (nets["back"]["IfName"], nets["front"]["IfName"]) == ("eth0", "eth1")
    assert (nets["back"]["IPAddress"], nets["front"]["IPAddress"]) == ("10.6.0.2", "10.5.0.2")
    cache = cfg.data_root / "network" / "cni" / "results"
    assert sorted(p.name for p in cache.iterdir()) == [f"back-{A}-eth0", f"front-{A}-eth1"]


def test_attach_sets_up_the_host_side_of_each_network(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, host: FakeHostNet, tmp_path: Path
) -> None:
    host.links.clear()  # after a reboot
    host.calls.clear()
    sandbox.attach(cfg, request(tmp_path, A, "web", "front", "lan"))
    assert [(c[0], c[1].bridge) for c in host.calls] == [
        ("add_bridge", store.get("front").bridge),
        ("add_rules", store.get("front").bridge),
    ]  # macvlan: nothing on the host


def test_attach_default_bridge_has_no_name_aliases(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    sb = sandbox.attach(cfg, request(tmp_path, A, "web", "bridge"))
    assert sb.endpoint["Networks"]["bridge"]["Aliases"] is None


def test_attach_with_ip_mac_and_aliases(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    req = NetworkRequest("front", aliases=("www",), ip="10.5.0.77", mac="02:00:00:00:00:99")
    sb = sandbox.attach(cfg, request(tmp_path, A, "web", req))
    assert fake.commands() == [("bridge", "ADD"), ("tuning", "ADD")]  # --mac-address: tuning
    bridge, tuning = fake.calls
    assert bridge.config["runtimeConfig"] == {"ips": ["10.5.0.77/24"]}
    assert tuning.config["runtimeConfig"] == {"mac": "02:00:00:00:00:99"}
    settings = sb.endpoint["Networks"]["front"]
    assert settings["IPAddress"] == "10.5.0.77"
    assert settings["IPAMConfig"] == {"IPv4Address": "10.5.0.77"}
    assert settings["Aliases"] == ["www", A[:12]]


@pytest.mark.parametrize(
    ("req", "message"),
    [
        (
            NetworkRequest("host"),
            "container cannot be connected to network host together with others",
        ),
        (
            NetworkRequest("none"),
            "container cannot be connected to network none together with others",
        ),
        (
            NetworkRequest("bridge", ip="10.4.0.9"),
            "user specified IP address is supported on user defined networks only",
        ),
        (
            NetworkRequest("bridge", aliases=("x",)),
            "user specified network-scoped alias is supported on user defined networks only",
        ),
        (
            NetworkRequest("front", ip="10.6.0.9"),
            "Invalid address 10.6.0.9: It does not belong to any of this network's subnets",
        ),
    ],
)
def test_attach_rejects_bad_requests_before_anything_is_made(
    cfg: Config,
    store: NetworkStore,
    fake: FakeExecutor,
    tmp_path: Path,
    req: NetworkRequest,
    message: str,
) -> None:
    with pytest.raises(InvalidArgument) as info:
        sandbox.attach(cfg, request(tmp_path, A, "web", req))
    assert str(info.value) == message
    assert fake.calls == [] and Endpoints(cfg.data_root).get(A) is None
    assert not (cfg.run_root / "netns" / A).exists()


# published ports


def test_ports_go_to_the_first_network_with_portmap(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    ports = (PortMapping(80, host_port=18080), PortMapping(53, "udp", "127.0.0.1"))
    sb = sandbox.attach(cfg, request(tmp_path, A, "web", "lan", "front", "back", ports=ports))
    assert fake.commands() == [
        ("macvlan", "ADD"),
        ("bridge", "ADD"),
        ("portmap", "ADD"),
        ("bridge", "ADD"),
    ]
    portmap = fake.calls[2]
    assert (portmap.config["name"], portmap.env["CNI_IFNAME"]) == ("front", "eth1")
    mappings = portmap.config["runtimeConfig"]["portMappings"]
    assert mappings[0] == {"hostPort": 18080, "containerPort": 80, "protocol": "tcp"}
    random = sb.ports[1]
    assert random.host_port > 0  # chosen at attach
    assert mappings[1] == {
        "hostPort": random.host_port,
        "containerPort": 53,
        "protocol": "udp",
        "hostIP": "127.0.0.1",
    }
    assert attached(cfg, A)["Ports"] == [m.to_dict() for m in sb.ports]


def test_a_port_another_container_holds_is_refused_before_any_plugin_runs(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    ports = (PortMapping(80, host_port=18080),)
    sandbox.attach(cfg, request(tmp_path, A, "web", "front", ports=ports))
    fake.calls.clear()
    with pytest.raises(Conflict) as info:
        sandbox.attach(cfg, request(tmp_path, B, "web2", "back", ports=ports))
    assert str(info.value) == (
        "driver failed programming external connectivity on endpoint web2: "
        "Bind for 0.0.0.0:18080 failed: port is already allocated"
    )
    assert fake.calls == []
    assert Endpoints(cfg.data_root).get(B) is None
    assert not (cfg.run_root / "netns" / B).exists()
    # once the first container is released, the port is free
    sandbox.release(cfg, A)
    sandbox.attach(cfg, request(tmp_path, B, "web2", "back", ports=ports))
    assert attached(cfg, B)["Ports"][0]["HostPort"] == 18080


def test_a_container_may_take_its_own_ports_again(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    ports = (PortMapping(80, host_port=18080),)
    sandbox.attach(cfg, request(tmp_path, A, "web", "front", ports=ports))
    sb = sandbox.attach(cfg, request(tmp_path, A, "web", "front", ports=ports))  # a restart
    assert sb.ports == [PortMapping(80, host_port=18080)]


def test_ports_need_a_bridge_network(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    with pytest.raises(InvalidArgument, match="publishing ports needs a bridge network"):
        sandbox.attach(cfg, request(tmp_path, A, "web", "lan", ports=(PortMapping(80),)))
    assert fake.calls == []


# failures roll back


def test_a_failing_add_rolls_everything_back(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    fake.results["macvlan"] = lambda call: (_ for _ in ()).throw(
        CNIError("failed to create macvlan: device or resource busy")
    )
    ports = (PortMapping(80, host_port=18080),)
    with pytest.raises(CNIError, match="device or resource busy"):
        sandbox.attach(cfg, request(tmp_path, A, "web", "front", "lan", ports=ports))
    assert fake.commands() == [
        ("bridge", "ADD"),
        ("portmap", "ADD"),  # front
        ("macvlan", "ADD"),
        ("macvlan", "DEL"),  # lan, rolled back by CNI (tuning: idle)
        ("portmap", "DEL"),
        ("bridge", "DEL"),  # front, released by the sandbox
    ]
    assert fake.calls[-1].config["prevResult"]["ips"][0]["address"] == "10.5.0.2/24"
    assert Endpoints(cfg.data_root).get(A) is None  # the port is free again
    assert not (cfg.run_root / "netns" / A).exists()
    assert not list((cfg.data_root / "network" / "cni" / "results").iterdir())
    # and the next attempt starts clean
    del fake.results["macvlan"]
    sandbox.attach(cfg, request(tmp_path, B, "web2", "front", ports=ports))


# release


def test_release_undoes_attach_and_is_idempotent(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    ports = (PortMapping(80, host_port=18080),)
    sandbox.attach(cfg, request(tmp_path, A, "web", "front", "back", ports=ports))
    fake.calls.clear()
    assert sandbox.release(cfg, A) is True
    # every cached attachment, by cache file name order, each with the args of its ADD
    assert fake.commands() == [("bridge", "DEL"), ("portmap", "DEL"), ("bridge", "DEL")]
    assert [c.config["name"] for c in fake.calls] == ["back", "front", "front"]
    assert fake.calls[1].config["runtimeConfig"]["portMappings"][0]["hostPort"] == 18080
    assert all(c.env["CNI_NETNS"] == str(cfg.run_root / "netns" / A) for c in fake.calls)
    assert Endpoints(cfg.data_root).get(A) is None
    assert not (cfg.run_root / "netns" / A).exists()
    fake.calls.clear()
    assert sandbox.release(cfg, A) is False
    assert fake.calls == []


def test_release_honours_the_generation(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    old = sandbox.attach(cfg, request(tmp_path, A, "web", "front")).endpoint["Generation"]
    new = sandbox.attach(cfg, request(tmp_path, A, "web", "front")).endpoint["Generation"]
    assert old != new
    fake.calls.clear()
    # the monitor of the first start releases late: the second start's attachment stays
    assert sandbox.release(cfg, A, old) is False
    assert fake.calls == [] and attached(cfg, A)["Generation"] == new
    assert (cfg.run_root / "netns" / A).exists()
    assert sandbox.release(cfg, A, new) is True
    assert Endpoints(cfg.data_root).get(A) is None


def test_attach_cleans_up_what_a_crashed_run_left(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    sandbox.attach(cfg, request(tmp_path, A, "web", "front"))
    fake.calls.clear()
    sb = sandbox.attach(cfg, request(tmp_path, A, "web", "back"))  # never released
    assert fake.commands() == [("bridge", "DEL"), ("bridge", "ADD")]
    assert [c.config["name"] for c in fake.calls] == ["front", "back"]
    assert list(sb.endpoint["Networks"]) == ["back"]


def test_release_with_a_vanished_netns(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    sandbox.attach(cfg, request(tmp_path, A, "web", "front"))
    (cfg.run_root / "netns" / A).unlink()  # e.g. /run was a tmpfs and the host rebooted
    fake.calls.clear()
    assert sandbox.release(cfg, A) is True
    assert fake.commands() == [("bridge", "DEL")]
    assert fake.calls[0].env["CNI_NETNS"] == ""  # plugins release host-side state only
    assert Endpoints(cfg.data_root).get(A) is None


def test_release_after_the_network_was_removed_uses_the_cached_config(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    sandbox.attach(cfg, request(tmp_path, A, "web", "front"))
    (cfg.cni_netconfpath / "pynerd-front.conflist").unlink()
    fake.calls.clear()
    assert sandbox.release(cfg, A) is True
    assert fake.commands() == [("bridge", "DEL")]
    assert fake.calls[0].config["ipam"]["ranges"][0][0]["subnet"] == "10.5.0.0/24"


def test_a_corrupt_cache_entry_does_not_wedge_the_container(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    """A cache file cut short (a crash: the cache is not fsynced) is released with the
    network's current config, so the container can still be released and started."""
    sandbox.attach(cfg, request(tmp_path, A, "web", "front"))
    cache = cfg.data_root / "network" / "cni" / "results" / f"front-{A}-eth0"
    cache.write_text("")
    fake.calls.clear()
    assert sandbox.release(cfg, A) is True
    assert fake.commands() == [("bridge", "DEL")]
    assert fake.calls[0].env["CNI_IFNAME"] == "eth0" and fake.calls[0].config["name"] == "front"
    assert not cache.exists()
    assert Endpoints(cfg.data_root).get(A) is None
    sandbox.attach(cfg, request(tmp_path, A, "web", "front"))


def test_a_failing_del_keeps_the_endpoint_for_a_retry(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    sandbox.attach(cfg, request(tmp_path, A, "web", "front"))
    fake.errors[("bridge", "DEL")] = {"code": 11, "msg": "busy"}
    with pytest.raises(CNIError, match="busy"):
        sandbox.release(cfg, A)
    assert Endpoints(cfg.data_root).get(A) is not None
    assert (cfg.run_root / "netns" / A).exists()
    del fake.errors[("bridge", "DEL")]
    assert sandbox.release(cfg, A) is True


# peers' hosts files


def test_peers_learn_and_forget_each_other(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    ra = request(tmp_path, A, "web", "front")
    rb = request(tmp_path, B, "db", NetworkRequest("front", aliases=("database",)))
    sandbox.attach(cfg, ra)
    sandbox.attach(cfg, rb)
    assert ra.hosts_path.read_text().endswith(f"10.5.0.3\tdb {B[:12]} database\n")
    assert rb.hosts_path.read_text().endswith(f"10.5.0.3\t{B[:12]}\n10.5.0.2\tweb {A[:12]}\n")
    sandbox.rename(cfg, B, "store")
    assert ra.hosts_path.read_text().endswith(f"10.5.0.3\tstore {B[:12]} database\n")
    sandbox.release(cfg, B)
    assert ra.hosts_path.read_text() == DEFAULT_HOSTS + f"10.5.0.2\t{A[:12]}\n"


def test_the_default_bridge_resolves_no_peers(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    ra = request(tmp_path, A, "web", "bridge")
    rb = request(tmp_path, B, "db", "bridge")
    sandbox.attach(cfg, ra)
    sandbox.attach(cfg, rb)
    assert "db" not in ra.hosts_path.read_text()
    assert "web" not in rb.hosts_path.read_text()


# connect / disconnect


def test_connect_and_disconnect(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    ra = request(tmp_path, A, "web", "front")
    rb = request(tmp_path, B, "db", "back")
    sandbox.attach(cfg, ra)
    sandbox.attach(cfg, rb)
    fake.calls.clear()
    ep = sandbox.connect(cfg, A, NetworkRequest("back", aliases=("api",)))
    assert [(c.plugin, c.command, c.env["CNI_IFNAME"]) for c in fake.calls] == [
        ("bridge", "ADD", "eth1")
    ]
    assert ep["Networks"]["back"]["IfName"] == "eth1"
    assert ep["Networks"]["back"]["Aliases"] == ["api", A[:12]]
    assert attached(cfg, A) == ep
    assert f"\tweb {A[:12]} api\n" in rb.hosts_path.read_text()  # the new peer resolves
    with pytest.raises(Conflict, match="endpoint with name web already exists in network back"):
        sandbox.connect(cfg, A, NetworkRequest("back"))
    fake.calls.clear()
    ep2 = sandbox.disconnect(cfg, A, "front")
    assert ep2 is not None and list(ep2["Networks"]) == ["back"]
    assert [(c.plugin, c.command, c.env["CNI_IFNAME"]) for c in fake.calls] == [
        ("bridge", "DEL", "eth0")
    ]
    # eth0 is free again: the next connect takes it
    ep3 = sandbox.connect(cfg, A, NetworkRequest("front"))
    assert ep3["Networks"]["front"]["IfName"] == "eth0"
    assert sandbox.disconnect(cfg, B, "front") is None  # not attached there
    sandbox.disconnect(cfg, A, "back")
    assert "web" not in rb.hosts_path.read_text()


def test_connect_needs_a_sandbox(cfg: Config, store: NetworkStore, fake: FakeExecutor) -> None:
    with pytest.raises(Conflict, match="has no network sandbox to connect to"):
        sandbox.connect(cfg, A, NetworkRequest("front"))
    assert sandbox.disconnect(cfg, A, "front") is None


def test_disconnect_after_the_cache_is_gone_uses_the_network_config(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    sandbox.attach(cfg, request(tmp_path, A, "web", "front"))
    (cfg.data_root / "network" / "cni" / "results" / f"front-{A}-eth0").unlink()
    fake.calls.clear()
    sandbox.disconnect(cfg, A, "front")
    assert fake.commands() == [("bridge", "DEL")]


def test_disconnect_with_a_corrupt_cache_entry(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    sandbox.attach(cfg, request(tmp_path, A, "web", "front", "back"))
    cache = cfg.data_root / "network" / "cni" / "results" / f"front-{A}-eth0"
    cache.write_text("{")
    fake.calls.clear()
    ep = sandbox.disconnect(cfg, A, "front")
    assert ep is not None and list(ep["Networks"]) == ["back"]
    assert [(c.plugin, c.command, c.env["CNI_IFNAME"]) for c in fake.calls] == [
        ("bridge", "DEL", "eth0")
    ]
    assert not cache.exists()


def test_in_use_and_forget(
    cfg: Config, store: NetworkStore, fake: FakeExecutor, tmp_path: Path
) -> None:
    sandbox.attach(cfg, request(tmp_path, A, "web", "front"))
    assert [e["Id"] for e in sandbox.in_use(cfg, "front")] == [A]
    assert sandbox.in_use(cfg, "back") == []
    lock = cfg.data_root / "network" / "locks" / f"{A}.lock"
    assert lock.exists()
    sandbox.release(cfg, A)
    sandbox.forget(cfg, A)
    assert not lock.exists()
