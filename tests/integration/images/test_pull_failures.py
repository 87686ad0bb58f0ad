"""A pull that fails half-way leaves nothing half-written, and the next pull works."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pynerd.config import Config
from pynerd.content.store import ContentStore, sha256_digest
from pynerd.images.pull import PullOptions, pull
from pynerd.registry.client import RegistryClient
from pynerd.registry.reference import parse_reference
from pynerd.registry.transport import Request, RequestsTransport, Response
from tests.cli import Cli
from tests.rig.images import build_busybox
from tests.rig.registry import Registry

pytestmark = pytest.mark.integration


def blobs_are_all_verified(data_root: Path) -> None:
    content = ContentStore(data_root / "content")
    for digest in content.list():
        assert sha256_digest(content.read(digest)) == digest


class SpyTransport:
    """The real transport, recording each request's method, URL and Range header."""

    def __init__(self) -> None:
        self.inner = RequestsTransport()
        self.seen: list[tuple[str, str, str | None]] = []

    def send(self, request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.seen.append((request.method, request.url, headers.get("range")))
        return self.inner.send(request)


def test_partial_blob_is_resumed_with_a_range_request(tmp_path: Path, large_image) -> None:  # type: ignore[no-untyped-def]
    cfg = Config(data_root=tmp_path / "data", run_root=tmp_path / "run")
    layer = large_image.layers[-1]
    # what an interrupted pull leaves: the first MiB of the blob in the ingest dir
    first = RegistryClient(cfg).fetch_blob(parse_reference(large_image.ref), layer.digest)
    with first:
        head = b"".join(first.iter_chunks(1 << 20))[: 1 << 20]
    ingest = ContentStore(cfg.data_root / "content").ingest_dir(layer.digest)
    ingest.mkdir(parents=True)
    (ingest / "data").write_bytes(head)
    spy = SpyTransport()
    result = pull(cfg, PullOptions(large_image.ref), client=RegistryClient(cfg, transport=spy))
    assert result.image_id == large_image.config_digest
    ranges = [r for (m, url, r) in spy.seen if layer.digest in url and m == "GET"]
    assert ranges == [f"bytes={1 << 20}-"]
    blobs_are_all_verified(cfg.data_root)


def test_corrupt_blob_is_refused_and_nothing_enters_the_store(tmp_path: Path) -> None:
    reg = Registry().start()
    try:
        image = build_busybox(reg, repo="corrupt")
        layer = image.layers[0]
        blob = next((reg.workdir / "storage").rglob(f"blobs/sha256/*/{layer.digest[7:]}/data"))
        good = blob.read_bytes()
        blob.write_bytes(good[:-10] + bytes(10))  # same size, wrong bytes
        cli = Cli(tmp_path / "data", tmp_path / "run")
        r = cli("pull", "-q", image.ref)
        assert r.code == 1 and "mismatch" in r.err and r.err.count("\n") == 1
        assert cli("images", "-q").out == ""
        assert layer.digest not in ContentStore(cli.data_root / "content").list()
        blobs_are_all_verified(cli.data_root)
        blob.write_bytes(good)
        r = cli("pull", "-q", image.ref)
        assert r.code == 0, r.err
        assert cli("images", "-q").out == image.config_digest[7:19] + "\n"
    finally:
        reg.stop()


def test_disk_full_during_pull_is_one_error_and_the_next_pull_works(
    tmp_path: Path, large_image
) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "small-disk-pynerd"
    root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(root)], check=True)
    try:
        cli = Cli(root / "data", tmp_path / "run")
        r = cli("pull", "-q", large_image.ref)
        assert r.code == 1 and "no space left on device" in r.err.lower(), r.err
        assert r.err.count("\n") == 1 and "Traceback" not in r.err
        assert cli("images", "-q").out == ""
        blobs_are_all_verified(cli.data_root)
        subprocess.run(["mount", "-o", "remount,size=1g", str(root)], check=True)
        r = cli("pull", "-q", large_image.ref)
        assert r.code == 0, r.err
        assert cli("images", "-q").out == large_image.config_digest[7:19] + "\n"
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def test_pull_through_a_hosts_toml_mirror(tmp_path: Path, registry, busybox_image) -> None:  # type: ignore[no-untyped-def]
    """docker.io served by a local mirror: works offline, no request leaves the machine."""
    hosts = tmp_path / "certs.d" / "docker.io"
    hosts.mkdir(parents=True)
    (hosts / "hosts.toml").write_text(
        'server = "http://127.0.0.1:1"\n'  # a closed local port stands in for Docker Hub
        f'[host."http://{registry.host}"]\n  capabilities = ["pull", "resolve"]\n'
    )
    # the mirror must hold docker.io/library/<repo>: push busybox there under library/
    build_busybox(registry, repo="library/mirrored")
    cli = Cli(tmp_path / "data", tmp_path / "run")
    r = cli("--hosts-dir", str(tmp_path / "certs.d"), "pull", "mirrored")
    assert r.code == 0, r.err
    assert r.out.splitlines()[-1] == "docker.io/library/mirrored:latest"
    out = cli("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").out
    assert out == f"mirrored:latest {busybox_image.config_digest[7:19]}\n"
