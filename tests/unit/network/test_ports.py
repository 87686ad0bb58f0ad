"""Published ports: Docker's -p/-P grammar, host-port choice and the in-use check."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from pynerd.errors import Conflict, InvalidArgument
from pynerd.network import ports
from pynerd.network.ports import PortMapping, allocate, format_ps, parse_all, parse_publish

# parse_publish


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("80", [PortMapping(80)]),
        ("80/udp", [PortMapping(80, "udp")]),
        ("8080:80", [PortMapping(80, host_port=8080)]),
        ("8080:80/sctp", [PortMapping(80, "sctp", host_port=8080)]),
        ("127.0.0.1:8080:80", [PortMapping(80, "tcp", "127.0.0.1", 8080)]),
        ("127.0.0.1::80", [PortMapping(80, "tcp", "127.0.0.1", 0)]),  # a random host port
        ("0.0.0.0:8080:80", [PortMapping(80, host_port=8080)]),  # 0.0.0.0 is "every address"
        ("8000-8001:80-81", [PortMapping(80, host_port=8000), PortMapping(81, host_port=8001)]),
        ("80-82", [PortMapping(80), PortMapping(81), PortMapping(82)]),
        # a host range for one container port: the first free one at start
        ("8000-8010:80", [PortMapping(80, host_port=8000, host_port_end=8010)]),
        ("8000-8000:80", [PortMapping(80, host_port=8000)]),
    ],
)
def test_parse_publish(spec: str, expected: list[PortMapping]) -> None:
    assert parse_publish(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("80/icmp", "invalid proto: icmp"),
        ("[::1]:8080:80", "IPv6 host addresses are not supported: [::1]:8080:80"),
        ("1:2:3:4", "invalid port format: 1:2:3:4"),
        ("8080:", "no port specified: 8080:<empty>"),
        ("abc", "invalid containerPort: abc"),
        ("0", "invalid containerPort: 0"),
        ("65536", "invalid containerPort: 65536"),
        ("82-80", "invalid containerPort: 82-80"),
        ("x:80", "invalid hostPort: x"),
        ("99999:80", "invalid hostPort: 99999"),
        ("300.1.1.1:8080:80", "invalid IP address: 300.1.1.1"),
        (
            "8000-8002:80-81",
            "invalid ranges specified for container and host Ports: 80-81 and 8000-8002",
        ),
    ],
)
def test_parse_publish_rejects(spec: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_publish(spec)
    assert str(info.value) == message


def test_parse_all_adds_exposed_ports_for_publish_all_once() -> None:
    got = parse_all(["8080:80"], True, ["80/tcp", "443", "53/udp"])
    assert got == [
        PortMapping(80, host_port=8080),  # -p wins over -P for the same port
        PortMapping(443),
        PortMapping(53, "udp"),
    ]
    assert parse_all(["8080:80"], False, ["443/tcp"]) == [PortMapping(80, host_port=8080)]


# PortMapping


def test_port_mapping_shapes() -> None:
    m = PortMapping(80, "udp", "127.0.0.1", 8080)
    assert m.key == "80/udp"
    assert m.binding() == {"HostIp": "127.0.0.1", "HostPort": "8080"}
    assert PortMapping(80, host_port=8080).binding() == {"HostIp": "0.0.0.0", "HostPort": "8080"}
    assert m.cni() == {
        "hostPort": 8080,
        "containerPort": 80,
        "protocol": "udp",
        "hostIP": "127.0.0.1",
    }
    assert "hostIP" not in PortMapping(80, host_port=8080).cni()  # every address
    assert PortMapping.from_dict(m.to_dict()) == m
    assert PortMapping.from_dict({"ContainerPort": "80", "HostPort": "8080"}) == PortMapping(
        80, host_port=8080
    )


# allocate


@pytest.fixture
def host_free(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every port is bindable on the host: only the registry's mappings count."""
    monkeypatch.setattr(ports, "_bindable", lambda ip, port, proto: None)


def test_allocate_keeps_a_free_fixed_port(host_free: None) -> None:
    want = [PortMapping(80, host_port=8080)]
    assert allocate(want, [], "web") == want


def test_allocate_rejects_a_port_another_container_publishes(host_free: None) -> None:
    taken = [PortMapping(81, host_port=8080)]
    with pytest.raises(Conflict) as info:
        allocate([PortMapping(80, host_port=8080)], taken, "web")
    assert str(info.value) == (
        "driver failed programming external connectivity on endpoint web: "
        "Bind for 0.0.0.0:8080 failed: port is already allocated"
    )


@pytest.mark.parametrize(
    ("wanted", "taken", "clash"),
    [
        (PortMapping(80, "tcp", "127.0.0.1", 8080), PortMapping(80, host_port=8080), True),
        (PortMapping(80, host_port=8080), PortMapping(80, "tcp", "127.0.0.1", 8080), True),
        (
            PortMapping(80, "tcp", "127.0.0.1", 8080),
            PortMapping(80, "tcp", "127.0.0.2", 8080),
            False,
        ),
        (PortMapping(80, "udp", "", 8080), PortMapping(80, "tcp", "", 8080), False),
        (PortMapping(80, "tcp", "", 8080), PortMapping(80, "tcp", "", 8081), False),
    ],
)
def test_allocate_overlap_rules(
    host_free: None, wanted: PortMapping, taken: PortMapping, clash: bool
) -> None:
    """Same port and protocol clash when either side listens on every address or both on
    the same one."""
    if clash:
        with pytest.raises(Conflict, match="port is already allocated"):
            allocate([wanted], [taken], "web")
    else:
        assert allocate([wanted], [taken], "web") == [wanted]


def test_allocate_checks_the_request_against_itself(host_free: None) -> None:
    with pytest.raises(Conflict, match=r"Bind for 0.0.0.0:8080 failed: port is already allocated"):
        allocate([PortMapping(80, host_port=8080), PortMapping(81, host_port=8080)], [], "web")


def test_allocate_a_host_range_takes_the_first_free_port(host_free: None) -> None:
    taken = [PortMapping(1, host_port=8000), PortMapping(2, host_port=8001)]
    got = allocate([PortMapping(80, host_port=8000, host_port_end=8005)], taken, "web")
    assert got == [PortMapping(80, host_port=8002)]  # concrete: no end any more


def test_allocate_a_host_range_with_no_free_port(host_free: None) -> None:
    taken = [PortMapping(1, host_port=8000), PortMapping(2, host_port=8001)]
    with pytest.raises(Conflict, match=r"Bind for 0\.0\.0\.0:8001 failed"):
        allocate([PortMapping(80, host_port=8000, host_port_end=8001)], taken, "web")


def test_allocate_random_port_avoids_the_registrys_ports(
    host_free: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    offers = iter([8080, 8080, 9090])
    asked: list[tuple[str, str]] = []

    def free_port(ip: str, proto: str) -> int:
        asked.append((ip, proto))
        return next(offers)

    monkeypatch.setattr(ports, "_free_port", free_port)
    got = allocate([PortMapping(53, "udp", "127.0.0.1")], [PortMapping(1, "udp", "", 8080)], "w")
    assert got == [PortMapping(53, "udp", "127.0.0.1", 9090)]
    assert asked == [("127.0.0.1", "udp")] * 3


def test_allocate_random_port_gives_up(host_free: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "_free_port", lambda ip, proto: 8080)
    with pytest.raises(Conflict, match="no free host port"):
        allocate([PortMapping(80)], [PortMapping(1, host_port=8080)], "web")


def test_allocate_random_port_for_real() -> None:
    got = allocate([PortMapping(80, "tcp", "127.0.0.1"), PortMapping(53, "udp")], [], "web")
    assert [(m.container_port, m.protocol) for m in got] == [(80, "tcp"), (53, "udp")]
    assert all(0 < m.host_port <= 65535 for m in got)


@pytest.fixture(params=[False, True], ids=["plain", "reuseaddr"])
def listener(request: pytest.FixtureRequest) -> Iterator[socket.socket]:
    """A host process listening on a port of 127.0.0.1 (with or without SO_REUSEADDR)."""
    s = socket.socket()
    if request.param:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen()
    yield s
    s.close()


def test_allocate_rejects_a_port_a_host_process_listens_on(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    with pytest.raises(Conflict) as info:
        allocate([PortMapping(80, "tcp", "127.0.0.1", port)], [], "web")
    assert str(info.value) == (
        "driver failed programming external connectivity on endpoint web: Error starting "
        f"userland proxy: listen tcp4 127.0.0.1:{port}: bind: address already in use"
    )
    # every address includes the loopback one
    with pytest.raises(Conflict, match=f"listen tcp4 0.0.0.0:{port}: bind: address already in use"):
        allocate([PortMapping(80, host_port=port)], [], "web")


def test_allocate_rejects_a_udp_port_in_use() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with pytest.raises(Conflict, match=f"listen udp4 127.0.0.1:{port}: bind: address"):
            allocate([PortMapping(53, "udp", "127.0.0.1", port)], [], "dns")
        # the same number over TCP is another port
        assert allocate([PortMapping(53, "tcp", "127.0.0.1", port)], [], "dns")[0].host_port == port


def test_allocate_host_range_skips_ports_host_processes_hold(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    if port == 65535:
        pytest.skip("no room for a range")
    got = allocate([PortMapping(80, "tcp", "127.0.0.1", port, port + 1)], [], "web")
    assert got == [PortMapping(80, "tcp", "127.0.0.1", port + 1)]


def test_allocate_ignores_connections_in_time_wait() -> None:
    """A port nothing listens on any more is free, even with closed connections lingering
    in TIME_WAIT (Docker's proxy binds with SO_REUSEADDR, as Go's net.Listen does)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = srv.accept()
    conn.close()  # the server side closes first: its end stays in TIME_WAIT
    client.recv(1)
    client.close()
    srv.close()
    assert allocate([PortMapping(80, host_port=port)], [], "web") == [
        PortMapping(80, host_port=port)
    ]


# format_ps


def test_format_ps_orders_by_port_and_shows_unpublished_ports() -> None:
    got = format_ps(
        {
            "443/tcp": None,
            "80/tcp": [
                {"HostIp": "127.0.0.1", "HostPort": "8080"},
                {"HostIp": "0.0.0.0", "HostPort": "8081"},
            ],
            "53/udp": [],
            "1000/tcp": [{"HostIp": "0.0.0.0", "HostPort": "1000"}],
        }
    )
    # Docker's layout: groups first (unpublished, or host port = container port), then
    # the mappings to other host ports
    assert got == (
        "53/udp, 443/tcp, 0.0.0.0:1000->1000/tcp, 0.0.0.0:8081->80/tcp, 127.0.0.1:8080->80/tcp"
    )
    assert format_ps({}) == ""


def test_format_ps_collapses_consecutive_ports_into_ranges() -> None:
    same = {f"{p}/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(p)}] for p in (80, 81, 82, 90)}
    exposed = {"7000/udp": None, "7001/udp": None, "7003/udp": None}
    # as Docker: a range that ends is listed at once, the open ones at the end
    assert format_ps({**same, **exposed}) == (
        "0.0.0.0:80-82->80-82/tcp, 7000-7001/udp, 0.0.0.0:90->90/tcp, 7003/udp"
    )
