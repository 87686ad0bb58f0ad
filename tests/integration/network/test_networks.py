"""Networks end to end: the real CNI plugins, real namespaces, iptables and runc.

Every test works in its own data root and CNI config directory (the CLI helper's), so
its default ``bridge`` and user networks get their own bridge devices and subnets; the
autouse fixture in tests/conftest.py removes them afterwards. All traffic stays on this
machine: between the test's containers, and from the host to 127.0.0.1 or to its own
address through a published port.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.cli import Cli
from tests.rig.images import INDEX_HTML

pytestmark = pytest.mark.integration
INDEX = INDEX_HTML.decode() if isinstance(INDEX_HTML, bytes) else INDEX_HTML




@pytest.fixture
def bb(cli: Cli, busybox_image: Any) -> Iterator[str]:
    assert cli("pull", "-q", busybox_image.ref).code == 0
    yield busybox_image.ref
    ids = cli("ps", "-aq", "--no-trunc").out.split()
    if ids:
        assert cli("rm", "-f", *ids).code == 0


def inspect(cli: Cli, ref: str) -> dict[str, Any]:
    r = cli("inspect", ref)
    assert r.code == 0, r.err
    return dict(json.loads(r.out)[0])


def web(cli: Cli, bb: str, name: str, *flags: str) -> dict[str, Any]:
    """A detached busybox httpd serving the image's /var/www on port 80."""
    r = cli("run", "-d", "--name", name, *flags, bb, "httpd", "-f", "-p", "80", "-h", "/var/www")
    assert r.code == 0, r.err
    return inspect(cli, name)


def sh(cli: Cli, bb: str, script: str, *flags: str) -> Any:
    """``run --rm`` of a shell script (as a real process: the exit code matters).

    The trailing ``exit`` keeps sh as the container's PID 1: sh would otherwise exec the
    last command, and a ``timeout`` running as PID 1 cannot kill itself (the init of a
    PID namespace ignores signals it has no handler for).
    """
    return cli.proc("run", "--rm", *flags, bb, "sh", "-c", script + "; exit $?")


def http_get(url: str, timeout: float = 5) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return str(resp.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def host_address() -> str:
    """One of the host's own non-loopback addresses (the route to it stays local)."""
    out = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True
    ).stdout
    for line in out.splitlines():
        name, addr = line.split()[1], line.split()[3].split("/")[0]
        if not name.startswith(("pynerd", "br-", "docker", "veth", "cni", "podman")):
            return addr
    pytest.skip("no global IPv4 address on this host")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


def test_default_bridge_gives_an_address_and_outbound_rules(cli: Cli, bb: str) -> None:
    info = web(cli, bb, "web0")
    ns = info["NetworkSettings"]
    assert info["HostConfig"]["NetworkMode"] == "default"
    assert list(ns["Networks"]) == ["bridge"]
    assert ns["IPAddress"] == ns["Networks"]["bridge"]["IPAddress"] != ""
    assert ns["Gateway"] and ns["IPPrefixLen"] == 24 and ns["MacAddress"]
    # the host reaches the container directly, as with Docker's bridge
    assert http_get(f"http://{ns['IPAddress']}/") == INDEX
    # a default route through the gateway, the gateway is the bridge's address
    r = sh(cli, bb, "ip route")
    assert f"default via {ns['Gateway']}" in r.out
    bridge = json.loads(cli("network", "inspect", "bridge").out)[0]
    assert bridge["IPAM"]["Config"][0]["Gateway"] == ns["Gateway"]
    assert list(bridge["Containers"]) == [info["Id"]]
    # Docker's resolv.conf rule: never a loopback resolver inside the container
    r = sh(cli, bb, "cat /etc/resolv.conf")
    assert "nameserver 127." not in r.out


def test_names_resolve_on_a_user_network_only(cli: Cli, bb: str, unique_name: Any) -> None:
    net, other = unique_name("n"), unique_name("n")
    assert cli("network", "create", net).code == 0
    assert cli("network", "create", other).code == 0
    a = web(cli, bb, "alpha", "--network", net, "--network-alias", "www")
    b = web(cli, bb, "beta", "--network", other)
    web(cli, bb, "gamma")  # on the default bridge
    # ping by name, by alias and by hostname (the short ID) across the user network
    for target in ("alpha", "www", a["Id"][:12]):
        r = sh(cli, bb, f"ping -c1 -W2 {target}", "--network", net)
        assert r.code == 0, (target, r.out, r.err)
    r = sh(cli, bb, "wget -qO- http://alpha/", "--network", net)
    assert r.out == INDEX
    # another user network neither resolves nor reaches it
    r = sh(cli, bb, "ping -c1 -W1 alpha", "--network", other)
    assert r.code != 0 and "bad address" in r.err
    a_ip = a["NetworkSettings"]["Networks"][net]["IPAddress"]
    r = sh(cli, bb, f"timeout 3 wget -qO- http://{a_ip}/", "--network", other)
    assert r.code != 0 and r.out == ""
    b_ip = b["NetworkSettings"]["Networks"][other]["IPAddress"]
    r = sh(cli, bb, f"timeout 3 wget -qO- http://{b_ip}/", "--network", net)
    assert r.code != 0
    # the default bridge does not resolve names (Docker's rule)
    r = sh(cli, bb, "ping -c1 -W1 gamma")
    assert r.code != 0 and "bad address" in r.err
    # inspect: the alias and the short ID, as Docker lists them on a user network
    assert a["NetworkSettings"]["Networks"][net]["Aliases"] == ["www", a["Id"][:12]]
    assert a["NetworkSettings"]["IPAddress"] == ""  # only the default bridge fills it


def test_rename_is_resolved(cli: Cli, bb: str, unique_name: Any) -> None:
    net = unique_name("n")
    assert cli("network", "create", net).code == 0
    web(cli, bb, "old", "--network", net)
    assert cli("rename", "old", "new").code == 0
    r = sh(cli, bb, "ping -c1 -W2 new && ! ping -c1 -W1 old", "--network", net)
    assert r.code == 0, r.out + r.err


def test_published_ports(cli: Cli, bb: str) -> None:
    p1, p2 = free_port(), free_port()
    info = web(cli, bb, "pub", "-p", f"127.0.0.1:{p1}:80", "-p", f"{p2}:80/tcp", "--expose", "81")
    assert info["HostConfig"]["PortBindings"] == {
        "80/tcp": [
            {"HostIp": "127.0.0.1", "HostPort": str(p1)},
            {"HostIp": "", "HostPort": str(p2)},
        ]
    }
    assert info["NetworkSettings"]["Ports"] == {
        "80/tcp": [
            {"HostIp": "127.0.0.1", "HostPort": str(p1)},
            {"HostIp": "0.0.0.0", "HostPort": str(p2)},
        ],
        "81/tcp": None,
    }
    assert http_get(f"http://127.0.0.1:{p1}/") == INDEX  # from the host, on loopback
    addr = host_address()
    assert http_get(f"http://{addr}:{p2}/") == INDEX  # on its own address
    # from another container, through the host's address (hairpin)
    r = sh(cli, bb, f"wget -qO- http://{addr}:{p2}/")
    assert r.out == INDEX, r.err
    assert cli("port", "pub").out == (f"80/tcp -> 127.0.0.1:{p1}\n80/tcp -> 0.0.0.0:{p2}\n")
    ps = cli("ps", "--format", "{{.Ports}}").out.strip()
    assert ps == f"81/tcp, 0.0.0.0:{p2}->80/tcp, 127.0.0.1:{p1}->80/tcp"  # Docker's layout
    # a port in use is a clear error before anything starts
    r = cli.proc("run", "--rm", "-p", f"{p2}:80", bb, "true")
    assert r.code == 125
    assert r.err.endswith(f"Bind for 0.0.0.0:{p2} failed: port is already allocated\n"), r.err
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen()
        busy = s.getsockname()[1]
        r = cli.proc("run", "--rm", "-p", f"{busy}:80", bb, "true")
    assert r.code == 125 and "address already in use" in r.err, r.err
    assert cli("ps", "-aq").out.count("\n") == 1  # the failed runs left nothing


def test_publish_all(cli: Cli, bb: str) -> None:
    info = web(cli, bb, "all", "--expose", "80", "-P")
    (binding,) = info["NetworkSettings"]["Ports"]["80/tcp"]
    assert binding["HostIp"] == "0.0.0.0" and int(binding["HostPort"]) > 0
    assert http_get(f"http://127.0.0.1:{binding['HostPort']}/") == INDEX


def test_internal_network_has_no_way_out(cli: Cli, bb: str, unique_name: Any) -> None:
    net = unique_name("n")
    assert cli("network", "create", "--internal", net).code == 0
    outside = web(cli, bb, "outside")
    r = sh(cli, bb, "ip route", "--network", net)
    assert r.code == 0 and "default" not in r.out and r.out.strip()
    ip = outside["NetworkSettings"]["IPAddress"]
    r = sh(cli, bb, f"timeout 3 wget -qO- http://{ip}/", "--network", net)
    assert r.code != 0
    assert json.loads(cli("network", "inspect", net).out)[0]["Internal"] is True


def test_connect_and_disconnect(cli: Cli, bb: str, unique_name: Any) -> None:
    net = unique_name("n")
    assert cli("network", "create", "--subnet", "10.231.7.0/24", net).code == 0
    web(cli, bb, "ca", "--network", net)
    web(cli, bb, "cb")
    probe = "ping -c1 -W1 {}"
    assert sh(cli, bb, probe.format("cb"), "--network", net).code != 0
    r = cli("network", "connect", "--alias", "bee", "--ip", "10.231.7.77", net, "cb")
    assert r.code == 0, r.err
    b = inspect(cli, "cb")
    assert b["NetworkSettings"]["Networks"][net]["IPAddress"] == "10.231.7.77"
    r = sh(cli, bb, probe.format("cb") + " && " + probe.format("bee"), "--network", net)
    assert r.code == 0, r.err
    r = cli.proc("exec", "cb", "ip", "-o", "-4", "addr")
    assert "eth1" in r.out and "10.231.7.77" in r.out
    # ca's /etc/hosts learned cb's name; disconnect takes it away again
    assert "cb" in cli.proc("exec", "ca", "cat", "/etc/hosts").out.split()
    assert cli("network", "disconnect", net, "cb").code == 0
    assert sh(cli, bb, probe.format("cb"), "--network", net).code != 0
    assert "cb" not in cli.proc("exec", "ca", "cat", "/etc/hosts").out.split()
    assert "eth1" not in cli.proc("exec", "cb", "ip", "-o", "addr").out
    r = cli("network", "disconnect", net, "cb")
    assert r.code != 0 and f"is not connected to network {net}" in r.err


def test_twenty_concurrent_starts(cli: Cli, bb: str, unique_name: Any) -> None:
    net = unique_name("n")
    assert cli("network", "create", net).code == 0
    names = [f"c{i}" for i in range(20)]

    def start(name: str) -> Any:
        return cli.proc("run", "-d", "--name", name, "--network", net, bb, "sleep", "120")

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(start, names))
    assert [r.code for r in results] == [0] * 20, [r.err for r in results if r.code]
    infos = [inspect(cli, n) for n in names]
    ips = [i["NetworkSettings"]["Networks"][net]["IPAddress"] for i in infos]
    assert len(set(ips)) == 20 and all(ips)
    # every container's hosts file names all 19 others (the last writer saw everyone)
    for info in infos:
        hosts = Path(info["HostsPath"]).read_text().split()
        assert {n for n in names if n != info["Name"][1:]} <= set(hosts), info["Name"]
    r = cli.proc("exec", "c0", "ping", "-c1", "-W2", "c19")
    assert r.code == 0, r.err
    # network rm refuses while they are attached, with Docker's message
    r = cli("network", "rm", net)
    assert r.code != 0 and r.err.endswith("has active endpoints\n"), r.err


def _leases(cli: Cli, net: str) -> list[str]:
    d = cli.data_root / "network" / "ipam" / net
    return [p.name for p in d.iterdir() if p.name[0].isdigit()] if d.is_dir() else []


def test_killed_container_releases_its_network(cli: Cli, bb: str, unique_name: Any) -> None:
    net = unique_name("n")
    assert cli("network", "create", net).code == 0
    # 1. the container dies by SIGKILL: its monitor records the exit and releases
    info = web(cli, bb, "k1", "--network", net)
    assert len(_leases(cli, net)) == 1
    os.kill(info["State"]["Pid"], signal.SIGKILL)
    sandbox = Path(info["NetworkSettings"]["SandboxKey"])
    deadline = time.monotonic() + 10
    while sandbox.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _leases(cli, net) == []
    assert not sandbox.exists()
    # 2. monitor and container both killed: the next command that looks releases it
    info = web(cli, bb, "k2", "--network", net)
    run_dir = cli.run_root / "default" / "containers" / info["Id"]
    monitor = int((run_dir / "monitor.pid").read_text().split()[0])
    os.kill(monitor, signal.SIGKILL)
    os.kill(info["State"]["Pid"], signal.SIGKILL)
    time.sleep(0.2)
    assert len(_leases(cli, net)) == 1  # nobody noticed yet
    r = cli("ps", "-a", "--format", "{{.Names}} {{.Status}}")
    assert "k2 Exited (255)" in r.out
    assert _leases(cli, net) == []
    assert not Path(info["NetworkSettings"]["SandboxKey"]).exists()
    veth = subprocess.run(["ip", "-o", "link", "show", "master", _bridge(cli, net)],
                          capture_output=True, text=True).stdout  # fmt: skip
    assert veth == ""
    assert cli("network", "rm", net).code == 0


def _bridge(cli: Cli, net: str) -> str:
    conf = json.loads((cli.netconf / f"pynerd-{net}.conflist").read_text())
    return str(conf["plugins"][0]["bridge"])


def test_stop_and_start_again(cli: Cli, bb: str, unique_name: Any) -> None:
    net = unique_name("n")
    assert cli("network", "create", net).code == 0
    web(cli, bb, "cs", "--network", net)
    assert cli("stop", "-t", "0", "cs").code == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the monitor releases right after the exit
        stopped = inspect(cli, "cs")["NetworkSettings"]["Networks"][net]
        if stopped["IPAddress"] == "":
            break
        time.sleep(0.05)
    assert stopped["IPAddress"] == "" and stopped["NetworkID"]
    assert _leases(cli, net) == []
    assert cli("start", "cs").code == 0
    assert sh(cli, bb, "wget -qO- http://cs/", "--network", net).out == INDEX
    assert cli("restart", "-t", "0", "cs").code == 0
    assert sh(cli, bb, "wget -qO- http://cs/", "--network", net).out == INDEX


def test_network_commands(cli: Cli, bb: str, unique_name: Any) -> None:
    net = unique_name("n")
    r = cli("network", "create", "--label", "team=blue", "--subnet", "10.232.5.0/24",
            "--gateway", "10.232.5.254", "--ip-range", "10.232.5.128/25", net)  # fmt: skip
    assert r.code == 0, r.err
    nid = r.out.strip()
    assert len(nid) == 64
    ls = cli("network", "ls").out.splitlines()
    assert ls[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert [ln.split()[1] for ln in ls[1:]] == sorted(["bridge", "host", "none", net])
    assert cli("network", "ls", "-q", "--filter", "label=team=blue").out == nid[:12] + "\n"
    assert cli("network", "ls", "--filter", "type=custom", "--format", "{{.Name}}").out == (
        net + "\n"
    )
    (doc,) = json.loads(cli("network", "inspect", net).out)
    assert doc["Id"] == nid and doc["Driver"] == "bridge" and doc["Labels"] == {"team": "blue"}
    assert doc["IPAM"]["Config"] == [
        {"Subnet": "10.232.5.0/24", "Gateway": "10.232.5.254", "IPRange": "10.232.5.128/25"}
    ]
    info = web(cli, bb, "cx", "--network", net)
    ip = info["NetworkSettings"]["Networks"][net]["IPAddress"]
    assert int(ip.split(".")[-1]) >= 128
    assert info["NetworkSettings"]["Networks"][net]["Gateway"] == "10.232.5.254"
    # errors: Docker's words
    r = cli("network", "create", net)
    assert r.code != 0 and r.err == f"Error: network with name {net} already exists\n"
    r = cli("network", "create", "--subnet", "10.232.5.0/25", unique_name("n"))
    assert r.code != 0 and "overlaps" in r.err
    r = cli("network", "inspect", "nosuchnet")
    assert r.code != 0 and r.err == "Error: network nosuchnet not found\n"
    r = cli.proc("run", "--rm", "--network", "nosuchnet", bb, "true")
    assert (r.code, r.err) == (125, "Error: network nosuchnet not found\n")
    r = cli("network", "rm", "bridge")
    assert r.code != 0 and "pre-defined network" in r.err
    r = cli.proc("run", "--rm", "--network-alias", "x", bb, "true")
    assert r.code == 125 and "user defined networks" in r.err
    # prune keeps what is in use and removes the rest
    spare = unique_name("n")
    assert cli("network", "create", spare).code == 0
    r = cli("network", "prune", "-f")
    assert r.out == f"Deleted Networks:\n{spare}\n\n"
    assert cli("rm", "-f", "cx").code == 0
    bridge = _bridge(cli, net)
    assert cli("network", "rm", net).out == net + "\n"
    assert not Path("/sys/class/net", bridge).exists()
    assert (
        f"pynerd:{bridge}"
        not in subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    )


def test_macvlan_on_a_local_parent(cli: Cli, bb: str, unique_name: Any) -> None:
    # a veth pair as the parent: the kernel here has no dummy driver; nothing leaves it
    parent = unique_name("vp")
    subprocess.run(
        ["ip", "link", "add", parent, "type", "veth", "peer", "name", parent + "x"], check=True
    )
    try:
        subprocess.run(["ip", "link", "set", parent, "up"], check=True)
        net = unique_name("n")
        r = cli("network", "create", "-d", "macvlan", "-o", f"parent={parent}",
                "--subnet", "10.233.9.0/24", net)  # fmt: skip
        assert r.code == 0, r.err
        r = sh(cli, bb, "ip -o -4 addr show eth0", "--network", net)
        assert r.code == 0 and "10.233.9." in r.out, r.err
        assert json.loads(cli("network", "inspect", net).out)[0]["Driver"] == "macvlan"
    finally:
        subprocess.run(["ip", "link", "del", parent], check=False)


def test_system_prune_removes_unused_networks(cli: Cli, bb: str, unique_name: Any) -> None:
    used, unused = unique_name("n"), unique_name("n")
    assert cli("network", "create", used).code == 0
    assert cli("network", "create", unused).code == 0
    web(cli, bb, "keeper", "--network", used)
    r = cli("system", "prune", "-f")
    assert r.code == 0, r.err
    assert f"Deleted Networks:\n{unused}\n\n" in r.out
    names = cli("network", "ls", "--format", "{{.Name}}").out.split()
    assert used in names and unused not in names and "bridge" in names


def test_teardown_after_the_exit_code(cli: Cli, bb: str) -> None:
    """`run` returns before its cleanup ends, yet nothing a script does next can tell."""
    port = free_port()
    for _ in range(3):  # name and port are free again the moment run returns
        r = cli.proc("run", "--rm", "--name", "again", "-p", f"{port}:80", bb, "true")
        assert r.code == 0, r.err
    r = cli.proc("run", "--rm", "-v", "/scratch", bb, "sh", "-c", "exit 3")
    assert r.code == 3
    # the next listing waits for the deferred teardown: nothing is left
    assert cli("ps", "-aq").out == ""
    assert cli("volume", "ls", "-q").out == ""
    assert list((cli.data_root / "network" / "endpoints").glob("*.json")) == []
    assert not any((cli.run_root / "netns").glob("*"))
    # without --rm the container stays, its sandbox is released all the same
    r = cli.proc("run", "--name", "kept", "-p", f"{port}:80", bb, "true")
    assert r.code == 0, r.err
    info = inspect(cli, "kept")
    assert info["State"]["Status"] == "exited"
    assert info["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == ""
    assert info["NetworkSettings"]["Ports"] == {}
    r = cli.proc("run", "--rm", "-p", f"{port}:80", bb, "true")
    assert r.code == 0, r.err


def test_mac_dns_hostname_and_extra_hosts(cli: Cli, bb: str) -> None:
    r = sh(
        cli,
        bb,
        "cat /etc/hosts /etc/resolv.conf; cat /sys/class/net/eth0/address; hostname",
        "--add-host", "gw:host-gateway", "--add-host", "db=10.9.8.7",
        "--dns", "10.0.0.53", "--dns-search", "example.test",
        "--mac-address", "02:42:ac:11:00:99", "-h", "box.example.test",
    )  # fmt: skip
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    gateway = json.loads(cli("network", "inspect", "bridge").out)[0]["IPAM"]["Config"][0]
    assert f"{gateway['Gateway']}\tgw" in lines  # Docker: the default bridge's gateway
    assert "10.9.8.7\tdb" in lines
    assert "nameserver 10.0.0.53" in lines and "search example.test" in lines
    assert "02:42:ac:11:00:99" in lines and lines[-1] == "box.example.test"
    own = [ln for ln in lines if ln.endswith("\tbox.example.test box")]
    assert len(own) == 1 and own[0].startswith(gateway["Subnet"].rsplit(".", 1)[0])
