"""CNI ADD/CHECK/DEL chaining with a FakeExecutor: what each plugin receives, and the cache."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from pynerd.errors import InvalidArgument
from pynerd.network.cni.config import NetworkConfigList, parse_list
from pynerd.network.cni.errors import CNIError
from pynerd.network.cni.exec import FakeCall, FakeExecutor
from pynerd.network.cni.runtime import CNI, RuntimeConf

CID = "0123abcd" * 8
PORTS = [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]

BRIDGE_RESULT = {
    "cniVersion": "1.0.0",
    "interfaces": [
        {"name": "cni0", "mac": "00:11:22:33:44:55"},
        {"name": "veth1", "mac": "55:44:33:22:11:11"},
        {"name": "eth0", "mac": "99:88:77:66:55:44", "sandbox": "/run/netns/x"},
    ],
    "ips": [{"interface": 2, "address": "10.244.1.2/24", "gateway": "10.244.1.1"}],
    "routes": [{"dst": "0.0.0.0/0"}],
    "dns": {"nameservers": ["10.244.1.1"]},
}


@pytest.fixture
def cni_path(tmp_path: Path) -> list[str]:
    """A plugin directory with stub binaries: the FakeExecutor never runs them."""
    d = tmp_path / "bin"
    d.mkdir()
    for name in ("bridge", "portmap", "firewall", "tuning"):
        (d / name).write_text("#!/bin/sh\nexit 99\n")
        (d / name).chmod(0o755)
    return [str(tmp_path / "empty"), str(d)]


def network(version: str = "1.0.0", **extra: Any) -> NetworkConfigList:
    return parse_list(
        json.dumps(
            {
                "cniVersion": version,
                "name": "pnet",
                "plugins": [
                    {"type": "bridge", "name": "ignored", "cniVersion": "0.1.0", "bridge": "b0"},
                    {"type": "portmap", "capabilities": {"portMappings": True, "ips": False}},
                    {"type": "tuning", "capabilities": {"mac": True, "bandwidth": True}},
                ],
                **extra,
            }
        ).encode()
    )


def make(cni_path: list[str], tmp_path: Path, **results: Any) -> tuple[CNI, FakeExecutor]:
    fake = FakeExecutor(results={"bridge": BRIDGE_RESULT, **results})
    return CNI(cni_path, tmp_path / "cache", fake), fake


RT = RuntimeConf(
    CID,
    "/nonexistent/netns/x",
    "eth0",
    args=[("IgnoreUnknown", "1"), ("K8S_POD_NAME", "web")],
    capability_args={"portMappings": PORTS, "ips": ["10.244.1.9/24"], "mac": "aa:bb:cc:dd:ee:ff"},
)


def test_add_runs_plugins_in_order_passing_each_result_on(
    cni_path: list[str], tmp_path: Path
) -> None:
    cni, fake = make(cni_path, tmp_path)
    result = cni.add(network(), RT)
    assert fake.commands() == [("bridge", "ADD"), ("portmap", "ADD"), ("tuning", "ADD")]
    bridge, portmap, tuning = fake.calls
    assert "prevResult" not in bridge.config
    assert portmap.config["prevResult"] == BRIDGE_RESULT
    assert tuning.config["prevResult"] == BRIDGE_RESULT  # portmap echoed it
    assert result.to_dict() == BRIDGE_RESULT
    assert [ip.ip for ip in result.ips_of("eth0")] == ["10.244.1.2"]


def test_every_plugin_gets_the_list_name_and_version_and_the_same_env(
    cni_path: list[str], tmp_path: Path
) -> None:
    cni, fake = make(cni_path, tmp_path)
    cni.add(network(), RT)
    for call in fake.calls:
        assert (call.config["name"], call.config["cniVersion"]) == ("pnet", "1.0.0")
        assert call.env == {
            "CNI_COMMAND": "ADD",
            "CNI_CONTAINERID": CID,
            "CNI_NETNS": "/nonexistent/netns/x",
            "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAME=web",
            "CNI_IFNAME": "eth0",
            "CNI_PATH": ":".join(cni_path),
        }
    assert fake.calls[0].config["bridge"] == "b0"  # the plugin's own keys are kept


def test_runtime_config_carries_only_declared_and_enabled_capabilities(
    cni_path: list[str], tmp_path: Path
) -> None:
    cni, fake = make(cni_path, tmp_path)
    cni.add(network(), RT)
    bridge, portmap, tuning = fake.calls
    assert "runtimeConfig" not in bridge.config  # declares none
    assert portmap.config["runtimeConfig"] == {"portMappings": PORTS}  # "ips" is false
    assert tuning.config["runtimeConfig"] == {"mac": "aa:bb:cc:dd:ee:ff"}  # no bandwidth arg


def test_add_caches_the_result_in_libcni_format(cni_path: list[str], tmp_path: Path) -> None:
    cni, _ = make(cni_path, tmp_path)
    net = network()
    cni.add(net, RT)
    path = tmp_path / "cache" / "results" / f"pnet-{CID}-eth0"
    assert cni.cache_file("pnet", RT) == path
    cached = json.loads(path.read_bytes())
    assert cached == {
        "kind": "cniCacheV1",
        "containerId": CID,
        "config": base64.b64encode(net.raw).decode(),
        "ifName": "eth0",
        "networkName": "pnet",
        "netns": "/nonexistent/netns/x",
        "cniArgs": [["IgnoreUnknown", "1"], ["K8S_POD_NAME", "web"]],
        "capabilityArgs": dict(RT.capability_args),
        "result": BRIDGE_RESULT,
    }
    assert path.stat().st_mode & 0o777 == 0o600
    assert os.listdir(path.parent) == [path.name]  # no temp file left
    assert cni.get_cached(net, RT) is not None
    assert cni.get_cached(net, RuntimeConf(CID, "", "eth1")) is None


def test_cached_config_gives_back_the_list_and_args_of_the_add(
    cni_path: list[str], tmp_path: Path
) -> None:
    cni, _ = make(cni_path, tmp_path)
    net = network()
    cni.add(net, RT)
    got = cni.get_cached_config("pnet", RuntimeConf(CID, "/x", "eth0"))
    assert got is not None
    cached_net, cached_rt = got
    assert cached_net.raw == net.raw and cached_net.plugins == net.plugins
    assert list(cached_rt.args) == list(RT.args)
    assert cached_rt.capability_args == RT.capability_args
    assert cni.get_cached_config("other", RT) is None


def test_del_runs_in_reverse_with_the_cached_result_and_removes_the_cache(
    cni_path: list[str], tmp_path: Path
) -> None:
    cni, fake = make(cni_path, tmp_path)
    net = network()
    cni.add(net, RT)
    fake.calls.clear()
    cni.delete(net, RT)
    assert fake.commands() == [("tuning", "DEL"), ("portmap", "DEL"), ("bridge", "DEL")]
    for call in fake.calls:
        assert call.config["prevResult"] == BRIDGE_RESULT
        assert call.env["CNI_COMMAND"] == "DEL"
    assert fake.calls[1].config["runtimeConfig"] == {"portMappings": PORTS}
    assert not cni.cache_file("pnet", RT).exists()


def test_del_is_idempotent_and_tolerates_a_vanished_netns(
    cni_path: list[str], tmp_path: Path
) -> None:
    cni, fake = make(cni_path, tmp_path)
    net = network()
    cni.add(net, RT)
    cni.delete(net, RT)
    fake.calls.clear()
    cni.delete(net, RT)  # nothing cached any more: DEL still runs, without prevResult
    assert fake.commands() == [("tuning", "DEL"), ("portmap", "DEL"), ("bridge", "DEL")]
    assert all("prevResult" not in c.config for c in fake.calls)
    # The netns path does not exist: plugins get an empty CNI_NETNS (as from containerd).
    assert {c.env["CNI_NETNS"] for c in fake.calls} == {""}


def test_del_passes_a_netns_that_exists(
    cni_path: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pynerd.network import netns

    monkeypatch.setattr(netns, "is_netns", lambda path: path == "/run/netns/live")
    cni, fake = make(cni_path, tmp_path)
    cni.delete(network(), RuntimeConf(CID, "/run/netns/live"))
    assert {c.env["CNI_NETNS"] for c in fake.calls} == {"/run/netns/live"}


def test_del_with_a_corrupt_cache_drops_it_and_goes_on(cni_path: list[str], tmp_path: Path) -> None:
    cni, fake = make(cni_path, tmp_path)
    path = cni.cache_file("pnet", RT)
    path.parent.mkdir(parents=True)
    path.write_text("{garbage")
    cni.delete(network(), RT)
    assert all("prevResult" not in c.config for c in fake.calls)
    assert not path.exists()


def test_del_of_a_pre_040_list_sends_no_prev_result_but_still_clears_the_cache(
    cni_path: list[str], tmp_path: Path
) -> None:
    cni, fake = make(cni_path, tmp_path)
    net = network("0.3.1")
    cni.add(net, RT)
    fake.calls.clear()
    cni.delete(net, RT)
    assert all("prevResult" not in c.config for c in fake.calls)
    assert not cni.cache_file("pnet", RT).exists()


def test_check_runs_in_order_with_the_cached_result(cni_path: list[str], tmp_path: Path) -> None:
    cni, fake = make(cni_path, tmp_path)
    net = network("0.4.0")
    cni.add(net, RT)
    fake.calls.clear()
    cni.check(net, RT)
    assert fake.commands() == [("bridge", "CHECK"), ("portmap", "CHECK"), ("tuning", "CHECK")]
    prev = fake.calls[0].config["prevResult"]
    assert prev["cniVersion"] == "0.4.0"
    assert prev["ips"] == [
        {"version": "4", "interface": 2, "address": "10.244.1.2/24", "gateway": "10.244.1.1"}
    ]


def test_check_needs_040_and_honours_disable_check(cni_path: list[str], tmp_path: Path) -> None:
    cni, fake = make(cni_path, tmp_path)
    with pytest.raises(CNIError, match=r"'0\.3\.1' does not support the CHECK command"):
        cni.check(network("0.3.1"), RT)
    cni.check(network(disableCheck=True), RT)
    assert fake.calls == []


def test_check_failure_names_the_plugin(cni_path: list[str], tmp_path: Path) -> None:
    cni, fake = make(cni_path, tmp_path)
    fake.errors[("tuning", "CHECK")] = {"code": 999, "msg": "mtu mismatch"}
    cni.add(network(), RT)
    with pytest.raises(CNIError, match=r'^plugin type="tuning" failed \(check\): mtu mismatch$'):
        cni.check(network(), RT)


def test_failed_add_reports_the_plugin_error_and_rolls_back(
    cni_path: list[str], tmp_path: Path
) -> None:
    cni, fake = make(cni_path, tmp_path)
    fake.errors[("portmap", "ADD")] = {
        "cniVersion": "1.0.0",
        "code": 11,
        "msg": "failed to open iptables",
        "details": "xtables lock held",
    }
    with pytest.raises(CNIError) as info:
        cni.add(network(), RT)
    err = info.value
    assert err.message == (
        'plugin type="portmap" failed (add): failed to open iptables; xtables lock held'
    )
    assert (err.code, err.msg, err.details) == (11, "failed to open iptables", "xtables lock held")
    # The spec's error handling: DEL of the whole list, in reverse, even plugins never ADDed.
    assert fake.commands() == [
        ("bridge", "ADD"),
        ("portmap", "ADD"),
        ("tuning", "DEL"),
        ("portmap", "DEL"),
        ("bridge", "DEL"),
    ]
    assert not cni.cache_file("pnet", RT).exists()


def test_failed_add_without_rollback_leaves_cleanup_to_the_caller(
    cni_path: list[str], tmp_path: Path
) -> None:
    cni, fake = make(cni_path, tmp_path)
    fake.errors[("bridge", "ADD")] = {"code": 7, "msg": "bad config"}
    with pytest.raises(CNIError, match=r'type="bridge" name="ignored" failed \(add\): bad config'):
        cni.add(network(), RT, rollback=False)
    assert fake.commands() == [("bridge", "ADD")]


def test_failed_rollback_is_mentioned(cni_path: list[str], tmp_path: Path) -> None:
    cni, fake = make(cni_path, tmp_path)
    fake.errors[("tuning", "ADD")] = {"code": 100, "msg": "boom"}
    fake.errors[("bridge", "DEL")] = {"code": 100, "msg": "stuck"}
    with pytest.raises(CNIError) as info:
        cni.add(network(), RT)
    assert info.value.message == (
        'plugin type="tuning" failed (add): boom (and cleaning up failed: '
        'plugin type="bridge" name="ignored" failed (delete): stuck)'
    )


def test_a_missing_plugin_binary_is_reported(cni_path: list[str], tmp_path: Path) -> None:
    cni, _ = make(cni_path, tmp_path)
    net = parse_list(b'{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"nope"}]}')
    with pytest.raises(CNIError, match=r'type="nope" failed \(add\): failed to find plugin'):
        cni.add(net, RT)


def test_invalid_plugin_output_is_an_error(cni_path: list[str], tmp_path: Path) -> None:
    cni, _ = make(cni_path, tmp_path, portmap=lambda call: {"cniVersion": "9.9.9"})
    with pytest.raises(CNIError, match=r"portmap.*unsupported CNI result version '9.9.9'"):
        cni.add(network(), RT)


@pytest.mark.parametrize(
    "rt",
    [
        RuntimeConf("", "/x"),
        RuntimeConf("../etc", "/x"),
        RuntimeConf(CID, "/x", ""),
        RuntimeConf(CID, "/x", "a" * 16),
        RuntimeConf(CID, "/x", "eth/0"),
        RuntimeConf(CID, "/x", ".."),
    ],
)
def test_invalid_runtime_conf_is_rejected_before_any_plugin_runs(
    cni_path: list[str], tmp_path: Path, rt: RuntimeConf
) -> None:
    cni, fake = make(cni_path, tmp_path)
    for op in (cni.add, cni.delete, cni.check):
        with pytest.raises(InvalidArgument):
            op(network(), rt)
    assert fake.calls == []


def test_results_are_converted_to_the_list_version(cni_path: list[str], tmp_path: Path) -> None:
    """A plugin answering in another version: the next plugin and the cache get the list's."""
    old = {
        "cniVersion": "0.4.0",
        "interfaces": [{"name": "eth0", "sandbox": "/n"}],
        "ips": [{"version": "4", "interface": 0, "address": "10.244.2.5/24"}],
    }
    cni, fake = make(cni_path, tmp_path, bridge=old)
    net = network("1.0.0")
    result = cni.add(net, RT)
    expected = {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "eth0", "sandbox": "/n"}],
        "ips": [{"interface": 0, "address": "10.244.2.5/24"}],
        "dns": {},
    }
    assert fake.calls[1].config["prevResult"] == expected
    assert result.to_dict() == expected
    # The same cache read for a list that is now 0.3.1 comes back in 0.3.1.
    cached = cni.get_cached(network("0.3.1"), RT)
    assert cached is not None and cached.to_dict()["cniVersion"] == "0.3.1"
    assert cached.to_dict()["ips"][0]["version"] == "4"


def test_a_result_without_version_takes_the_configs(cni_path: list[str], tmp_path: Path) -> None:
    def answer(call: FakeCall) -> dict[str, Any]:
        return {"ips": [{"version": "4", "address": "10.244.3.3/24"}]}

    cni, _ = make(cni_path, tmp_path, bridge=answer)
    result = cni.add(network("0.4.0"), RT)
    assert result.cni_version == "0.4.0"
    assert result.ips[0].address == "10.244.3.3/24"


def test_legacy_cache_file_is_read(cni_path: list[str], tmp_path: Path) -> None:
    cni, _ = make(cni_path, tmp_path)
    path = cni.cache_file("pnet", RT)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(BRIDGE_RESULT))  # before cniCacheV1: the bare result
    cached = cni.get_cached(network(), RT)
    assert cached is not None and cached.to_dict() == BRIDGE_RESULT


# Capability-only plugins are skipped when none of their capabilities is offered.

BARE = RuntimeConf(CID, "/nonexistent/netns/x", "eth0", args=[("IgnoreUnknown", "1")])


def test_idle_capability_only_plugins_are_skipped_in_add_check_and_del(
    cni_path: list[str], tmp_path: Path
) -> None:
    cni, fake = make(cni_path, tmp_path)
    net = network()
    result = cni.add(net, BARE)
    assert fake.commands() == [("bridge", "ADD")]  # portmap and tuning had nothing to do
    assert result.to_dict() == BRIDGE_RESULT
    assert cni.get_cached(net, BARE) is not None
    fake.calls.clear()
    cni.check(net, BARE)
    cni.delete(net, BARE)
    assert fake.commands() == [("bridge", "CHECK"), ("bridge", "DEL")]
    assert not cni.cache_file("pnet", BARE).exists()


def test_only_the_plugins_whose_capability_is_offered_run(
    cni_path: list[str], tmp_path: Path
) -> None:
    cni, fake = make(cni_path, tmp_path)
    rt = RuntimeConf(CID, "/x", capability_args={"portMappings": PORTS})
    cni.add(network(), rt)
    assert fake.commands() == [("bridge", "ADD"), ("portmap", "ADD")]
    assert fake.calls[1].config["runtimeConfig"] == {"portMappings": PORTS}
    fake.calls.clear()
    cni.add(network(), RuntimeConf(CID, "/x", capability_args={"mac": "aa:bb:cc:dd:ee:ff"}))
    assert fake.commands() == [("bridge", "ADD"), ("tuning", "ADD")]
    # tuning gets the bridge's result although portmap, in between, did not run
    assert fake.calls[1].config["prevResult"] == BRIDGE_RESULT


def test_a_capability_declared_false_does_not_wake_a_plugin(
    cni_path: list[str], tmp_path: Path
) -> None:
    cni, fake = make(cni_path, tmp_path)
    cni.add(network(), RuntimeConf(CID, "/x", capability_args={"ips": ["10.244.1.9/24"]}))
    assert fake.commands() == [("bridge", "ADD")]  # portmap declares "ips": false


def test_plugins_with_config_of_their_own_always_run(cni_path: list[str], tmp_path: Path) -> None:
    cni, fake = make(cni_path, tmp_path)
    net = parse_list(
        json.dumps(
            {
                "cniVersion": "1.0.0",
                "name": "pnet",
                "plugins": [
                    {"type": "bridge", "bridge": "b0"},
                    {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
                    {"type": "firewall"},  # no capabilities at all
                    # "name" and "cniVersion" are replaced by the list's: still capability-only
                    {"type": "tuning", "name": "t", "cniVersion": "0.4.0",
                     "capabilities": {"mac": True}},
                ],
            }
        ).encode()
    )  # fmt: skip
    cni.add(net, BARE)
    assert fake.commands() == [("bridge", "ADD"), ("portmap", "ADD"), ("firewall", "ADD")]
    fake.calls.clear()
    cni.delete(net, BARE)
    assert fake.commands() == [("firewall", "DEL"), ("portmap", "DEL"), ("bridge", "DEL")]


def test_del_skips_with_the_args_of_the_add_from_the_cache(
    cni_path: list[str], tmp_path: Path
) -> None:
    """DEL through the cached config and arguments runs exactly the plugins ADD ran."""
    cni, fake = make(cni_path, tmp_path)
    cni.add(network(), RuntimeConf(CID, "/x", capability_args={"portMappings": PORTS}))
    found = cni.get_cached_config("pnet", RuntimeConf(CID, "/x"))
    assert found is not None
    fake.calls.clear()
    cni.delete(*found)
    assert fake.commands() == [("portmap", "DEL"), ("bridge", "DEL")]
    assert fake.calls[0].config["runtimeConfig"] == {"portMappings": PORTS}


def test_rollback_of_a_failed_add_skips_the_idle_plugins(
    cni_path: list[str], tmp_path: Path
) -> None:
    cni, fake = make(cni_path, tmp_path)
    fake.errors[("bridge", "ADD")] = {"code": 11, "msg": "no IP addresses available"}
    with pytest.raises(CNIError, match="no IP addresses available"):
        cni.add(network(), BARE)
    assert fake.commands() == [("bridge", "ADD"), ("bridge", "DEL")]
