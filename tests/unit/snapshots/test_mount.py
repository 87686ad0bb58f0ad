"""Mount option handling: flags vs data, the page-size workaround, private cwd threads."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pynerd.snapshots import mount as M
from pynerd.snapshots.base import Mount
from pynerd.snapshots.overlay import feature_options, overlay_mount


def test_parse_options_splits_flags_from_data() -> None:
    flags, data = M.parse_options(["ro", "rbind", "nosuid", "lowerdir=/a:/b", "index=off"])
    assert flags == M.MS_RDONLY | M.MS_BIND | M.MS_REC | M.MS_NOSUID
    assert data == ["lowerdir=/a:/b", "index=off"]
    assert M.parse_options(["ro", "rw"])[0] == 0
    assert M.parse_options(["nodev", "dev", "defaults"])[0] == 0


def test_compact_overlay_data_makes_paths_relative_to_their_common_parent() -> None:
    base = "/var/lib/pynerd/snapshots/overlayfs/snapshots"
    data = ["index=off", f"workdir={base}/9/work", f"upperdir={base}/9/fs",
            "lowerdir=" + ":".join(f"{base}/{i}/fs" for i in range(8, 0, -1))]
    chdir, out = M.compact_overlay_data(data)
    assert chdir == base
    assert out == ["index=off", "workdir=9/work", "upperdir=9/fs",
                   "lowerdir=8/fs:7/fs:6/fs:5/fs:4/fs:3/fs:2/fs:1/fs"]
    # one path equal to the common prefix: relative to its parent instead
    chdir, out = M.compact_overlay_data(["lowerdir=/x/a:/x/a/b"])
    assert (chdir, out) == ("/x", ["lowerdir=a:a/b"])


def test_compact_refuses_what_still_does_not_fit() -> None:
    lowers = ":".join(f"/s/{i:010d}/fs" for i in range(600))
    with pytest.raises(M.MountError, match="too many layers"):
        M.compact_overlay_data([f"lowerdir={lowers}"])


def test_unsafe_paths_are_detected() -> None:
    assert M._unsafe(["lowerdir=/a,b/fs:/c"])
    assert M._unsafe(["upperdir=/a:b"])
    assert not M._unsafe(["lowerdir=/a:/b", "upperdir=/c", "index=off"])


def test_overlay_mount_builder() -> None:
    m = overlay_mount(["/l2", "/l1"], "/u", "/w", ("index=off",))
    assert m == Mount("overlay", "overlay", ("index=off", "workdir=/w", "upperdir=/u",
                                              "lowerdir=/l2:/l1"))
    assert overlay_mount(["/a", "/b"]).options == ("lowerdir=/a:/b",)
    assert set(feature_options()) <= {"index=off", "redirect_dir=off", "metacopy=off"}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    seen: list[tuple[Any, ...]] = []

    def fake(source: str, target: str, fstype: str, flags: int, data: str | None,
             chdir: str | None = None) -> None:
        seen.append((source, target, fstype, flags, data, chdir))

    monkeypatch.setattr(M, "_mount", fake)
    return seen


def test_long_overlay_options_mount_from_the_common_dir(calls: list[tuple[Any, ...]]) -> None:
    base = "/very/long/path/to/the/data/root/of/pynerd/snapshots/overlayfs/snapshots"
    lowers = [f"{base}/{i}/fs" for i in range(128, 0, -1)]
    m = overlay_mount(lowers, f"{base}/200/fs", f"{base}/200/work", ("index=off",))
    assert len(",".join(m.options)) > 4096
    M.mount_all([m], Path("/mnt/x"))
    ((source, target, fstype, _flags, data, chdir),) = calls
    assert (source, target, fstype, chdir) == ("overlay", "/mnt/x", "overlay", base)
    assert data.startswith("index=off,workdir=200/work,upperdir=200/fs,lowerdir=128/fs:127/fs")
    calls.clear()
    M.mount_all([overlay_mount(lowers[:3], f"{base}/200/fs", f"{base}/200/work")], Path("/m"))
    assert calls[0][5] is None and f"lowerdir={lowers[0]}:" in calls[0][4]


def test_read_only_bind_is_a_bind_then_a_remount(calls: list[tuple[Any, ...]]) -> None:
    M.mount_all([Mount("bind", "/src", ("ro", "rbind"))], Path("/dst"))
    assert [(c[0], c[3]) for c in calls] == [
        ("/src", M.MS_BIND | M.MS_REC),
        ("", M.MS_REMOUNT | M.MS_BIND | M.MS_RDONLY),
    ]
    calls.clear()
    M.mount_all([Mount("bind", "/src", ("rw", "rbind"))], Path("/dst"))
    assert len(calls) == 1


def test_private_cwd_thread_leaves_the_process_cwd_alone(tmp_path: Path) -> None:
    before = os.getcwd()
    def probe() -> int:
        return len(os.listdir(".")) + (os.getcwd() == str(tmp_path))

    seen = M._in_own_cwd(str(tmp_path), probe)
    assert seen == 1  # tmp_path is empty: 0 entries, and the thread's cwd was tmp_path
    assert os.getcwd() == before


def test_unmount_of_something_not_mounted_is_a_no_op(tmp_path: Path) -> None:
    M.unmount(tmp_path)
    M.unmount(tmp_path / "missing", detach=True)
