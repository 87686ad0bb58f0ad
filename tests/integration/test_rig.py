"""Tests of the session test rig itself, checked with independent readers where possible.

skopeo (containers/image) reads what our push client wrote, so a bug in the rig's
manifests cannot silently agree with the same bug in pynerd's puller.
"""

from __future__ import annotations

import gzip
import io
import json
import secrets
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.rig import leaks
from tests.rig.images import MT_OCI_LAYER, BuiltImage, BuiltIndex, host_platform
from tests.rig.registry import (
    MT_DOCKER_LIST,
    MT_DOCKER_MANIFEST,
    MT_OCI_INDEX,
    MT_OCI_MANIFEST,
    Registry,
    sha256_digest,
)

pytestmark = pytest.mark.integration


def skopeo(*args: str) -> Any:
    res = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def layer_names(reg: Registry, repo: str, digest: str) -> list[str]:
    blob = reg.get_blob(repo, digest)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tar:
        return tar.getnames()


def test_registry_answers_v2(registry: Registry) -> None:
    r = registry.session.get(f"{registry.url}/v2/", timeout=5)
    assert r.status_code == 200
    assert r.headers.get("Docker-Distribution-API-Version") == "registry/2.0"


def test_busybox_seen_by_skopeo(busybox_image: BuiltImage) -> None:
    ref = f"docker://{busybox_image.ref}"
    info = skopeo("inspect", "--tls-verify=false", ref)
    assert info["Architecture"] == host_platform().architecture
    assert info["Os"] == "linux"
    assert info["Digest"] == busybox_image.manifest_digest
    assert info["Layers"] == [busybox_image.layers[0].digest]
    config = skopeo("inspect", "--tls-verify=false", "--config", ref)
    assert config["config"]["Cmd"] == ["sh"]
    assert config["rootfs"]["diff_ids"] == [sha256_digest(busybox_image.rootfs_tar or b"")]


def test_busybox_rootfs_tar(busybox_image: BuiltImage) -> None:
    assert busybox_image.rootfs_tar is not None
    with tarfile.open(fileobj=io.BytesIO(busybox_image.rootfs_tar)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        passwd = tar.extractfile("etc/passwd")
        assert passwd is not None and b"root:x:0:0:root:/root:/bin/sh" in passwd.read()
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "busybox"
    assert members["bin/busybox"].isreg() and members["bin/busybox"].mode == 0o755
    assert members["tmp"].mode == 0o1777
    assert len([n for n in members if n.startswith("bin/")]) > 100


def test_builds_are_deterministic(registry: Registry, busybox_image: BuiltImage) -> None:
    from tests.rig import images

    again = images.build_busybox(registry, repo="busybox-again")
    assert again.manifest_digest == busybox_image.manifest_digest


def test_multiplatform_index_lists_three_platforms(multiplatform_image: BuiltIndex) -> None:
    raw = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{multiplatform_image.ref}")
    assert raw["mediaType"] == MT_OCI_INDEX
    plats = {
        "/".join(
            filter(
                None,
                (m["platform"]["os"], m["platform"]["architecture"], m["platform"].get("variant")),
            )
        )
        for m in raw["manifests"]
    }
    assert plats == {"linux/amd64", "linux/arm64/v8", "linux/arm/v7"}
    assert all(m["mediaType"] == MT_OCI_MANIFEST for m in raw["manifests"])

    docker = multiplatform_image.variants["docker"]
    raw = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{docker.ref}")
    assert raw["mediaType"] == MT_DOCKER_LIST
    assert len(raw["manifests"]) == 3
    assert all(m["mediaType"] == MT_DOCKER_MANIFEST for m in raw["manifests"])


def test_multiplatform_resolves_host_child(multiplatform_image: BuiltIndex) -> None:
    # Without --raw skopeo picks the host's platform from the index, like a pull does.
    info = skopeo("inspect", "--tls-verify=false", f"docker://{multiplatform_image.ref}")
    child = multiplatform_image.for_platform(host_platform())
    assert info["Architecture"] == host_platform().architecture
    assert info["Layers"] == [layer.digest for layer in child.layers]
    assert len(child.layers) == 2  # busybox + platform.txt: it can run here


def test_multilayer_layers_and_whiteouts(registry: Registry, multilayer_image: BuiltImage) -> None:
    image = multilayer_image
    info = skopeo("inspect", "--tls-verify=false", f"docker://{image.ref}")
    assert len(info["Layers"]) == len(image.layers) == 4
    names = [layer_names(registry, image.repo, x.digest) for x in image.layers]
    assert "data/.wh.a" in names[2]
    assert "opt/gone/.wh..wh..opq" in names[2]
    assert "data/.wh.dir" in names[3]
    for layer in image.layers:
        blob = registry.get_blob(image.repo, layer.digest)
        assert sha256_digest(gzip.decompress(blob)) == layer.diff_id

    tree = image.expected_tree
    assert "/data/a" not in tree and "/data/dir" not in tree and "/data/dir/x" not in tree
    assert "/opt/gone/g" not in tree and tree["/opt/gone/new"].data == b"november\n"
    assert tree["/opt/keep/k"].data == b"kilo-v2\n"
    assert tree["/usr/local/bin/suidtool"].mode == 0o4755
    assert tree["/home/user/owned"].uid == 1000
    assert tree["/data/fifo"].kind == "fifo"
    assert tree["/bin/sh"].kind == "symlink"


def test_multilayer_oci_variant(multilayer_image: BuiltImage, tmp_path: Path) -> None:
    oci = multilayer_image.variants["oci"]
    raw = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{oci.ref}")
    assert raw["mediaType"] == MT_OCI_MANIFEST
    assert {m["mediaType"] for m in raw["layers"]} == {MT_OCI_LAYER}
    assert [m["digest"] for m in raw["layers"]] == [x.digest for x in multilayer_image.layers]
    # skopeo copy verifies every blob digest on the way.
    res = subprocess.run(
        [
            "skopeo",
            "copy",
            "--src-tls-verify=false",
            "--quiet",
            f"docker://{oci.ref}",
            f"oci:{tmp_path / 'layout'}:x",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr


@pytest.fixture
def netns_name() -> str:
    return f"pn-leaktest-{secrets.token_hex(2)}"


def test_leak_check_sees_netns(netns_name: str) -> None:
    before = leaks.snapshot()
    subprocess.run(["ip", "netns", "add", netns_name], check=True)
    try:
        found = leaks.diff(before, leaks.snapshot())
        assert f"netns {netns_name}" in found
    finally:
        subprocess.run(["ip", "netns", "delete", netns_name], check=True)
    assert f"netns {netns_name}" not in leaks.diff(before, leaks.snapshot())


def test_leak_check_sees_mount(tmp_path: Path) -> None:
    target = tmp_path / "pynerd-leaktest-mnt"
    target.mkdir()
    before = leaks.snapshot()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(target)], check=True)
    try:
        found = leaks.diff(before, leaks.snapshot())
        assert any(str(target) in line for line in found), found
    finally:
        subprocess.run(["umount", str(target)], check=True)
    assert not any(str(target) in line for line in leaks.diff(before, leaks.snapshot()))


def test_leak_check_sees_process() -> None:
    before = leaks.snapshot()
    # The trailing ":" stops sh from exec-ing sleep, so "pynerd-leaktest" ($0) stays in argv.
    proc = subprocess.Popen(["/bin/busybox", "sh", "-c", "sleep 30; :", "pynerd-leaktest"])
    try:
        found = leaks.diff(before, leaks.snapshot())
        assert any(f"process {proc.pid}:" in line for line in found), found
    finally:
        proc.kill()
        proc.wait()
    assert not any(f"process {proc.pid}:" in x for x in leaks.diff(before, leaks.snapshot()))


def test_unique_names_and_roots(
    unique_name: Callable[..., str], data_root: Path, run_root: Path
) -> None:
    a, b = unique_name(), unique_name()
    assert a != b and a.startswith("pn-") and len(a) == 11
    assert data_root.is_dir() and run_root.is_dir() and data_root != run_root
    assert not any(data_root.iterdir())


@pytest.mark.slow
def test_large_image_pushes(large_image: BuiltImage) -> None:
    assert len(large_image.layers) >= 5
    assert 90_000_000 <= large_image.compressed_size <= 110_000_000
    info = skopeo("inspect", "--tls-verify=false", f"docker://{large_image.ref}")
    assert info["Layers"] == [x.digest for x in large_image.layers]
