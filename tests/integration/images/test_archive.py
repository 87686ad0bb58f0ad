"""save / load / import: round trips, independent readers and writers (skopeo), corruption."""

from __future__ import annotations

import gzip
import http.server
import io
import json
import lzma
import os
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from pynerd.config import Config
from pynerd.errors import InvalidArgument
from pynerd.images import manifest as mf
from tests.cli import PYNERD, Cli

integration = pytest.mark.integration


def cfg_of(cli: Cli) -> Config:
    return Config(data_root=cli.data_root, run_root=cli.run_root)


def fresh_cli(tmp_path: Path, name: str) -> Cli:
    return Cli(tmp_path / name / "data", tmp_path / name / "run")


def run_bytes(
    cli: Cli, *args: str, input: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """The CLI as a process with binary stdin/stdout (cli.proc is text-only)."""
    return subprocess.run(
        [PYNERD, *cli.argv(*args)], input=input, capture_output=True, timeout=120, check=False
    )


def skopeo(*args: str) -> str:
    r = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


def inspect(cli: Cli, name: str) -> dict[str, Any]:
    r = cli("image", "inspect", name)
    assert r.code == 0, r.err
    (obj,) = json.loads(r.out)
    return dict(obj)


def records(cli: Cli) -> list[str]:
    bucket = cli.data_root / "namespaces" / "default" / "kv" / "images"
    return sorted(p.name for p in bucket.glob("*.json")) if bucket.exists() else []


@contextmanager
def mounted_image(cli: Cli, name: str) -> Iterator[Path]:
    """The image's unpacked root file system, read-only, at a temp mount point."""
    from pynerd.images.view import ImageCatalog
    from pynerd.snapshots import get_snapshotter
    from pynerd.snapshots.mount import mount_all, unmount

    cfg = cfg_of(cli)
    view = ImageCatalog(cfg).view(name)
    chain = mf.chain_ids(mf.config_diff_ids(view.config))[-1]
    snap = get_snapshotter(cfg.snapshotter, cfg.data_root / "snapshots" / cfg.snapshotter)
    key = f"test-archive-{os.getpid()}-{threading.get_ident()}"
    target = cli.data_root.parent / "mnt"
    target.mkdir(exist_ok=True)
    mount_all(snap.view(key, chain), target)
    try:
        yield target
    finally:
        unmount(target)
        snap.remove(key)


def assert_busybox_tree(cli: Cli, name: str) -> None:
    with mounted_image(cli, name) as root:
        assert (root / "bin" / "busybox").stat().st_size > 100_000
        assert os.readlink(root / "bin" / "sh") == "busybox"
        assert b"root:x:0:0" in (root / "etc" / "passwd").read_bytes()


def no_spool_left(cli: Cli) -> bool:
    tmp = cli.data_root / "tmp"
    return not tmp.exists() or not any(
        p.name.startswith(("load-", "import-")) for p in tmp.iterdir()
    )


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory served over http://127.0.0.1:PORT/ for the test's duration."""
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


# -- no root needed -------------------------------------------------------------------


class _Terminal(io.BytesIO):
    def isatty(self) -> bool:
        return True


def test_save_refuses_to_write_to_a_terminal(tmp_path: Path) -> None:
    from pynerd.images.archive import save

    out = _Terminal()
    with pytest.raises(InvalidArgument) as e:
        save(Config(data_root=tmp_path / "d", run_root=tmp_path / "r"), ["busybox"], out)
    assert e.value.message == (
        "cowardly refusing to save to a terminal. Use the -o flag or redirect"
    )
    assert out.getvalue() == b""


def test_load_refuses_a_terminal_as_input(tmp_path: Path) -> None:
    from pynerd.images.archive import load

    with pytest.raises(InvalidArgument, match="requested load from stdin, but stdin is empty"):
        load(Config(data_root=tmp_path / "d", run_root=tmp_path / "r"), _Terminal())


# -- import ---------------------------------------------------------------------------


@integration
def test_import_from_file_with_changes(cli: Cli, busybox_image, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rootfs = tmp_path / "rootfs.tar"
    rootfs.write_bytes(busybox_image.rootfs_tar)
    r = cli(
        "import", "-c", 'CMD ["sh"]', "-c", "ENV A=b", "-m", "my rootfs", str(rootfs), "imported:v1"
    )
    assert r.code == 0, r.err
    image_id = r.out.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    rows = cli("images", "--format", "{{.Repository}} {{.Tag}} {{.ID}}").out.splitlines()
    assert rows == [f"imported v1 {image_id[7:19]}"]
    obj = inspect(cli, "imported:v1")
    assert obj["Id"] == image_id
    assert obj["Config"]["Cmd"] == ["sh"]
    assert obj["Config"]["Env"] == ["A=b"]
    assert obj["Comment"] == "my rootfs"
    assert obj["RootFS"]["Layers"] == [busybox_image.layers[0].diff_id]
    assert obj["Os"] == "linux" and obj["Architecture"] == busybox_image.platform.architecture
    hist = cli("history", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Comment}}", "imported:v1")
    assert hist.out.splitlines() == [f"{image_id[7:19]}||my rootfs"]
    assert_busybox_tree(cli, "imported:v1")
    assert no_spool_left(cli)


@integration
def test_import_from_stdin_untagged_and_compressed(cli: Cli, busybox_image) -> None:  # type: ignore[no-untyped-def]
    packed = lzma.compress(busybox_image.rootfs_tar)
    p = run_bytes(cli, "import", "--platform", "linux/amd64", "-", input=packed)
    assert p.returncode == 0, p.stderr
    image_id = p.stdout.decode().strip()
    rows = cli("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").out.splitlines()
    assert rows == [f"<none>:<none> {image_id[7:19]}"]
    obj = inspect(cli, image_id)
    assert obj["RepoTags"] == [] and obj["Architecture"] == "amd64"
    assert obj["RootFS"]["Layers"] == [busybox_image.layers[0].diff_id]  # diff ID of the tar
    hist = cli("history", "--format", "{{.Comment}}", image_id)
    assert hist.out == "Imported from -\n"


@integration
def test_import_from_url(cli: Cli, busybox_image, http_dir) -> None:  # type: ignore[no-untyped-def]
    root, url = http_dir
    (root / "rootfs.tar.gz").write_bytes(gzip.compress(busybox_image.rootfs_tar))
    r = cli("import", "-c", "WORKDIR /tmp", f"{url}/rootfs.tar.gz", "fromurl")
    assert r.code == 0, r.err
    obj = inspect(cli, "fromurl")
    assert obj["Config"]["WorkingDir"] == "/tmp"
    assert obj["Comment"] == f"Imported from {url}/rootfs.tar.gz"
    assert_busybox_tree(cli, "fromurl:latest")
    r = cli("import", f"{url}/missing.tar")
    assert r.code == 1 and "404" in r.err


@integration
def test_import_errors(cli: Cli, busybox_image, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rootfs = tmp_path / "rootfs.tar"
    rootfs.write_bytes(busybox_image.rootfs_tar)
    r = cli("import", "-c", "FROM busybox", str(rootfs))
    assert r.code == 1
    assert r.err == "Error: dockerfile parse error on line 1: unknown instruction: FROM\n"
    r = cli("import", str(tmp_path / "nosuch.tar"))
    assert r.code == 1
    assert r.err == f"Error: open {tmp_path}/nosuch.tar: no such file or directory\n"
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x1f\x8b" + os.urandom(1000))
    r = cli("import", str(garbage), "bad")
    assert r.code == 1 and "invalid tar archive" in r.err
    assert records(cli) == []
    assert no_spool_left(cli)


# -- save / load ------------------------------------------------------------------------


@integration
def test_save_load_round_trip(cli: Cli, busybox_image, multilayer_image, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for ref in (busybox_image.ref, multilayer_image.ref):
        assert cli("pull", "-q", ref).code == 0
    assert cli("tag", busybox_image.ref, "second:tag").code == 0
    out = tmp_path / "images.tar"
    r = cli("save", "-o", str(out), busybox_image.ref, "second:tag", multilayer_image.ref)
    assert r.code == 0, r.err
    with tarfile.open(out) as tar:
        names = tar.getnames()
        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        docker = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        layout = json.loads(tar.extractfile("oci-layout").read())  # type: ignore[union-attr]
    assert layout == {"imageLayoutVersion": "1.0.0"}
    assert "repositories" in names
    for layer in busybox_image.layers + multilayer_image.layers:
        assert f"blobs/sha256/{layer.digest[7:]}" in names
    assert docker[0]["Config"] == f"blobs/sha256/{busybox_image.config_digest[7:]}"
    assert docker[0]["RepoTags"] == [busybox_image.ref, "second:tag"]
    assert docker[1]["Layers"] == [
        f"blobs/sha256/{la.digest[7:]}" for la in multilayer_image.layers
    ]
    assert [
        (m["digest"], m["annotations"]["org.opencontainers.image.ref.name"])
        for m in index["manifests"]
    ] == [
        (busybox_image.manifest_digest, "latest"),
        (busybox_image.manifest_digest, "tag"),
        (multilayer_image.manifest_digest, "latest"),
    ]
    assert (
        index["manifests"][1]["annotations"]["io.containerd.image.name"]
        == "docker.io/library/second:tag"
    )

    other = fresh_cli(tmp_path, "other")
    rootfs = tmp_path / "rootfs.tar"
    rootfs.write_bytes(busybox_image.rootfs_tar)
    previous = other("import", str(rootfs), "second:tag").out.strip()
    r = other("load", "-i", str(out))
    assert r.code == 0, r.err
    assert r.out.splitlines() == [
        f"Loaded image: {busybox_image.ref}",
        "Loaded image: second:tag",
        f"Loaded image: {multilayer_image.ref}",
    ]
    # the image "second:tag" named before the load is kept, untagged
    rows = other("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").out.splitlines()
    assert f"<none>:<none> {previous[7:19]}" in rows
    assert other("rmi", previous).code == 0
    for ref, image in (
        (busybox_image.ref, busybox_image),
        ("second:tag", busybox_image),
        (multilayer_image.ref, multilayer_image),
    ):
        obj = inspect(other, ref)
        assert obj["Id"] == image.config_digest
        assert obj["RootFS"]["Layers"] == [la.diff_id for la in image.layers]
        assert f"{ref.rsplit(':', 1)[0]}@{image.manifest_digest}" in obj["RepoDigests"]
    assert sorted(inspect(other, busybox_image.ref)["RepoTags"]) == sorted(
        [busybox_image.ref, "second:tag"]
    )
    assert_busybox_tree(other, "second:tag")
    assert no_spool_left(other)
    # loading again changes nothing
    assert other("load", "-i", str(out)).code == 0
    assert len(other("images", "--format", "{{.Repository}}:{{.Tag}}").out.split()) == 3
    assert len(other("images", "-q").out.split()) == 2


@integration
def test_save_by_id_to_stdout_and_load_from_stdin(cli: Cli, busybox_image, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("pull", "-q", busybox_image.ref).code == 0
    p = run_bytes(cli, "save", busybox_image.config_digest[7:19])
    assert p.returncode == 0, p.stderr
    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as tar:
        docker = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        assert "repositories" not in tar.getnames()
    assert docker[0]["RepoTags"] is None
    other = fresh_cli(tmp_path, "other")
    q = run_bytes(other, "load", input=p.stdout)
    assert q.returncode == 0, q.stderr
    assert q.stdout.decode() == f"Loaded image ID: {busybox_image.config_digest}\n"
    rows = other("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").out.splitlines()
    assert rows == [f"<none>:<none> {busybox_image.config_digest[7:19]}"]
    # a gzip-compressed archive loads too (docker load accepts one)
    third = fresh_cli(tmp_path, "third")
    q = run_bytes(third, "image", "load", "-q", input=gzip.compress(p.stdout))
    assert q.returncode == 0, q.stderr
    # naming the dangling image later replaces its <none> record
    fourth = fresh_cli(tmp_path, "fourth")
    assert run_bytes(fourth, "load", input=p.stdout).returncode == 0
    named = tmp_path / "named.tar"
    assert cli("save", "-o", str(named), busybox_image.ref).code == 0
    assert fourth("load", "-i", str(named)).code == 0
    assert fourth("images", "--format", "{{.Repository}}").out.splitlines() == [
        busybox_image.ref.rsplit(":", 1)[0]
    ]


@integration
def test_skopeo_reads_saved_archives(cli: Cli, busybox_image, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("pull", "-q", busybox_image.ref).code == 0
    out = tmp_path / "busybox.tar"
    assert cli("image", "save", "-o", str(out), busybox_image.ref).code == 0
    info = json.loads(skopeo("inspect", f"docker-archive:{out}"))
    assert info["Architecture"] == busybox_image.platform.architecture
    assert info["Layers"] == [la.diff_id for la in busybox_image.layers]
    assert info["Env"] == busybox_image.config_json["config"]["Env"]
    config = json.loads(skopeo("inspect", "--config", f"docker-archive:{out}"))
    assert config["rootfs"]["diff_ids"] == [la.diff_id for la in busybox_image.layers]
    info = json.loads(skopeo("inspect", f"oci-archive:{out}"))
    assert info["Digest"] == busybox_image.manifest_digest
    assert info["Layers"] == [la.digest for la in busybox_image.layers]
    # skopeo can also copy the layers out (it decompresses our gzip layer files)
    skopeo("copy", "-q", f"docker-archive:{out}", f"dir:{tmp_path / 'dir'}")
    copied = json.loads((tmp_path / "dir" / "manifest.json").read_text())
    assert copied["config"]["digest"] == busybox_image.config_digest


@integration
def test_load_archives_written_by_skopeo(
    cli: Cli, busybox_image, multilayer_image, multiplatform_image, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    docker_tar = tmp_path / "docker.tar"
    skopeo(
        "copy",
        "-q",
        "--src-tls-verify=false",
        f"docker://{multilayer_image.ref}",
        f"docker-archive:{docker_tar}:skopeo/multi:d1",
    )
    r = cli("load", "-i", str(docker_tar))
    assert r.code == 0, r.err
    assert r.out == "Loaded image: skopeo/multi:d1\n"
    obj = inspect(cli, "skopeo/multi:d1")
    assert obj["Id"] == multilayer_image.config_digest
    assert obj["RootFS"]["Layers"] == [la.diff_id for la in multilayer_image.layers]

    oci_tar = tmp_path / "oci.tar"
    skopeo(
        "copy",
        "-q",
        "--src-tls-verify=false",
        f"docker://{busybox_image.ref}",
        f"oci-archive:{oci_tar}:skopeo/busybox:o1",
    )
    r = cli("load", "-i", str(oci_tar))
    assert r.code == 0, r.err
    assert r.out == "Loaded image: skopeo/busybox:o1\n"
    # skopeo converted the Docker config to an OCI one: a new image ID, the same layers
    raw = json.loads(skopeo("inspect", "--raw", f"oci-archive:{oci_tar}"))
    obj = inspect(cli, "skopeo/busybox:o1")
    assert obj["Id"] == raw["config"]["digest"]
    assert obj["RootFS"]["Layers"] == [la.diff_id for la in busybox_image.layers]
    assert_busybox_tree(cli, "skopeo/busybox:o1")

    # a whole multi-platform index (nested in index.json): the host's platform is loaded
    all_tar = tmp_path / "all.tar"
    skopeo(
        "copy",
        "-q",
        "--all",
        "--src-tls-verify=false",
        f"docker://{multiplatform_image.ref}",
        f"oci-archive:{all_tar}:skopeo/mp:all",
    )
    r = cli("load", "-i", str(all_tar))
    assert r.code == 0, r.err
    host = multiplatform_image.for_platform(busybox_image.platform)
    assert inspect(cli, "skopeo/mp:all")["Id"] == host.config_digest
    assert no_spool_left(cli)


def _flip_byte_in(path: Path, member: str, out: Path) -> None:
    data = bytearray(path.read_bytes())
    with tarfile.open(path) as tar:
        info = tar.getmember(member)
    data[info.offset_data + info.size // 2] ^= 0xFF
    out.write_bytes(bytes(data))


@integration
def test_corrupt_archives_are_refused_and_leave_no_image(
    cli: Cli, busybox_image, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    source = fresh_cli(tmp_path, "source")
    assert source("pull", "-q", busybox_image.ref).code == 0
    good = tmp_path / "good.tar"
    assert source("save", "-o", str(good), busybox_image.ref).code == 0
    bad = tmp_path / "bad.tar"
    _flip_byte_in(good, f"blobs/sha256/{busybox_image.layers[0].digest[7:]}", bad)
    r = cli("load", "-i", str(bad))
    assert r.code == 1
    assert "corrupt" in r.err and busybox_image.layers[0].digest[7:] in r.err
    assert r.err.count("\n") == 1
    assert records(cli) == [] and cli("images", "-q").out == ""
    assert no_spool_left(cli)
    r = cli("load", "-i", str(good))
    assert r.code == 0 and r.out == f"Loaded image: {busybox_image.ref}\n"

    # the old layout (uncompressed <id>/layer.tar): caught before anything is stored
    docker_tar = tmp_path / "docker.tar"
    skopeo(
        "copy",
        "-q",
        "--src-tls-verify=false",
        f"docker://{busybox_image.ref}",
        f"docker-archive:{docker_tar}:x/y:z",
    )
    with tarfile.open(docker_tar) as tar:
        (layer,) = [m.name for m in tar.getmembers() if m.isfile() and m.size > 100_000]
    _flip_byte_in(docker_tar, layer, bad)
    third = fresh_cli(tmp_path, "third")
    r = third("load", "-i", str(bad))
    assert r.code == 1 and "corrupt" in r.err, r.err
    assert records(third) == []
    # truncated input and non-archives
    r = run_bytes(third, "load", input=good.read_bytes()[:5000])
    assert r.returncode == 1 and b"invalid archive" in r.stderr
    r = run_bytes(third, "load", input=b"hello")
    assert r.returncode == 1 and b"invalid archive" in r.stderr
    assert records(third) == []
    r = third("load", "-i", str(tmp_path / "nosuch.tar"))
    assert r.err == f"Error: open {tmp_path}/nosuch.tar: no such file or directory\n"


@integration
def test_save_errors(cli: Cli, tmp_path: Path) -> None:
    r = cli("save", "-o", str(tmp_path / "x.tar"), "nosuch:tag")
    assert (r.code, r.err) == (1, "Error: No such image: nosuch:tag\n")
    assert not (tmp_path / "x.tar").exists() and list(tmp_path.glob(".pynerd_temp_*")) == []
    r = cli("save", "-o", str(tmp_path / "no" / "x.tar"), "nosuch")
    assert r.code == 1 and "invalid output path" in r.err


@integration
def test_save_fetches_a_layer_blob_the_store_lacks(cli: Cli, busybox_image, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # A pull skips layers whose snapshot exists, so an image may lack its own layer blob.
    assert cli("pull", "-q", busybox_image.ref).code == 0
    from pynerd.content.store import ContentStore

    content = ContentStore(cli.data_root / "content")
    assert content.delete(busybox_image.layers[0].digest)
    out = tmp_path / "x.tar"
    r = cli("save", "-o", str(out), busybox_image.ref)
    assert r.code == 0, r.err
    assert content.exists(busybox_image.layers[0].digest)
    # its only name now points to a registry that does not answer
    assert cli("tag", busybox_image.ref, "127.0.0.1:1/other:v1").code == 0
    assert cli("rmi", busybox_image.ref).code == 0
    assert content.delete(busybox_image.layers[0].digest)
    r = cli("save", "-o", str(out), busybox_image.config_digest)
    assert r.code == 1 and "is not in the content store" in r.err, r.err
    assert r.err.count("\n") == 1
