"""Both snapshotters through real mounts: the merged tree, the lifecycle, crash safety."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pynerd.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from pynerd.snapshots import get_snapshotter
from tests.integration.snapshots.layers import (
    CAP_NET_RAW,
    EXPECTED,
    EXPECTED_HARDLINKS,
    SCENARIO,
    Mounts,
    describe,
    f,
    hardlink_groups,
    unpack,
)

pytestmark = pytest.mark.integration

if os.geteuid() != 0:  # pragma: no cover
    pytest.skip("needs root (mounts)", allow_module_level=True)

NAMES = ["overlayfs", "native"]


@pytest.fixture
def mnt() -> Iterator[Mounts]:
    m = Mounts()
    try:
        yield m
    finally:
        m.close()


def snapshotter(name: str, tmp_path: Path) -> Any:
    return get_snapshotter(name, tmp_path / "data" / "snapshots" / name)


@pytest.mark.parametrize("kind", ["gzip", "zstd", "tar"])
@pytest.mark.parametrize("name", NAMES)
def test_multilayer_image_merges_to_the_expected_tree(
    name: str, kind: str, tmp_path: Path, mnt: Mounts
) -> None:
    snap = snapshotter(name, tmp_path)
    keys = unpack(snap, SCENARIO, kind)
    for mounts, where in ((snap.view("v", keys[-1]), "view"), (snap.prepare("c", keys[-1]), "rw")):
        root = mnt.mount(mounts, tmp_path / where)
        assert describe(root) == EXPECTED
        assert hardlink_groups(root) == [tuple(sorted(g)) for g in EXPECTED_HARDLINKS]
        assert os.getxattr(root / "cap", "security.capability") == CAP_NET_RAW
        assert os.getxattr(root / "cap", "user.note") == b"hi"
        assert os.lstat(root / "keep.txt").st_mtime == 1_600_000_000
        mnt.unmount(root)


@pytest.mark.parametrize("name", NAMES)
def test_container_lifecycle(name: str, tmp_path: Path, mnt: Mounts) -> None:
    snap = snapshotter(name, tmp_path)
    (base,) = unpack(snap, [[f("etc/hostname", "image")]])
    mounts = snap.prepare("ctr", base, labels={"owner": "test"})
    assert snap.mounts("ctr") == mounts
    info = snap.stat("ctr")
    assert (info.kind, info.parent, info.labels) == ("active", base, {"owner": "test"})
    assert info.created.endswith("Z")
    with pytest.raises(AlreadyExists):
        snap.prepare("ctr", base)
    with pytest.raises(InvalidArgument):
        snap.mounts(base)  # committed: mount a view
    with pytest.raises(NotFound):
        snap.prepare("x", "no-such-parent")
    with pytest.raises(InvalidArgument):
        snap.prepare("x", "ctr")  # parent must be committed

    root = mnt.mount(mounts, tmp_path / "rootfs")
    (root / "etc" / "hostname").write_text("container")
    (root / "new").write_text("n")
    mnt.unmount(root)
    upper = snap.upper_dir("ctr")
    assert (upper / "new").read_text() == "n"
    assert snap.usage("ctr") > 0

    with pytest.raises(Conflict, match="parent"):
        snap.remove(base)
    # commit turns the container into a layer others can build on
    snap.commit("img2", "ctr", labels={"from": "ctr"})
    assert not snap.exists("ctr")
    assert snap.stat("img2").kind == "committed" and snap.stat("img2").parent == base
    root = mnt.mount(snap.prepare("ctr2", "img2"), tmp_path / "rootfs2")
    assert (root / "etc" / "hostname").read_text() == "container"
    assert (root / "new").read_text() == "n"
    mnt.unmount(root)

    assert {i.key for i in snap.walk()} == {base, "img2", "ctr2"}
    with pytest.raises(Conflict):
        snap.remove("img2")
    snap.remove("ctr2")
    snap.remove("img2")
    snap.remove(base)
    assert snap.walk() == []
    with pytest.raises(NotFound):
        snap.remove(base)
    with pytest.raises(NotFound):
        snap.stat(base)
    assert os.listdir(snap.meta.content_root) == []


@pytest.mark.parametrize("name", NAMES)
def test_views_are_read_only_and_pin_their_parent(name: str, tmp_path: Path, mnt: Mounts) -> None:
    snap = snapshotter(name, tmp_path)
    keys = unpack(snap, [[f("a", "1")], [f("b", "2")]])
    for i, key in enumerate(keys):  # one layer (a bind mount) and two (an overlay)
        root = mnt.mount(snap.view(f"v{i}", key), tmp_path / f"v{i}")
        assert (root / "a").read_text() == "1"
        with pytest.raises(OSError) as exc:
            (root / "new").write_text("x")
        assert exc.value.errno == errno.EROFS
        with pytest.raises(OSError):
            (root / "a").write_text("changed")
        assert snap.stat(f"v{i}").kind == "active"
        with pytest.raises(Conflict):
            snap.remove(key)
        with pytest.raises(InvalidArgument):
            snap.commit("nope", f"v{i}")
        mnt.unmount(root)
        snap.remove(f"v{i}")


@pytest.mark.parametrize("name", NAMES)
def test_commit_layer_races_and_aborts(name: str, tmp_path: Path) -> None:
    snap = snapshotter(name, tmp_path)
    w1 = snap.begin_layer(None)
    w2 = snap.begin_layer(None)
    (w1.path / "who").write_text("first")
    (w2.path / "who").write_text("second")
    snap.commit_layer(w1, "L", None)
    snap.commit_layer(w2, "L", None)  # lost the race: silently discarded
    assert not w2.staging.exists()
    assert (snap.upper_dir("L") / "who").read_text() == "first"
    # parent must exist at commit time; the writer is consumed anyway
    w3 = snap.begin_layer("L")
    with pytest.raises(NotFound):
        snap.commit_layer(w3, "M", "missing-parent")
    assert not w3.staging.exists()
    w4 = snap.begin_layer(None)
    snap.abort_layer(w4)
    snap.abort_layer(w4)  # idempotent
    assert os.listdir(snap.meta.staging_root) == []
    assert [i.key for i in snap.walk()] == ["L"]


# -- crash safety ----------------------------------------------------------------------------

_WORKER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from pynerd.snapshots import get_snapshotter
    snap = get_snapshotter(sys.argv[1], Path(sys.argv[2]))
    mode = sys.argv[3]
    if mode == "stage":
        w = snap.begin_layer(None)
        for i in range(500):
            (w.path / f"f{i}").write_bytes(os.urandom(2000))
        print("ready", flush=True)
        time.sleep(600)
    parent = None
    for i in range(100000):
        key = f"k{os.getpid()}-{i}"
        w = snap.begin_layer(parent)
        (w.path / "id").write_text(key)
        (w.path / "payload").write_bytes(os.urandom(50_000))
        (w.path / "done").write_text(key)
        snap.commit_layer(w, key, parent)
        if i % 3 == 2:
            snap.prepare(key + "-ctr", key)
            snap.remove(key + "-ctr")
        parent = key
        if i == 2:
            print("ready", flush=True)
    """
)


def _worker(name: str, root: Path, mode: str) -> subprocess.Popen[str]:
    p = subprocess.Popen([sys.executable, "-c", _WORKER, name, str(root), mode],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "ready"
    return p


def _check_consistent(snap: Any) -> None:
    for info in snap.walk():
        rec = snap.meta.require(info.key)
        fs = snap.meta.content(rec.id) / "fs"
        assert fs.is_dir(), info.key
        if info.kind == "committed" and info.key.startswith("k"):
            assert (fs / "done").read_text() == (fs / "id").read_text() == info.key


@pytest.mark.parametrize("name", NAMES)
def test_kill_9_while_staging_leaves_nothing_visible(name: str, tmp_path: Path) -> None:
    snap = snapshotter(name, tmp_path)
    p = _worker(name, snap.root, "stage")
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert snap.walk() == []
    assert len(os.listdir(snap.meta.staging_root)) == 1  # the dead process's staging dir
    w = snap.begin_layer(None)  # any process's next begin sweeps it
    assert os.listdir(snap.meta.staging_root) == [w.staging.name]
    (w.path / "x").write_text("x")
    snap.commit_layer(w, "after", None)
    assert [i.key for i in snap.walk()] == ["after"]


@pytest.mark.parametrize("name", NAMES)
def test_kill_9_at_random_points_of_commits_keeps_state_usable(
    name: str, tmp_path: Path, mnt: Mounts
) -> None:
    snap = snapshotter(name, tmp_path)
    rng = random.Random(1234)
    for _ in range(6):
        p = _worker(name, snap.root, "loop")
        time.sleep(rng.uniform(0.0, 0.3))
        p.send_signal(signal.SIGKILL)
        p.wait()
        _check_consistent(snap)
    # the next run cleans up and works
    w = snap.begin_layer(None)
    assert os.listdir(snap.meta.staging_root) == [w.staging.name]
    records = snap.meta.records()
    assert sorted(os.listdir(snap.meta.content_root)) == sorted({r.id for r in records})
    snap.commit_layer(w, "final", None)
    top = next(i.key for i in snap.walk() if i.kind == "committed" and i.key != "final")
    root = mnt.mount(snap.prepare("check", top), tmp_path / "check")
    assert (root / "done").read_text() == top
    mnt.unmount(root)


def test_mount_all_rolls_back_and_unmount_clears_stacks(tmp_path: Path) -> None:
    from pynerd.snapshots.base import Mount
    from pynerd.snapshots.mount import MountError, mount_all, unmount

    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("x")
    target = tmp_path / "target"
    target.mkdir()
    bad = Mount("overlay", "overlay", (f"lowerdir={tmp_path}/missing1:{tmp_path}/missing2",))
    with pytest.raises(MountError, match="failed to mount overlay"):
        mount_all([Mount("bind", str(src), ("rbind", "rw")), bad], target)
    assert not os.path.ismount(target)
    try:
        mount_all([Mount("bind", str(src), ("rbind", "rw"))], target)
        mount_all([Mount("bind", str(src), ("rbind", "ro"))], target)
        assert (target / "f").read_text() == "x"
    finally:
        unmount(target)
    assert not os.path.ismount(target)
