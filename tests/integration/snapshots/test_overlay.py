"""The overlayfs snapshotter: layer dirs hold diffs, parallel unpack, very deep images."""

from __future__ import annotations

import io
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pynerd.images.apply import apply_layer
from pynerd.snapshots import get_snapshotter
from pynerd.snapshots.overlay import OverlaySnapshotter
from tests.integration.snapshots.layers import (
    EXPECTED,
    MT_TAR,
    SCENARIO,
    Mounts,
    compress,
    d,
    describe,
    f,
    tar,
    wh,
)

pytestmark = pytest.mark.integration

if os.geteuid() != 0:  # pragma: no cover
    pytest.skip("needs root (mounts)", allow_module_level=True)


@pytest.fixture
def snap(tmp_path: Path) -> OverlaySnapshotter:
    s = get_snapshotter("overlayfs", tmp_path / "data" / "snapshots" / "overlayfs")
    assert isinstance(s, OverlaySnapshotter)
    return s


@pytest.fixture
def mnt() -> Iterator[Mounts]:
    m = Mounts()
    try:
        yield m
    finally:
        m.close()


def test_layers_unpack_in_parallel_before_their_parents_exist(
    snap: OverlaySnapshotter, tmp_path: Path, mnt: Mounts
) -> None:
    assert snap.parallel_apply and snap.whiteouts == "overlay"
    keys = [f"chain{i}" for i in range(len(SCENARIO))]
    writers = [snap.begin_layer(keys[i - 1] if i else None) for i in range(len(SCENARIO))]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            blob, mt = compress(tar(SCENARIO[i]), "zstd")
            apply_layer(io.BytesIO(blob), mt, writers[i].path, snap.whiteouts)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(SCENARIO))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i, w in enumerate(writers):
        snap.commit_layer(w, keys[i], keys[i - 1] if i else None)
    # the second layer's own dir holds overlay whiteouts, not deletions
    gone = snap.upper_dir(keys[1]) / "gone.txt"
    assert stat.S_ISCHR(os.lstat(gone).st_mode) and os.lstat(gone).st_rdev == 0
    assert os.getxattr(snap.upper_dir(keys[1]) / "opq", "trusted.overlay.opaque") == b"y"
    root = mnt.mount(snap.view("v", keys[-1]), tmp_path / "v")
    assert describe(root) == EXPECTED


def test_mount_options(snap: OverlaySnapshotter) -> None:
    w = snap.begin_layer(None)
    snap.commit_layer(w, "a", None)
    w = snap.begin_layer("a")
    snap.commit_layer(w, "b", "a")
    (only,) = snap.prepare("base-only", None)
    assert (only.type, only.options) == ("bind", ("rw", "rbind"))
    (m,) = snap.prepare("c", "b")
    assert m.type == "overlay"
    lower = next(o for o in m.options if o.startswith("lowerdir="))
    b_fs, a_fs = (str(snap.meta.content(snap.meta.require(k).id) / "fs") for k in ("b", "a"))
    assert lower == f"lowerdir={b_fs}:{a_fs}"  # nearest parent first
    assert f"upperdir={snap.upper_dir('c')}" in m.options
    if Path("/sys/module/overlay/parameters/index").exists():
        assert "index=off" in m.options
    (v,) = snap.view("v", "a")
    assert (v.type, v.options) == ("bind", ("ro", "rbind"))


def test_an_image_with_128_layers_mounts(
    snap: OverlaySnapshotter, tmp_path: Path, mnt: Mounts
) -> None:
    parent = None
    for i in range(128):
        w = snap.begin_layer(parent)
        (w.path / f"layer{i:03d}").write_text(str(i))
        (w.path / "top").write_text(str(i))
        if i == 0:
            (w.path / "hidden-later").write_text("x")
        snap.commit_layer(w, f"l{i}", parent)
        parent = f"l{i}"
    # the top layer is a real one, with a whiteout of the bottom layer's file
    w = snap.begin_layer(parent)
    blob, mt = compress(tar([wh("hidden-later"), f("real-top", "yes")]), "gzip")
    apply_layer(io.BytesIO(blob), mt, w.path, snap.whiteouts)
    snap.commit_layer(w, "top", parent)
    mounts = snap.prepare("ctr", "top")
    assert sum(len(o) + 1 for o in mounts[0].options) > 4096  # absolute form would not fit
    t0 = time.perf_counter()
    root = mnt.mount(mounts, tmp_path / "rootfs")
    elapsed = time.perf_counter() - t0
    names = set(os.listdir(root))
    assert {"layer000", "layer127", "real-top"} <= names and "hidden-later" not in names
    assert (root / "top").read_text() == "127"
    (root / "written").write_text("w")
    assert (snap.upper_dir("ctr") / "written").exists()
    assert os.getcwd() != str(snap.meta.content_root)  # the chdir stayed in its thread
    assert elapsed < 2.0
    root_v = mnt.mount(snap.view("view", "top"), tmp_path / "view")  # lowerdir-only form
    assert (root_v / "layer000").read_text() == "0"


def test_merged_root_keeps_the_image_roots_mode(snap: OverlaySnapshotter, tmp_path: Path,
                                                mnt: Mounts) -> None:
    w = snap.begin_layer(None)
    apply_layer(io.BytesIO(tar([d(".", 0o750, uid=5, gid=6)])), MT_TAR, w.path, "overlay")
    snap.commit_layer(w, "root", None)
    w = snap.begin_layer("root")  # a later layer without a ./ entry
    apply_layer(io.BytesIO(tar([f("x", "x")])), MT_TAR, w.path, "overlay")
    snap.commit_layer(w, "top", "root")
    for m, where in ((snap.prepare("ctr", "top"), "r"), (snap.view("v", "top"), "v")):
        st = os.stat(mnt.mount(m, tmp_path / where))
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o750, 5, 6)


def test_two_containers_on_one_image_are_independent(
    snap: OverlaySnapshotter, tmp_path: Path, mnt: Mounts
) -> None:
    w = snap.begin_layer(None)
    (w.path / "shared").write_text("image")
    snap.commit_layer(w, "img", None)
    w = snap.begin_layer("img")
    snap.commit_layer(w, "img2", "img")
    r1 = mnt.mount(snap.prepare("c1", "img2"), tmp_path / "c1")
    r2 = mnt.mount(snap.prepare("c2", "img2"), tmp_path / "c2")
    (r1 / "shared").write_text("changed by c1")
    os.unlink(r2 / "shared")
    assert (r1 / "shared").read_text() == "changed by c1"
    assert not (r2 / "shared").exists()
    assert (snap.upper_dir("img") / "shared").read_text() == "image"
    # c2's deletion is an overlay whiteout in its upperdir
    assert stat.S_ISCHR(os.lstat(snap.upper_dir("c2") / "shared").st_mode)
