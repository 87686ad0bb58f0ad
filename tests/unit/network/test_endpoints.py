"""The endpoint registry and the /etc/hosts files it keeps current."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pynerd.errors import InvalidArgument
from pynerd.network.endpoints import (
    DEFAULT_HOSTS,
    Endpoints,
    extra_host_lines,
    hosts_content,
    render_hosts,
    sync_hosts,
    write_in_place,
)


def test_hosts_content_is_dockers_layout() -> None:
    got = hosts_content(
        "web.example.com",
        ["10.4.1.2", "10.4.2.2"],
        ["db:10.0.0.5", "gw:host-gateway"],
        "10.4.1.1",
        [("10.4.1.3", ["cache", "c1"])],
    )
    assert got == DEFAULT_HOSTS + (
        "10.0.0.5\tdb\n"
        "10.4.1.1\tgw\n"
        "10.4.1.2\tweb.example.com web\n"
        "10.4.2.2\tweb.example.com web\n"
        "10.4.1.3\tcache c1\n"
    )
    assert DEFAULT_HOSTS.startswith("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost")
    assert hosts_content("abc") == DEFAULT_HOSTS


@pytest.mark.parametrize(
    ("entry", "line"),
    [
        ("db:10.0.0.5", "10.0.0.5\tdb\n"),
        ("db=10.0.0.5", "10.0.0.5\tdb\n"),  # Docker 25's form
        ("v6:::1", "::1\tv6\n"),
        ("v6:[fd00::1]", "fd00::1\tv6\n"),
        ("v6=[fd00::1]", "fd00::1\tv6\n"),
        ("gw:host-gateway", "10.4.0.1\tgw\n"),
    ],
)
def test_extra_host_lines(entry: str, line: str) -> None:
    assert extra_host_lines([entry], "10.4.0.1") == line


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("nocolon", "bad format for add-host: 'nocolon'"),
        (":10.0.0.1", "bad format for add-host: ':10.0.0.1'"),
        ("db:", "bad format for add-host: 'db:'"),
        ("db:not-an-ip", "invalid IP address in add-host: 'not-an-ip'"),
        ("gw:host-gateway", "unable to derive the IP value for host-gateway: no network gateway"),
    ],
)
def test_extra_host_lines_rejects(entry: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        extra_host_lines([entry])
    assert str(info.value) == message


# render_hosts / sync_hosts


def ep(
    cid: str,
    name: str,
    nets: dict[str, str],
    hosts: Path | None = None,
    aliases: dict[str, list[str]] | None = None,
    hostname: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An endpoint with ``nets`` mapping network name -> address (gateway .1)."""
    return {
        "Id": cid,
        "Name": name,
        "Hostname": hostname if hostname is not None else cid[:12],
        "HostsPath": str(hosts) if hosts else "",
        "ExtraHosts": [],
        "Networks": {
            n: {
                "IPAddress": ip,
                "Gateway": ip.rsplit(".", 1)[0] + ".1",
                "Aliases": (aliases or {}).get(n),
            }
            for n, ip in nets.items()
        },
        **extra,
    }


def own(e: dict[str, Any]) -> str:
    return "".join(f"{a['IPAddress']}\t{e['Hostname']}\n" for a in e["Networks"].values())


def test_render_hosts_lists_peers_of_user_networks_by_name() -> None:
    a = ep("a" * 64, "web", {"front": "10.5.0.2"})
    b = ep("b" * 64, "db", {"front": "10.5.0.3"}, aliases={"front": ["database", "bbbbbbbbbbbb"]})
    c = ep("c" * 64, "api", {"front": "10.5.0.4"})
    everyone = {e["Id"]: e for e in (a, b, c)}
    assert render_hosts(a, everyone) == DEFAULT_HOSTS + own(a) + (
        # by name; Name, Hostname, then the aliases, each once
        "10.5.0.4\tapi cccccccccccc\n10.5.0.3\tdb bbbbbbbbbbbb database\n"
    )


def test_render_hosts_default_bridge_resolves_no_names() -> None:
    a = ep("a" * 64, "web", {"bridge": "10.4.0.2"})
    b = ep("b" * 64, "db", {"bridge": "10.4.0.3"})
    assert render_hosts(a, {a["Id"]: a, b["Id"]: b}) == DEFAULT_HOSTS + own(a)


def test_render_hosts_only_peers_sharing_a_network() -> None:
    a = ep("a" * 64, "web", {"bridge": "10.4.0.2", "front": "10.5.0.2"})
    b = ep("b" * 64, "db", {"back": "10.6.0.3"})
    c = ep("c" * 64, "api", {"bridge": "10.4.0.4", "front": "10.5.0.4"})
    everyone = {e["Id"]: e for e in (a, b, c)}
    got = render_hosts(a, everyone)
    assert got == DEFAULT_HOSTS + own(a) + "10.5.0.4\tapi cccccccccccc\n"  # front's address
    assert "db" not in got


def test_render_hosts_names_are_not_repeated() -> None:
    """A peer on two shared networks, and a peer whose name is the container's own hostname,
    appear once (the first address wins)."""
    a = ep("a" * 64, "web", {"front": "10.5.0.2", "back": "10.6.0.2"}, hostname="app")
    b = ep("b" * 64, "db", {"front": "10.5.0.3", "back": "10.6.0.3"})
    c = ep("c" * 64, "app", {"back": "10.6.0.9"}, hostname="x")
    got = render_hosts(a, {e["Id"]: e for e in (a, b, c)})
    assert got.count("\tdb ") == 1
    assert "10.5.0.3\tdb bbbbbbbbbbbb\n" in got
    assert "10.6.0.9\tx\n" in got  # "app" is the container's own name: only "x" is new


def test_render_hosts_extra_hosts_and_host_gateway() -> None:
    a = ep("a" * 64, "web", {"front": "10.5.0.2"}, ExtraHosts=["h:host-gateway", "x:1.2.3.4"])
    got = render_hosts(a, {a["Id"]: a})
    assert got == DEFAULT_HOSTS + "10.5.0.1\th\n1.2.3.4\tx\n" + own(a)


def test_write_in_place_keeps_the_inode_and_truncates(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text("a much longer old content\n" * 10)
    inode = os.stat(path).st_ino
    write_in_place(path, "short\n")
    assert path.read_text() == "short\n"
    assert os.stat(path).st_ino == inode
    write_in_place(tmp_path / "gone", "x")  # a container being removed: no error, no file
    assert not (tmp_path / "gone").exists()


def test_sync_hosts_rewrites_the_changed_and_its_user_network_peers(tmp_path: Path) -> None:
    files = {n: tmp_path / n for n in ("a", "b", "c", "d")}
    for f in files.values():
        f.write_text("stale\n")
    a = ep("a" * 64, "web", {"front": "10.5.0.2"}, files["a"])
    b = ep("b" * 64, "db", {"front": "10.5.0.3", "bridge": "10.4.0.3"}, files["b"])
    c = ep("c" * 64, "api", {"bridge": "10.4.0.4"}, files["c"])  # shares only the bridge
    d = ep("d" * 64, "other", {"back": "10.6.0.5"}, files["d"])
    everyone = {e["Id"]: e for e in (a, b, c, d)}
    sync_hosts(everyone, a["Id"], None, a)
    assert files["a"].read_text() == render_hosts(a, everyone)
    assert "10.5.0.2\tweb" in files["b"].read_text()
    assert files["c"].read_text() == "stale\n"
    assert files["d"].read_text() == "stale\n"


# Endpoints


def test_endpoints_update_stores_and_rewrites_peers(tmp_path: Path) -> None:
    reg = Endpoints(tmp_path / "data")
    ha, hb = tmp_path / "ha", tmp_path / "hb"
    ha.write_text("")
    hb.write_text("")
    a = ep("a" * 64, "web", {"front": "10.5.0.2"}, ha)
    b = ep("b" * 64, "db", {"front": "10.5.0.3"}, hb)
    reg.update(a["Id"], a)
    assert ha.read_text() == DEFAULT_HOSTS + own(a)
    reg.update(b["Id"], b)
    assert "10.5.0.3\tdb bbbbbbbbbbbb\n" in ha.read_text()  # a learnt about b
    assert "10.5.0.2\tweb aaaaaaaaaaaa\n" in hb.read_text()
    assert reg.get(a["Id"]) == a
    assert sorted(e["Name"] for e in reg.all()) == ["db", "web"]
    assert [e["Name"] for e in reg.on_network("front")] == ["web", "db"]
    assert reg.on_network("bridge") == []
    # rename: the peers see the new name
    reg.update(b["Id"], {**b, "Name": "store"})
    assert "10.5.0.3\tstore bbbbbbbbbbbb\n" in ha.read_text()
    # drop: the peers forget it
    reg.update(b["Id"], None)
    assert reg.get(b["Id"]) is None
    assert ha.read_text() == DEFAULT_HOSTS + own(a)
    assert (tmp_path / "data" / "network" / "endpoints").is_dir()


def test_endpoints_update_of_a_disconnect_rewrites_the_left_network(tmp_path: Path) -> None:
    reg = Endpoints(tmp_path)
    ha, hb = tmp_path / "ha", tmp_path / "hb"
    ha.write_text("")
    hb.write_text("")
    a = ep("a" * 64, "web", {"front": "10.5.0.2", "back": "10.6.0.2"}, ha)
    b = ep("b" * 64, "db", {"front": "10.5.0.3"}, hb)
    reg.update(a["Id"], a)
    reg.update(b["Id"], b)
    assert "web" in hb.read_text()
    left = {**a, "Networks": {"back": a["Networks"]["back"]}}
    reg.update(a["Id"], left)  # a left "front": b, only on "front", is rewritten too
    assert "web" not in hb.read_text()
    assert ha.read_text() == DEFAULT_HOSTS + "10.6.0.2\taaaaaaaaaaaa\n"
