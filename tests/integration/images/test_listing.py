"""images / history listings and their filters on real pulled images."""

from __future__ import annotations

import json

import pytest

from tests.cli import Cli

pytestmark = pytest.mark.integration


@pytest.fixture
def two_images(cli: Cli, busybox_image, multilayer_image) -> tuple[object, object]:  # type: ignore[no-untyped-def]
    assert cli("pull", "-q", busybox_image.ref).code == 0
    assert cli("pull", "-q", multilayer_image.ref).code == 0
    return busybox_image, multilayer_image


def fmt(cli: Cli, *args: str) -> list[str]:
    r = cli("images", *args, "--format", "{{.Repository}}:{{.Tag}}")
    assert r.code == 0, r.err
    return sorted(r.out.split())


def test_filters(cli: Cli, two_images) -> None:  # type: ignore[no-untyped-def]
    bb, ml = two_images
    bb_name, ml_name = bb.ref, ml.ref
    assert fmt(cli) == sorted([bb_name, ml_name])
    assert fmt(cli, "-f", "label=org.pynerd.test=multilayer") == [ml_name]
    assert fmt(cli, "-f", "label=org.pynerd.test") == [ml_name]
    assert fmt(cli, "-f", "reference=*/busy*") == [bb_name]
    assert fmt(cli, bb_name.rsplit(":", 1)[0]) == [bb_name]  # positional REPOSITORY
    assert fmt(cli, "-f", "dangling=true") == []
    assert fmt(cli, "-f", "dangling=false") == sorted([bb_name, ml_name])
    r = cli("images", "-f", "bogus=1")
    assert (r.code, r.err) == (1, "Error: invalid filter 'bogus'\n")


def test_digests_no_trunc_and_json(cli: Cli, two_images) -> None:  # type: ignore[no-untyped-def]
    bb, _ = two_images
    r = cli("images", "--digests", bb.ref.rsplit(":", 1)[0])
    header, row = r.out.splitlines()
    assert header.split()[:4] == ["REPOSITORY", "TAG", "DIGEST", "IMAGE"]
    assert row.split()[2] == bb.manifest_digest
    r = cli("images", "-q", "--no-trunc", bb.ref)
    assert r.out == bb.config_digest + "\n"  # equals the inspect Id
    row = json.loads(cli("images", "--format", "json", bb.ref).out)
    assert row["ID"] == bb.config_digest[7:19] and row["Tag"] == "latest"


def test_retag_leaves_a_dangling_image_that_prune_removes(cli: Cli, two_images) -> None:  # type: ignore[no-untyped-def]
    bb, ml = two_images
    assert cli("tag", bb.ref, "moving:tag").code == 0
    assert cli("rmi", bb.ref).code == 0  # busybox keeps one name: moving:tag
    assert cli("tag", ml.ref, "moving:tag").code == 0  # ... which now moves away
    dangling = cli("images", "-f", "dangling=true", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
    assert dangling.out == f"<none>:<none> {bb.config_digest[7:19]}\n"
    r = cli("image", "prune", "-f")
    assert r.code == 0 and f"deleted: {bb.config_digest}" in r.out
    assert fmt(cli) == sorted([ml.ref, "moving:tag"])
    assert cli("history", "-H=false", "-q", ml.ref).code == 0


def test_history(cli: Cli, two_images) -> None:  # type: ignore[no-untyped-def]
    _, ml = two_images
    r = cli("history", ml.ref)
    lines = r.out.splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert len(lines) == 1 + len(ml.layers)
    assert lines[1].startswith(ml.config_digest[7:19])
    assert all(line.startswith("<missing>") for line in lines[2:])
    assert cli("history", "-q", ml.ref).out.splitlines()[0] == ml.config_digest[7:19]
    sizes = cli("history", "--human=false", "--format", "{{.Size}}", ml.ref).out.split()
    assert all(s.isdigit() for s in sizes) and sum(map(int, sizes)) > 0
