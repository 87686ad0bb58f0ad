"""Snapshot metadata, ids, staging sweeps and the lifecycle rules, without mounting anything."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pynerd.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from pynerd.snapshots import get_snapshotter
from pynerd.snapshots.base import LayerWriter, Mount
from pynerd.snapshots.native import NativeSnapshotter
from pynerd.snapshots.overlay import OverlaySnapshotter
from pynerd.snapshots.storage import MetaStore, Record, _my_tag, _proc_start, owner_alive


def overlay(tmp_path: Path) -> OverlaySnapshotter:
    s = get_snapshotter("overlayfs", tmp_path / "snapshots" / "overlayfs")
    assert isinstance(s, OverlaySnapshotter)
    return s


def layer(snap: OverlaySnapshotter | NativeSnapshotter, key: str, parent: str | None,
          files: dict[str, str] | None = None) -> None:
    w = snap.begin_layer(parent)
    for name, text in (files or {}).items():
        (w.path / name).write_text(text)
    snap.commit_layer(w, key, parent)


def test_get_snapshotter(tmp_path: Path) -> None:
    assert isinstance(get_snapshotter("overlayfs", tmp_path), OverlaySnapshotter)
    assert isinstance(get_snapshotter("native", tmp_path), NativeSnapshotter)
    with pytest.raises(InvalidArgument, match="unknown snapshotter 'zfs'"):
        get_snapshotter("zfs", tmp_path)


def test_record_round_trip_and_views_look_active() -> None:
    rec = Record("k", "7", "p", "view", "2024-01-01T00:00:00.000000Z", {"a": "b"})
    assert Record.from_json("k", rec.to_json()) == rec
    assert rec.info().kind == "active"
    assert Record("k", "7", None, "committed", "t").info().kind == "committed"


def test_owner_alive(tmp_path: Path) -> None:
    assert owner_alive(_my_tag() + "-abcd")
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    start = None
    while start is None and p.poll() is None:
        start = _proc_start(p.pid)
    p.wait()
    assert not owner_alive(f"{p.pid}-{start}-abcd")  # gone
    assert not owner_alive(f"{os.getpid()}-1-abcd")  # pid reused by another process
    assert owner_alive("not-a-tag")  # never delete what we cannot explain
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    tag = f"{zombie.pid}-{_proc_start(zombie.pid)}-x"
    try:
        os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped
        assert not owner_alive(tag)
    finally:
        zombie.wait()


def test_staging_sweep_removes_only_dead_owners(tmp_path: Path) -> None:
    meta = MetaStore(tmp_path)
    meta.staging_root.mkdir(parents=True)
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live_start = _proc_start(p.pid)
        dead = meta.staging_root / "999999999-5-dead"
        live = meta.staging_root / f"{p.pid}-{live_start}-live"
        odd = meta.staging_root / "odd-name"
        for d in (dead, live, odd):
            (d / "fs" / "sub").mkdir(parents=True)
            (d / "fs" / "sub" / "f").write_text("x")
        new = meta.new_staging()
        assert sorted(os.listdir(meta.staging_root)) == sorted([new.name, live.name, odd.name])
        assert new.name.startswith(_my_tag() + "-")
    finally:
        p.kill()
        p.wait()
    meta.sweep_staging()
    assert sorted(os.listdir(meta.staging_root)) == sorted([new.name, odd.name])


def test_orphan_content_dirs_are_swept(tmp_path: Path) -> None:
    snap = overlay(tmp_path)
    layer(snap, "a", None, {"f": "1"})
    orphan = snap.meta.content_root / "999"
    (orphan / "fs").mkdir(parents=True)
    snap.begin_layer(None)
    assert not orphan.exists()
    assert snap.exists("a")


def test_ids_are_small_increasing_and_never_reuse_a_directory(tmp_path: Path) -> None:
    snap = overlay(tmp_path)
    for k in "abc":
        layer(snap, k, None)
    ids = [snap.meta.require(k).id for k in "abc"]
    assert ids == ["1", "2", "3"]
    w = snap.begin_layer(None)
    (snap.meta.content_root / "4").mkdir()  # e.g. being published by a stale process
    snap.commit_layer(w, "d", None)
    assert snap.meta.require("d").id == "5"
    snap.remove("d")
    layer(snap, "e", None)
    assert snap.meta.require("e").id == "6"
    # the allocator recovers from a lost sequence file
    (snap.meta.sequence.path / "next.json").unlink()
    layer(snap, "f", None)
    assert int(snap.meta.require("f").id) > 6


def test_lifecycle_rules(tmp_path: Path) -> None:
    snap = overlay(tmp_path)
    layer(snap, "base", None, {"f": "base"})
    layer(snap, "top", "base")
    (m,) = snap.prepare("ctr", "top", labels={"l": "v"})
    assert isinstance(m, Mount) and m.type == "overlay"
    assert snap.stat("ctr").labels == {"l": "v"}
    with pytest.raises(AlreadyExists):
        snap.prepare("ctr", "top")
    with pytest.raises(AlreadyExists):
        snap.view("ctr", "top")
    with pytest.raises(NotFound):
        snap.prepare("x", "nope")
    with pytest.raises(InvalidArgument):
        snap.prepare("x", "ctr")
    with pytest.raises(InvalidArgument):
        snap.mounts("top")
    with pytest.raises(InvalidArgument):
        snap.view("x", "")
    snap.view("v", "top")
    with pytest.raises(InvalidArgument):
        snap.upper_dir("v")
    with pytest.raises(InvalidArgument):
        snap.commit("c", "v")
    with pytest.raises(Conflict, match="top: it is the parent of 2"):
        snap.remove("top")
    with pytest.raises(NotFound, match="snapshot gone does not exist"):
        snap.remove("gone")
    with pytest.raises(NotFound):
        snap.stat("gone")
    with pytest.raises(AlreadyExists):
        snap.commit("base", "ctr")
    (snap.upper_dir("ctr") / "changed").write_text("c")
    snap.commit("img", "ctr")
    assert not (snap.meta.content(snap.meta.require("img").id) / "work").exists()
    assert (snap.upper_dir("img") / "changed").read_text() == "c"
    assert sorted(i.key for i in snap.walk()) == ["base", "img", "top", "v"]
    assert snap.usage("img") > 0
    for k in ("v", "img", "top", "base"):
        snap.remove(k)
    assert snap.walk() == [] and os.listdir(snap.meta.content_root) == []


def test_remove_keeps_a_directory_another_record_still_names(tmp_path: Path) -> None:
    snap = overlay(tmp_path)
    layer(snap, "base", None, {"f": "x"})
    snap.prepare("ctr", "base")
    # the state a crash inside commit() can leave: two records, one directory
    with snap.meta.txn() as t:
        rec = t.require("ctr")
        t.add(Record("img", rec.id, "base", "committed", "t"))
    snap.remove("ctr")
    assert snap.upper_dir("img").is_dir()


def test_commit_layer_checks_and_consumes_the_writer(tmp_path: Path) -> None:
    snap = overlay(tmp_path)
    w = snap.begin_layer("not-yet")  # overlay: parents may come later
    with pytest.raises(NotFound):
        snap.commit_layer(w, "k", "not-yet")
    assert not w.staging.exists()
    foreign = LayerWriter(tmp_path / "elsewhere" / "fs", tmp_path / "elsewhere")
    with pytest.raises(InvalidArgument):
        snap.commit_layer(foreign, "k", None)
    with pytest.raises(InvalidArgument):
        snap.abort_layer(foreign)


def test_concurrent_commits_of_one_layer_keep_exactly_one(tmp_path: Path) -> None:
    snap = overlay(tmp_path)
    writers = [snap.begin_layer(None) for _ in range(8)]
    for i, w in enumerate(writers):
        (w.path / "who").write_text(str(i))
    threads = [threading.Thread(target=snap.commit_layer, args=(w, "same", None)) for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [i.key for i in snap.walk()] == ["same"]
    assert os.listdir(snap.meta.staging_root) == []
    assert len(os.listdir(snap.meta.content_root)) == 1


def test_native_begin_layer_copies_the_parent(tmp_path: Path) -> None:
    snap = get_snapshotter("native", tmp_path / "native")
    assert isinstance(snap, NativeSnapshotter)
    layer(snap, "a", None, {"one": "1"})
    w = snap.begin_layer("a")
    assert (w.path / "one").read_text() == "1"
    (w.path / "two").write_text("2")
    snap.commit_layer(w, "b", "a")
    assert sorted(os.listdir(snap.upper_dir("b"))) == ["one", "two"]
    assert os.listdir(snap.upper_dir("a")) == ["one"]
    with pytest.raises(NotFound):
        snap.begin_layer("missing")
    (m,) = snap.view("v", "b")
    assert (m.type, m.source, m.options) == ("bind", str(snap.upper_dir("b")), ("ro", "rbind"))


def test_state_directories_are_private(tmp_path: Path) -> None:
    snap = overlay(tmp_path)
    layer(snap, "a", None)
    for d in (snap.root, snap.meta.content_root, snap.meta.staging_root):
        assert os.stat(d).st_mode & 0o077 == 0, d
