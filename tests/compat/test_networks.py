"""Networks and published ports through python-on-whales."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Callable

import pytest
from python_on_whales import DockerClient, Network
from python_on_whales.exceptions import NoSuchNetwork

from tests.rig.images import BuiltImage

pytestmark = pytest.mark.integration

HTTPD = ["httpd", "-f", "-p", "80", "-h", "/var/www"]  # the rig's busybox serves /var/www


@pytest.fixture
def bb(docker: DockerClient, busybox_image: BuiltImage) -> str:
    docker.image.pull(busybox_image.ref, quiet=True)
    return busybox_image.ref


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(port: int) -> bytes:
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                return r.read()  # type: ignore[no-any-return]
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_network_create_inspect_list_remove(
    docker: DockerClient, unique_name: Callable[..., str]
) -> None:
    name = unique_name("cn")
    net = docker.network.create(name, labels={"team": "a"})
    assert isinstance(net, Network) and net.name == name and len(net.id) == 64
    assert net.driver == "bridge" and net.labels == {"team": "a"}
    assert net.ipam.config and "Subnet" in net.ipam.config[0]
    assert docker.network.inspect(name) == net
    assert net in docker.network.list()
    assert docker.network.list(filters=[("label", "team=a")]) == [net]
    assert docker.network.list(filters=[("name", name)]) == [net]
    assert docker.network.exists(name) and net.exists()
    docker.network.remove(net)
    assert not docker.network.exists(name)


def test_network_context_manager_and_errors(
    docker: DockerClient, unique_name: Callable[..., str]
) -> None:
    name = unique_name("cn")
    with docker.network.create(name) as net:
        assert net.exists()
    assert not docker.network.exists(name)
    with pytest.raises(NoSuchNetwork):
        docker.network.inspect("nosuchnet")
    with pytest.raises(NoSuchNetwork):
        docker.network.remove("nosuchnet")


def test_containers_on_a_network_connect_and_disconnect(
    docker: DockerClient, bb: str, unique_name: Callable[..., str]
) -> None:
    with docker.network.create(unique_name("cn")) as net:
        subnet = net.ipam.config[0]["Subnet"]  # e.g. 10.4.3.0/24
        out = docker.run(
            bb, ["ip", "-4", "-o", "addr", "show", "eth0"], networks=[net], remove=True
        )
        assert f" {subnet.rsplit('.', 1)[0]}." in out
        c = docker.run(bb, ["sleep", "60"], detach=True, networks=[net])
        assert list(c.network_settings.networks) == [net.name]
        docker.network.disconnect(net, c)
        assert list(c.network_settings.networks) == []
        docker.network.connect(net, c, alias="db")
        assert list(c.network_settings.networks) == [net.name]
        assert "db" in (c.network_settings.networks[net.name].aliases or [])
        c.remove(force=True)


def test_published_ports(docker: DockerClient, bb: str) -> None:
    port = free_port()
    web = docker.run(bb, HTTPD, detach=True, publish=[(f"127.0.0.1:{port}", 80)])
    assert web.network_settings.ports == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
    }
    assert b"busybox" in fetch(port)
    anywhere = docker.run(bb, HTTPD, detach=True, publish=[(80,)])
    (binding,) = anywhere.network_settings.ports["80/tcp"]
    assert b"busybox" in fetch(int(binding["HostPort"]))
    docker.container.remove([web, anywhere], force=True)
