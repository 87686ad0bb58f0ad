"""Host side of bridge networks: the ``ip -batch`` bridge and the iptables rules, on a fake."""

from __future__ import annotations

from pathlib import Path

import pytest

from pynerd.network import hostnet
from pynerd.network.hostnet import BridgeSpec, HostNet, HostNetError
from tests.unit.network.fake_iptables import FakeIptables

A = BridgeSpec("pynerd0", "10.4.0.0/24", "10.4.0.1")
B = BridgeSpec("br-0123456789ab", "10.4.1.0/24", "10.4.1.1")
INTERNAL = BridgeSpec("pynerd7", "10.4.7.0/24", "10.4.7.1", internal=True)
PORTMAP_JUMP = ("-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT")
MASQ_JUMP = (
    "-m",
    "comment",
    "--comment",
    "CNI portfwd requiring masquerade",
    "-j",
    "CNI-HOSTPORT-MASQ",
)


def tag(bridge: str) -> tuple[str, ...]:
    return ("-m", "comment", "--comment", f"pynerd:{bridge}")


@pytest.fixture
def ipt() -> FakeIptables:
    fake = FakeIptables()
    # What a host may already have: Docker's FORWARD jump, a NAT rule of somebody else.
    fake.tables["filter"]["FORWARD"].append(("-j", "DOCKER-USER"))
    fake.tables["filter"]["DOCKER-USER"] = []
    fake.tables["nat"]["POSTROUTING"].append(("-s", "172.17.0.0/16", "-j", "MASQUERADE"))
    return fake


@pytest.fixture
def host(ipt: FakeIptables, tmp_path: Path) -> HostNet:
    return HostNet(ipt, lock=tmp_path / "lock" / "iptables.lock")


def test_add_rules_of_a_bridge_network(host: HostNet, ipt: FakeIptables, tmp_path: Path) -> None:
    host.add_rules(A)
    b = "pynerd0"
    assert ipt.chains("nat") == {"PYNERD-POSTROUTING"}
    assert ipt.chains("filter") == {
        "DOCKER-USER",
        "PYNERD-FORWARD",
        "PYNERD-ISOLATION",
        "PYNERD-ISOLATION-2",
    }
    # jumps: POSTROUTING appended, FORWARD first (before Docker's), isolation first in ours
    assert ipt.rules("nat", "POSTROUTING")[-1] == ("-j", "PYNERD-POSTROUTING")
    assert ipt.rules("filter", "FORWARD") == [("-j", "PYNERD-FORWARD"), ("-j", "DOCKER-USER")]
    assert ipt.rules("nat", "PYNERD-POSTROUTING") == [
        ("-s", "10.4.0.0/24", "!", "-o", b, *tag(b), "-j", "MASQUERADE")
    ]
    assert ipt.rules("filter", "PYNERD-FORWARD") == [
        ("-j", "PYNERD-ISOLATION"),
        ("-o", b, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", *tag(b), "-j", "ACCEPT"),
        ("-i", b, *tag(b), "-j", "ACCEPT"),
        ("-o", b, "-m", "conntrack", "--ctstate", "DNAT", *tag(b), "-j", "ACCEPT"),
    ]
    assert ipt.rules("filter", "PYNERD-ISOLATION") == [
        ("-i", b, "!", "-o", b, *tag(b), "-j", "PYNERD-ISOLATION-2")
    ]
    assert ipt.rules("filter", "PYNERD-ISOLATION-2") == [
        ("-o", b, "-m", "conntrack", "!", "--ctstate", "DNAT", *tag(b), "-j", "DROP")
    ]
    assert (tmp_path / "lock" / "iptables.lock").exists()  # changes are made under the lock
    assert all(c[1:3] == ("-w", "-t") for c in ipt.calls)  # -w: wait for the xtables lock


def test_add_rules_is_idempotent(host: HostNet, ipt: FakeIptables) -> None:
    host.add_rules(A)
    before = ipt.snapshot()
    ipt.calls.clear()
    host.add_rules(A)
    assert ipt.snapshot() == before
    assert ipt.changes() == []  # checked with -S/-C, nothing added twice


def test_add_rules_of_an_internal_network(host: HostNet, ipt: FakeIptables) -> None:
    host.add_rules(INTERNAL)
    b = "pynerd7"
    assert ipt.rules("nat", "PYNERD-POSTROUTING") == []  # no way out: no masquerade
    assert ipt.rules("filter", "PYNERD-ISOLATION") == [
        ("-i", b, "!", "-o", b, *tag(b), "-j", "DROP"),
        ("-o", b, "!", "-i", b, *tag(b), "-j", "DROP"),
    ]
    assert ipt.rules("filter", "PYNERD-FORWARD") == [
        ("-j", "PYNERD-ISOLATION"),
        ("-i", b, "-o", b, *tag(b), "-j", "ACCEPT"),
    ]
    assert ipt.rules("filter", "PYNERD-ISOLATION-2") == []


def test_two_networks_isolate_each_other_and_share_the_chains(
    host: HostNet, ipt: FakeIptables
) -> None:
    host.add_rules(A)
    host.add_rules(B)
    iso2 = ipt.rules("filter", "PYNERD-ISOLATION-2")
    assert [r[1] for r in iso2] == ["pynerd0", "br-0123456789ab"]  # one rule per network
    assert ipt.rules("filter", "FORWARD").count(("-j", "PYNERD-FORWARD")) == 1
    assert ipt.rules("filter", "PYNERD-FORWARD").count(("-j", "PYNERD-ISOLATION")) == 1


def test_delete_rules_keeps_what_other_networks_use(host: HostNet, ipt: FakeIptables) -> None:
    host.add_rules(A)
    before_a = ipt.snapshot()
    host.add_rules(B)
    host.delete_rules(B)
    assert ipt.snapshot() == before_a


def test_the_last_network_leaves_nothing_behind(host: HostNet, ipt: FakeIptables) -> None:
    pristine = ipt.snapshot()
    host.add_rules(A)
    host.add_rules(INTERNAL)
    host.add_rules(B)
    host.delete_rules(A)
    host.delete_rules(INTERNAL)
    assert ipt.chains("filter") >= {"PYNERD-FORWARD", "PYNERD-ISOLATION", "PYNERD-ISOLATION-2"}
    host.delete_rules(B)
    assert ipt.snapshot() == pristine  # chains and jumps gone, foreign rules untouched


def test_delete_rules_is_idempotent(host: HostNet, ipt: FakeIptables) -> None:
    pristine = ipt.snapshot()
    host.add_rules(A)
    host.delete_rules(A)
    host.delete_rules(A)
    assert ipt.snapshot() == pristine


def test_only_an_internal_network_left_drops_isolation_2_and_a_new_one_brings_it_back(
    host: HostNet, ipt: FakeIptables
) -> None:
    host.add_rules(A)
    host.add_rules(INTERNAL)
    host.delete_rules(A)
    assert "PYNERD-ISOLATION-2" not in ipt.chains("filter")
    assert len(ipt.rules("filter", "PYNERD-ISOLATION")) == 2  # the internal network's
    host.add_rules(B)
    assert len(ipt.rules("filter", "PYNERD-ISOLATION-2")) == 1


def test_a_rule_added_twice_by_a_race_is_deleted_completely(
    host: HostNet, ipt: FakeIptables
) -> None:
    pristine = ipt.snapshot()
    host.add_rules(A)
    dup = ipt.rules("filter", "PYNERD-FORWARD")[2]
    ipt.tables["filter"]["PYNERD-FORWARD"].append(dup)
    host.delete_rules(A)
    assert ipt.snapshot() == pristine


def portmap_chains(ipt: FakeIptables, mapping: bool) -> None:
    """What the portmap plugin leaves: its chains and jumps; a DNAT rule while a container
    (of any tool) has a port mapping."""
    nat = ipt.tables["nat"]
    for chain in ("CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-DNAT"):
        nat[chain] = []
    nat["CNI-HOSTPORT-SETMARK"].append(("-j", "MARK"))
    nat["CNI-HOSTPORT-MASQ"].append(("-m", "mark", "--mark", "0x2000/0x2000", "-j", "MASQUERADE"))
    nat["PREROUTING"].append(PORTMAP_JUMP)
    nat["OUTPUT"].append(PORTMAP_JUMP)
    nat["POSTROUTING"].append(MASQ_JUMP)
    if mapping:
        nat["CNI-DN-1234"] = [("-p", "tcp", "--dport", "8080", "-j", "DNAT")]
        nat["CNI-HOSTPORT-DNAT"].append(("-p", "tcp", "-j", "CNI-DN-1234"))


def test_the_last_network_takes_the_idle_portmap_chains_along(
    host: HostNet, ipt: FakeIptables
) -> None:
    pristine = ipt.snapshot()
    host.add_rules(A)
    portmap_chains(ipt, mapping=False)
    host.delete_rules(A)
    assert ipt.snapshot() == pristine
    assert not any(c.startswith("CNI-HOSTPORT") for c in ipt.chains("nat"))


def test_portmap_chains_stay_while_a_mapping_is_in_them(host: HostNet, ipt: FakeIptables) -> None:
    host.add_rules(A)
    portmap_chains(ipt, mapping=True)
    host.delete_rules(A)
    assert {"CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"} <= ipt.chains("nat")
    assert PORTMAP_JUMP in ipt.rules("nat", "PREROUTING")
    assert "PYNERD-FORWARD" not in ipt.chains("filter")  # ours went all the same


def test_portmap_chains_stay_while_pynerd_networks_remain(host: HostNet, ipt: FakeIptables) -> None:
    host.add_rules(A)
    host.add_rules(B)
    portmap_chains(ipt, mapping=False)
    host.delete_rules(A)
    assert "CNI-HOSTPORT-DNAT" in ipt.chains("nat")
    assert MASQ_JUMP in ipt.rules("nat", "POSTROUTING")


def test_a_failing_iptables_command_is_an_error(host: HostNet, ipt: FakeIptables) -> None:
    ipt.fail["-A", "PYNERD-POSTROUTING"] = "iptables: Resource temporarily unavailable.\n"
    with pytest.raises(HostNetError) as info:
        host.add_rules(A)
    assert str(info.value).endswith(
        "-w -t nat -A PYNERD-POSTROUTING: iptables: Resource temporarily unavailable."
    )


def test_a_missing_tool_is_named(host: HostNet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hostnet, "find_executable", lambda name, paths: None)
    with pytest.raises(HostNetError, match=r"^iptables not found \(apt-get install iproute2"):
        host.add_rules(A)


def test_add_bridge_is_one_ip_batch(host: HostNet, ipt: FakeIptables) -> None:
    host.add_bridge(BridgeSpec("pynerd3", "10.4.3.0/24", "10.4.3.1", mtu=1400))
    assert [c[1:] for c in ipt.calls] == [("-batch", "-")]
    assert ipt.ip_input == [
        "link add name pynerd3 mtu 1400 type bridge\n"
        "addr add 10.4.3.1/24 dev pynerd3\n"
        "link set pynerd3 up\n"
    ]


def test_add_bridge_without_mtu(host: HostNet, ipt: FakeIptables) -> None:
    host.add_bridge(A)
    assert ipt.ip_input[0].startswith("link add name pynerd0 type bridge\naddr add 10.4.0.1/24")


def test_delete_bridge_only_if_it_exists(
    host: HostNet, ipt: FakeIptables, monkeypatch: pytest.MonkeyPatch
) -> None:
    present = {"pynerd0"}
    monkeypatch.setattr(hostnet, "link_exists", lambda name: name in present)
    host.delete_bridge("pynerd9")
    assert ipt.calls == []
    host.delete_bridge("pynerd0")
    assert [c[1:] for c in ipt.calls] == [("link", "del", "pynerd0")]


def test_link_exists_looks_at_sysfs() -> None:
    assert hostnet.link_exists("lo")
    assert not hostnet.link_exists("pynerd-no-such-link")
