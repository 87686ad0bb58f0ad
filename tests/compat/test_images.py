"""Images through python-on-whales: pull, inspect, list, tag, remove, save, load, push."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from python_on_whales import DockerClient, Image
from python_on_whales.exceptions import DockerException, NoSuchImage

from tests.rig.images import BuiltImage
from tests.rig.registry import Registry

pytestmark = pytest.mark.integration


def test_pull_inspect_and_list(docker: DockerClient, busybox_image: BuiltImage) -> None:
    img = docker.image.pull(busybox_image.ref, quiet=True)
    assert isinstance(img, Image)
    assert img.id == busybox_image.config_digest
    assert img.repo_tags == [busybox_image.ref]
    assert img.repo_digests == [busybox_image.digest_ref]
    assert img.config.cmd == ["sh"]
    assert img.created.isoformat() == "2023-11-14T22:13:20+00:00"
    assert img.os == "linux" and img.architecture
    assert img.size > 0
    assert img.root_fs.type == "layers" and len(img.root_fs.layers) == 1
    # images -q --no-trunc prints the IDs inspect reports
    assert docker.image.list() == [img]
    assert docker.image.list(busybox_image.ref) == [img]
    assert docker.image.list(filters=[("reference", "nosuch*")]) == []
    assert docker.image.exists(busybox_image.ref) and img.exists()


def test_tag_and_remove(docker: DockerClient, busybox_image: BuiltImage) -> None:
    img = docker.image.pull(busybox_image.ref, quiet=True)
    docker.image.tag(img, "local/copy:v1")
    img.tag("local/copy:v2")
    img.reload()
    assert sorted(img.repo_tags) == sorted([busybox_image.ref, "local/copy:v1", "local/copy:v2"])
    assert docker.image.inspect("local/copy:v1") == img
    docker.image.remove(["local/copy:v1", "local/copy:v2"])
    assert not docker.image.exists("local/copy:v1")
    assert docker.image.exists(busybox_image.ref)
    img.remove(force=True)
    assert docker.image.list() == []


def test_save_and_load_through_a_file_and_a_stream(
    docker: DockerClient, busybox_image: BuiltImage, tmp_path: Path
) -> None:
    img = docker.image.pull(busybox_image.ref, quiet=True)
    archive = tmp_path / "bb.tar"
    docker.image.save(busybox_image.ref, output=archive)
    streamed = b"".join(docker.image.save(busybox_image.ref))
    assert archive.stat().st_size > 0 and len(streamed) == archive.stat().st_size
    img.remove(force=True)
    assert docker.image.load(archive, quiet=True) == [busybox_image.ref]
    assert docker.image.inspect(busybox_image.ref).id == img.id
    img.remove(force=True)
    assert docker.image.load(streamed) == [busybox_image.ref]
    assert docker.image.exists(busybox_image.ref)


def test_push_to_the_test_registry(
    docker: DockerClient, busybox_image: BuiltImage, registry: Registry, unique_name
) -> None:  # type: ignore[no-untyped-def]
    docker.image.pull(busybox_image.ref, quiet=True)
    target = f"{registry.host}/compat/{unique_name()}:pushed"
    docker.image.tag(busybox_image.ref, target)
    docker.image.push(target, quiet=True)
    docker.image.remove(target)
    pulled = docker.image.pull(target, quiet=True)
    assert pulled.id == busybox_image.config_digest
    assert any(
        re.fullmatch(rf"{re.escape(target.rsplit(':', 1)[0])}@sha256:[0-9a-f]{{64}}", d)
        for d in pulled.repo_digests
    )


def test_errors_are_classified(docker: DockerClient) -> None:
    assert not docker.image.exists("nosuch:latest")
    with pytest.raises(NoSuchImage):
        docker.image.inspect("nosuch:latest")
    with pytest.raises(NoSuchImage):
        docker.image.remove("nosuch:latest")
    with pytest.raises(NoSuchImage):
        docker.image.tag("nosuch:latest", "other:latest")
    with pytest.raises(DockerException):
        docker.image.pull("127.0.0.1:1/nosuch:latest", quiet=True)
