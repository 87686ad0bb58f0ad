"""pull / images / inspect / tag / rmi / push / prune against the real test registry."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pynerd.config import Config
from pynerd.content.store import ContentStore
from pynerd.images import manifest as mf
from tests.cli import Cli

pytestmark = pytest.mark.integration


def cfg_of(cli: Cli, snapshotter: str = "overlayfs") -> Config:
    return Config(data_root=cli.data_root, run_root=cli.run_root, snapshotter=snapshotter)


@contextmanager
def mounted_image(cli: Cli, name: str, snapshotter: str = "overlayfs") -> Iterator[Path]:
    """The image's merged root file system, read-only, at a temp mount point."""
    from pynerd.images.view import ImageCatalog
    from pynerd.snapshots import get_snapshotter
    from pynerd.snapshots.mount import mount_all, unmount

    cfg = cfg_of(cli, snapshotter)
    view = ImageCatalog(cfg).view(name)
    chain = mf.chain_ids(mf.config_diff_ids(view.config))[-1]
    snap = get_snapshotter(snapshotter, cfg.data_root / "snapshots" / snapshotter)
    key = f"test-view-{os.getpid()}-{threading.get_ident()}"
    mounts = snap.view(key, chain)
    target = cli.data_root.parent / "mnt"
    target.mkdir(exist_ok=True)
    mount_all(mounts, target)
    try:
        yield target
    finally:
        unmount(target)
        snap.remove(key)


def test_pull_unpacks_and_lists_busybox(cli: Cli, busybox_image) -> None:  # type: ignore[no-untyped-def]
    r = cli("pull", busybox_image.ref)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == "latest: Pulling from busybox"
    assert f"Digest: {busybox_image.manifest_digest}" in lines
    assert lines[-2] == f"Status: Downloaded newer image for {busybox_image.ref}"
    assert lines[-1] == busybox_image.ref
    r = cli("images")
    header, row = r.out.splitlines()
    assert header.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    repo = busybox_image.ref.rsplit(":", 1)[0]
    assert row.split()[:3] == [repo, "latest", busybox_image.config_digest[7:19]]
    with mounted_image(cli, busybox_image.ref) as root:
        assert (root / "bin" / "busybox").stat().st_size > 100_000
        assert os.readlink(root / "bin" / "sh") == "busybox"
        assert b"root:x:0:0" in (root / "etc" / "passwd").read_bytes()
    # again: nothing to download
    r = cli("pull", busybox_image.ref)
    assert f"Status: Image is up to date for {busybox_image.ref}" in r.out


def test_inspect_has_dockers_shape(cli: Cli, busybox_image) -> None:  # type: ignore[no-untyped-def]
    assert cli("pull", "-q", busybox_image.ref).out == busybox_image.ref + "\n"
    r = cli("image", "inspect", busybox_image.ref)
    assert r.code == 0, r.err
    (obj,) = json.loads(r.out)
    assert obj["Id"] == busybox_image.config_digest
    assert obj["RepoTags"] == [busybox_image.ref]
    assert obj["RepoDigests"] == [busybox_image.digest_ref]
    assert obj["Config"]["Cmd"] == ["sh"]
    assert obj["RootFS"] == {
        "Type": "layers",
        "Layers": [la.diff_id for la in busybox_image.layers],
    }
    assert obj["Os"] == "linux" and obj["Size"] > 100_000
    assert cli("inspect", "--format", "{{.Id}}", busybox_image.ref).out.strip() == obj["Id"]
    assert cli("inspect", "-f", "{{json .Config.Cmd}}", obj["Id"][7:15]).out == '["sh"]\n'
    r = cli("image", "inspect", "nosuch:tag")
    assert (r.code, r.out, r.err) == (1, "[]\n", "Error: No such image: nosuch:tag\n")
    r = cli("inspect", "nosuch")
    assert r.err == "Error: No such object: nosuch\n"


def test_whiteouts_and_metadata_survive_unpack(cli: Cli, multilayer_image) -> None:  # type: ignore[no-untyped-def]
    for snapshotter in ("overlayfs", "native"):
        r = cli("--snapshotter", snapshotter, "pull", multilayer_image.ref)
        assert r.code == 0, r.err
        with mounted_image(cli, multilayer_image.ref, snapshotter) as root:
            for path, entry in multilayer_image.expected_tree.items():
                p = root / path.lstrip("/")
                st = os.lstat(p)
                if entry.kind == "dir":
                    assert stat.S_ISDIR(st.st_mode), path
                elif entry.kind == "symlink":
                    assert os.readlink(p) == entry.link, path
                elif entry.kind in ("file", "hardlink"):
                    assert p.read_bytes() == entry.data, path
                if entry.kind != "symlink":
                    assert stat.S_IMODE(st.st_mode) == entry.mode, path
                    assert (st.st_uid, st.st_gid) == (entry.uid, entry.gid), path
            for gone in ("data/a", "opt/gone/g", "data/dir"):
                assert not os.path.lexists(root / gone), (snapshotter, gone)


def test_oci_manifest_and_multiplatform_index(
    cli: Cli, multilayer_image, multiplatform_image
) -> None:  # type: ignore[no-untyped-def]
    assert cli("pull", multilayer_image.variants["oci"].ref).code == 0
    r = cli("pull", "--platform", "linux/arm64", multiplatform_image.ref)
    assert r.code == 0, r.err
    arm = multiplatform_image.for_platform("linux/arm64/v8")
    out = cli("image", "inspect", "-f", "{{.Id}} {{.Architecture}}", multiplatform_image.ref).out
    assert out == f"{arm.config_digest} arm64\n"
    # the index itself is what the name points to
    digests = json.loads(cli("image", "inspect", multiplatform_image.ref).out)[0]["RepoDigests"]
    assert digests == [f"{multiplatform_image.ref.rsplit(':', 1)[0]}@{multiplatform_image.digest}"]
    r = cli("pull", "--platform", "windows/amd64", multiplatform_image.ref)
    assert r.code == 1 and "no matching manifest for windows/amd64" in r.err


def test_all_platforms_fetches_every_blob(cli: Cli, multiplatform_image) -> None:  # type: ignore[no-untyped-def]
    assert cli("pull", "--all-platforms", multiplatform_image.ref).code == 0
    content = ContentStore(cli.data_root / "content")
    for image in multiplatform_image.images:
        assert content.exists(image.manifest_digest)
        assert all(content.exists(la.digest) for la in image.layers)


def test_bad_references_and_missing_images(cli: Cli, registry) -> None:  # type: ignore[no-untyped-def]
    r = cli("pull", "Busybox")
    assert r.code == 1 and r.err.startswith("Error: invalid reference format")
    r = cli("pull", f"{registry.host}/busybox:nosuchtag")
    assert r.code == 1 and "nosuchtag" in r.err and r.err.count("\n") == 1
    r = cli("pull", "127.0.0.1:1/x:y")
    assert r.code == 1 and "127.0.0.1:1" in r.err and r.err.count("\n") == 1


def test_tag_rmi_and_prune(cli: Cli, busybox_image) -> None:  # type: ignore[no-untyped-def]
    assert cli("pull", "-q", busybox_image.ref).code == 0
    assert cli("tag", busybox_image.ref, "mine:v1").code == 0
    ids = cli("images", "-q").out.splitlines()
    assert ids == [busybox_image.config_digest[7:19]]  # one image, two names
    assert sorted(cli("images", "--format", "{{.Repository}}:{{.Tag}}").out.split()) == sorted(
        ["mine:v1", busybox_image.ref]
    )
    r = cli("rmi", busybox_image.config_digest[7:19])
    assert r.code == 1 and "must be forced" in r.err
    r = cli("rmi", "mine:v1")
    assert r.out.startswith("Untagged: mine:v1\n") and "Deleted" not in r.out
    content = ContentStore(cli.data_root / "content")
    assert content.exists(busybox_image.layers[0].digest)
    r = cli("rmi", busybox_image.ref, "nosuch")
    assert r.code == 1
    assert f"Deleted: {busybox_image.config_digest}" in r.out
    assert r.err == "Error: No such image: nosuch:latest\n"
    assert not content.exists(busybox_image.layers[0].digest)  # garbage collected
    assert cli("images", "-q").out == ""
    snaps = cli.data_root / "snapshots" / "overlayfs"
    from pynerd.snapshots import get_snapshotter

    assert get_snapshotter("overlayfs", snaps).walk() == []


def test_image_prune_all(cli: Cli, busybox_image) -> None:  # type: ignore[no-untyped-def]
    assert cli("pull", "-q", busybox_image.ref).code == 0
    r = cli.proc("image", "prune", "-a", input="n\n")
    assert "Are you sure" in r.out and cli("images", "-q").out != ""
    r = cli("image", "prune", "-a", "-f")
    assert r.code == 0 and f"deleted: {busybox_image.config_digest}" in r.out
    assert "Total reclaimed space:" in r.out
    assert cli("images", "-q").out == ""


def test_push_to_a_new_repository_and_pull_back(
    cli: Cli, busybox_image, registry, unique_name
) -> None:  # type: ignore[no-untyped-def]
    assert cli("pull", "-q", busybox_image.ref).code == 0
    target = f"{registry.host}/{unique_name()}:v1"
    assert cli("tag", busybox_image.ref, target).code == 0
    r = cli("push", target)
    assert r.code == 0, r.err
    assert f"The push refers to repository [{target.rsplit(':', 1)[0]}]" in r.out
    assert f"v1: digest: {busybox_image.manifest_digest}" in r.out
    again = cli("push", target)
    assert "Layer already exists" in again.out
    # an independent reader sees it
    out = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{target}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out)["Digest"] == busybox_image.manifest_digest


def test_concurrent_pulls_fetch_each_blob_once_and_agree(tmp_path: Path, large_image) -> None:  # type: ignore[no-untyped-def]
    cli = Cli(tmp_path / "data", tmp_path / "run")
    procs = [
        subprocess.Popen(
            [*_pynerd(cli), "pull", "-q", large_image.ref],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert cli("images", "-q").out == large_image.config_digest[7:19] + "\n"
    content = ContentStore(cli.data_root / "content")
    assert all(content.exists(la.digest) for la in large_image.layers)
    assert not any((cli.data_root / "content" / "ingest").glob("*/data"))


def _pynerd(cli: Cli) -> list[str]:
    from tests.cli import PYNERD

    return [PYNERD, "--data-root", str(cli.data_root), "--run-root", str(cli.run_root)]


def test_interrupted_pull_resumes(cli: Cli, large_image) -> None:  # type: ignore[no-untyped-def]
    import signal
    import time

    p = subprocess.Popen(
        [*_pynerd(cli), "pull", "-q", large_image.ref],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ingest = cli.data_root / "content" / "ingest"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        partial = [f for f in ingest.glob("*/data") if f.stat().st_size > 1_000_000]
        if partial:
            break
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert partial, "the pull finished before it could be interrupted"
    r = cli("pull", large_image.ref)
    assert r.code == 0, r.err
    assert cli("images", "-q").out == large_image.config_digest[7:19] + "\n"
