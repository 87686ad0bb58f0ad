"""Layer tars built in-test, a multi-layer scenario with its expected tree, tree description.

Shared by the snapshot and apply integration tests. ``SCENARIO`` exercises
whiteouts of files and directories, opaque markers before and after the
layer's own entries, type changes (file <-> dir), re-creation in the same layer,
and the metadata a layer can carry; ``EXPECTED`` is the merged tree written out
by hand (not computed by the code under test).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import stat
import struct
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MTIME = 1_600_000_000
CAP_NET_RAW = struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)  # setcap cap_net_raw+ep

MT_TAR = "application/vnd.oci.image.layer.v1.tar"
MT_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MT_DOCKER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


@dataclass
class E:
    """One tar entry to write."""

    path: str
    kind: str = "file"  # file dir symlink hardlink chr blk fifo
    data: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    link: str = ""
    dev: tuple[int, int] = (0, 0)
    xattrs: dict[str, bytes] = field(default_factory=dict)
    mtime: float = MTIME


def f(path: str, data: bytes | str = b"", mode: int = 0o644, **kw: Any) -> E:
    return E(path, "file", data.encode() if isinstance(data, str) else data, mode, **kw)


def d(path: str, mode: int = 0o755, **kw: Any) -> E:
    return E(path, "dir", mode=mode, **kw)


def sym(path: str, target: str) -> E:
    return E(path, "symlink", mode=0o777, link=target)


def hard(path: str, target: str) -> E:
    return E(path, "hardlink", link=target)


def wh(path: str) -> E:
    parent, name = os.path.split(path)
    return f(os.path.join(parent, ".wh." + name))


def opq(directory: str) -> E:
    return f(os.path.join(directory, ".wh..wh..opq"))


_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "chr": tarfile.CHRTYPE,
    "blk": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}


def tar(entries: Sequence[E], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for e in entries:
            info = tarfile.TarInfo(e.path)
            info.type = _TYPES[e.kind]
            info.mode, info.uid, info.gid, info.mtime = e.mode, e.uid, e.gid, e.mtime
            info.uname = info.gname = ""
            info.linkname = e.link
            info.devmajor, info.devminor = e.dev
            if e.xattrs:
                info.pax_headers = {
                    "SCHILY.xattr." + k: v.decode("utf-8", "surrogateescape")
                    for k, v in e.xattrs.items()
                }
            if e.kind == "file":
                info.size = len(e.data)
                t.addfile(info, io.BytesIO(e.data))
            else:
                t.addfile(info)
    return buf.getvalue()


def compress(raw: bytes, kind: str) -> tuple[bytes, str]:
    """``(blob, media type)`` for ``kind`` in tar/gzip/zstd."""
    if kind == "gzip":
        return gzip.compress(raw, 6), MT_GZIP
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(raw), MT_ZSTD
    return raw, MT_TAR


# --------------------------------------------------------------------------------------
# The scenario

SCENARIO: list[list[E]] = [
    [  # L1: a base with every kind of entry
        d("etc"),
        f("etc/passwd", "root:x:0:0\n"),
        f("etc/group", "root:x:0:\n"),
        d("bin"),
        f("bin/su", "su-binary", 0o4755),
        f("bin/sgid", "x", 0o2755, gid=42),
        d("tmp", 0o1777),
        d("dev"),
        E("dev/null", "chr", mode=0o666, dev=(1, 3)),
        E("dev/loop0", "blk", mode=0o660, gid=6, dev=(7, 0)),
        d("run"),
        E("run/fifo", "fifo", mode=0o600),
        f("keep.txt", "keep"),
        sym("link", "keep.txt"),
        hard("hl", "keep.txt"),
        f("gone.txt", "gone"),
        d("gonedir"),
        d("gonedir/sub"),
        f("gonedir/sub/x", "x"),
        d("opq"),
        f("opq/lower1", "1"),
        d("opq/sub"),
        f("opq/sub/deep", "d"),
        d("opq2"),
        f("opq2/lower", "l"),
        d("home"),
        d("home/user", 0o700, uid=1000, gid=1000),
        f("home/user/file", "u", 0o600, uid=1000, gid=1000),
        f("cap", "cap", 0o755, xattrs={"security.capability": CAP_NET_RAW, "user.note": b"hi"}),
        d("var"),
        d("var/lib"),
        d("var/lib/app"),
        f("var/lib/app/a", "a"),
        f("var/lib/app/b", "b"),
        f("f2d", "file"),
        d("d2f"),
        f("d2f/child", "c"),
        d("redo"),
        f("redo/old", "o"),
        d("redo2"),
        f("redo2/old", "o"),
    ],
    [  # L2: deletions; an opaque marker BEFORE the layer's own entry
        wh("gone.txt"),
        wh("gonedir"),
        d("opq"),
        opq("opq"),
        f("opq/new", "n"),
        d("var/lib/app"),
        wh("var/lib/app/a"),
        d("etc"),
        f("etc/passwd", "root:x:0:0\nuser:x:1000:1000\n"),
    ],
    [  # L3: opaque marker AFTER entries, re-creation, type changes
        d("opq2"),
        f("opq2/kept", "k"),
        opq("opq2"),
        d("etc"),
        wh("etc/group"),
        f("etc/group", "new group"),
        d("f2d"),
        f("f2d/inner", "i"),
        f("d2f", "now a file"),
        wh("redo"),
        d("redo"),
        f("redo/new", "n"),
        d("redo2"),
        f("redo2/new", "n"),
        wh("redo2"),
        sym("gone.txt", "keep.txt"),
    ],
]

_D = ("dir", 0o755, 0, 0, None)


def _f(data: str, mode: int = 0o644, uid: int = 0, gid: int = 0) -> tuple[Any, ...]:
    return ("file", mode, uid, gid, data.encode())


EXPECTED: dict[str, tuple[Any, ...]] = {
    "etc": _D,
    "etc/passwd": _f("root:x:0:0\nuser:x:1000:1000\n"),
    "etc/group": _f("new group"),
    "bin": _D,
    "bin/su": _f("su-binary", 0o4755),
    "bin/sgid": _f("x", 0o2755, gid=42),
    "tmp": ("dir", 0o1777, 0, 0, None),
    "dev": _D,
    "dev/null": ("chr", 0o666, 0, 0, (1, 3)),
    "dev/loop0": ("blk", 0o660, 0, 6, (7, 0)),
    "run": _D,
    "run/fifo": ("fifo", 0o600, 0, 0, None),
    "keep.txt": _f("keep"),
    "link": ("symlink", 0o777, 0, 0, "keep.txt"),
    "hl": _f("keep"),
    "gone.txt": ("symlink", 0o777, 0, 0, "keep.txt"),
    "opq": _D,
    "opq/new": _f("n"),
    "opq2": _D,
    "opq2/kept": _f("k"),
    "home": _D,
    "home/user": ("dir", 0o700, 1000, 1000, None),
    "home/user/file": _f("u", 0o600, 1000, 1000),
    "cap": _f("cap", 0o755),
    "var": _D,
    "var/lib": _D,
    "var/lib/app": _D,
    "var/lib/app/b": _f("b"),
    "f2d": _D,
    "f2d/inner": _f("i"),
    "d2f": _f("now a file"),
    "redo": _D,
    "redo/new": _f("n"),
    "redo2": _D,
    "redo2/new": _f("n"),
}
EXPECTED_HARDLINKS = [("hl", "keep.txt")]


# --------------------------------------------------------------------------------------
# Looking at trees


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "dir"),
        (stat.S_ISREG, "file"),
        (stat.S_ISLNK, "symlink"),
        (stat.S_ISCHR, "chr"),
        (stat.S_ISBLK, "blk"),
        (stat.S_ISFIFO, "fifo"),
    ):
        if test(mode):
            return name
    return "other"


def describe(root: Path) -> dict[str, tuple[Any, ...]]:
    """``{relpath: (kind, mode, uid, gid, payload)}`` of every entry under ``root``."""
    out: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            kind = _kind(st.st_mode)
            payload: Any = None
            if kind == "file":
                payload = p.read_bytes()
            elif kind == "symlink":
                payload = os.readlink(p)
            elif kind in ("chr", "blk"):
                payload = (os.major(st.st_rdev), os.minor(st.st_rdev))
            mode = 0o777 if kind == "symlink" else stat.S_IMODE(st.st_mode)
            out[str(p.relative_to(root))] = (kind, mode, st.st_uid, st.st_gid, payload)
    return out


def hardlink_groups(root: Path) -> list[tuple[str, ...]]:
    groups: dict[tuple[int, int], list[str]] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                groups.setdefault((st.st_dev, st.st_ino), []).append(str(p.relative_to(root)))
    return sorted(tuple(sorted(g)) for g in groups.values() if len(g) > 1)


def snapshot_dir(path: Path) -> dict[str, tuple[Any, ...]]:
    """Everything observable about a sentinel directory, to prove nothing changed."""
    out: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in [".", *dirnames, *filenames]:
            p = Path(dirpath) / name
            st = os.lstat(p)
            data = p.read_bytes() if stat.S_ISREG(st.st_mode) else None
            out[str(p.relative_to(path))] = (
                st.st_mode, st.st_uid, st.st_gid, st.st_nlink, st.st_mtime_ns, st.st_size, data
            )
    return out


class Mounts:
    """Mount points to tear down whatever happens in the test."""

    def __init__(self) -> None:
        self.targets: list[Path] = []

    def mount(self, mounts: Sequence[Any], target: Path) -> Path:
        from pynerd.snapshots.mount import mount_all

        target.mkdir(parents=True, exist_ok=True)
        mount_all(mounts, target)
        self.targets.append(target)
        return target

    def unmount(self, target: Path) -> None:
        from pynerd.snapshots.mount import unmount

        unmount(target)
        if target in self.targets:
            self.targets.remove(target)

    def close(self) -> None:
        from pynerd.snapshots.mount import unmount

        for t in reversed(self.targets):
            with contextlib.suppress(Exception):
                unmount(t, detach=True)
        self.targets.clear()


@contextlib.contextmanager
def mounts_fixture() -> Iterator[Mounts]:
    m = Mounts()
    try:
        yield m
    finally:
        m.close()


def unpack(snap: Any, layers: list[list[E]], kind: str = "gzip", prefix: str = "L") -> list[str]:
    """Apply ``layers`` through ``snap``'s staging API; returns the chain of keys."""
    from pynerd.images.apply import apply_layer

    keys: list[str] = []
    parent = None
    for i, entries in enumerate(layers):
        blob, mt = compress(tar(entries), kind)
        w = snap.begin_layer(parent)
        try:
            apply_layer(io.BytesIO(blob), mt, w.path, snap.whiteouts)
        except BaseException:
            snap.abort_layer(w)
            raise
        key = f"{prefix}{i}"
        snap.commit_layer(w, key, parent)
        keys.append(key)
        parent = key
    return keys
