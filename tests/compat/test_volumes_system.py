"""Volumes, `system info` and `version` through python-on-whales."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from python_on_whales import DockerClient, Volume
from python_on_whales.exceptions import NoSuchVolume

pytestmark = pytest.mark.integration


def test_volume_create_inspect_list_remove(docker: DockerClient) -> None:
    v = docker.volume.create("cache", labels={"team": "a", "tier": "db"})
    assert isinstance(v, Volume) and v.name == "cache"
    assert v.driver == "local" and v.scope == "local"
    assert v.labels == {"team": "a", "tier": "db"}
    assert isinstance(v.mountpoint, Path) and v.mountpoint.is_dir()
    assert abs((datetime.now(UTC) - v.created_at).total_seconds()) < 120
    anon = docker.volume.create()
    assert re.fullmatch(r"[0-9a-f]{64}", anon.name)
    assert sorted(docker.volume.list(), key=lambda x: x.name) == sorted(
        [v, anon], key=lambda x: x.name
    )
    assert docker.volume.list(filters=[("label", "team=a")]) == [v]
    assert docker.volume.list(filters=[("label", "team")]) == [v]
    assert docker.volume.list(filters=[("name", "cach")]) == [v]
    assert docker.volume.list(filters=[("label", "team=b")]) == []
    assert set(docker.volume.list(filters=[("dangling", "true")])) == {v, anon}
    assert docker.volume.inspect("cache") == v
    assert docker.volume.inspect(["cache", anon.name]) == [v, anon]
    assert docker.volume.exists("cache") and v.exists()
    docker.volume.remove([v, anon])
    assert not docker.volume.exists("cache")
    assert docker.volume.list() == []


def test_volume_context_manager(docker: DockerClient) -> None:
    with docker.volume.create("scratch") as v:
        assert v.exists()
    assert not docker.volume.exists("scratch")


def test_volume_prune(docker: DockerClient) -> None:
    docker.volume.create("unused")
    docker.volume.prune(all=True)
    assert docker.volume.list() == []


def test_volume_errors_are_classified(docker: DockerClient) -> None:
    assert not docker.volume.exists("nosuch")
    with pytest.raises(NoSuchVolume):
        docker.volume.inspect("nosuch")
    with pytest.raises(NoSuchVolume):
        docker.volume.remove("nosuch")


def test_version_has_client_and_server(docker: DockerClient) -> None:
    v = docker.version()
    assert v.client is not None and v.server is not None
    assert v.client.version and v.server.version
    assert v.client.api_version and v.server.api_version
    assert v.client.os == "linux" and v.server.os == "linux"


def test_system_info(docker: DockerClient, busybox_image) -> None:  # type: ignore[no-untyped-def]
    docker.image.pull(busybox_image.ref, quiet=True)
    info = docker.system.info()
    assert info.images == 1 and info.containers == 0
    assert info.os_type == "linux" and info.n_cpu and info.n_cpu >= 1
    assert info.server_version
    c = docker.run(busybox_image.ref, ["sleep", "60"], detach=True)
    info = docker.info()
    assert (info.containers, info.containers_running) == (1, 1)
    c.remove(force=True)
