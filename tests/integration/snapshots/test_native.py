"""The native snapshotter: full trees, copied faithfully; views without copies."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynerd.errors import NotFound
from pynerd.images.apply import apply_layer
from pynerd.snapshots import get_snapshotter
from pynerd.snapshots.fsutil import copy_tree
from pynerd.snapshots.native import NativeSnapshotter
from tests.integration.snapshots.layers import (
    EXPECTED,
    SCENARIO,
    Mounts,
    describe,
    hardlink_groups,
    tar,
    unpack,
)

pytestmark = pytest.mark.integration

if os.geteuid() != 0:  # pragma: no cover
    pytest.skip("needs root (mounts, mknod, chown)", allow_module_level=True)


@pytest.fixture
def snap(tmp_path: Path) -> NativeSnapshotter:
    s = get_snapshotter("native", tmp_path / "data" / "snapshots" / "native")
    assert isinstance(s, NativeSnapshotter)
    return s


@pytest.fixture
def mnt() -> Iterator[Mounts]:
    m = Mounts()
    try:
        yield m
    finally:
        m.close()


def test_each_layer_dir_is_the_full_merged_tree(snap: NativeSnapshotter) -> None:
    assert not snap.parallel_apply and snap.whiteouts == "delete"
    keys = unpack(snap, SCENARIO, "gzip")
    top = snap.upper_dir(keys[-1])
    assert describe(top) == EXPECTED
    assert hardlink_groups(top) == [("hl", "keep.txt")]
    # lower layers are untouched by the later ones' deletions
    assert (snap.upper_dir(keys[0]) / "gone.txt").read_text() == "gone"


def test_begin_layer_needs_its_parent(snap: NativeSnapshotter) -> None:
    with pytest.raises(NotFound):
        snap.begin_layer("missing")


def test_copy_tree_is_faithful(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    keys_root = tmp_path / "keys"
    s = get_snapshotter("native", keys_root)
    w = s.begin_layer(None)
    apply_layer(io.BytesIO(tar(SCENARIO[0])), "application/vnd.oci.image.layer.v1.tar", w.path,
                "delete")
    os.mknod(w.path / "sock", stat.S_IFSOCK | 0o644)
    os.setxattr(w.path / "link", "trusted.x", b"on-a-symlink", follow_symlinks=False)
    dst = tmp_path / "copy"
    copy_tree(w.path, dst)
    assert describe(dst) == describe(w.path)
    assert hardlink_groups(dst) == [("hl", "keep.txt")]
    for rel in ("cap", "bin/su", "etc", "link", "dev/null", "run/fifo", "home/user"):
        a, b = os.lstat(w.path / rel), os.lstat(dst / rel)
        assert (a.st_mode, a.st_uid, a.st_gid, a.st_mtime_ns) == (
            b.st_mode, b.st_uid, b.st_gid, b.st_mtime_ns), rel
        assert os.listxattr(w.path / rel, follow_symlinks=False) == os.listxattr(
            dst / rel, follow_symlinks=False)
    assert os.getxattr(dst / "link", "trusted.x", follow_symlinks=False) == b"on-a-symlink"
    assert stat.S_ISSOCK(os.lstat(dst / "sock").st_mode)
    s.abort_layer(w)


def test_active_is_a_private_copy_and_view_a_read_only_bind(
    snap: NativeSnapshotter, tmp_path: Path, mnt: Mounts
) -> None:
    (base,) = unpack(snap, [SCENARIO[0]])
    (m,) = snap.prepare("ctr", base)
    assert (m.type, m.source) == ("bind", str(snap.upper_dir("ctr")))
    root = mnt.mount([m], tmp_path / "ctr")
    (root / "keep.txt").write_text("changed")
    assert (snap.upper_dir(base) / "keep.txt").read_text() == "keep"
    assert (root / "hl").read_text() == "changed"  # hardlinks survived the copy
    (v,) = snap.view("v", base)
    assert (v.source, v.options) == (str(snap.upper_dir(base)), ("ro", "rbind"))
    assert snap.usage("v") < snap.usage("ctr")  # nothing was copied for the view
