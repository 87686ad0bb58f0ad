"""Tar streams of container trees (``export``, ``cp`` out, ``commit`` layers), read safely.

The trees belong to the container, which may rewrite them while we read (a running
container, or one that planted ``etc -> /``). Every directory is therefore opened
relative to its parent's fd with O_NOFOLLOW, and every file with O_NOFOLLOW and
O_NONBLOCK (a FIFO swapped in cannot block us): a link swapped in fails with ELOOP
instead of leading the walk to the host. Entries are written as Docker's archiver
writes them: PAX, names relative, directories with a trailing ``/``, numeric owners
without names, whole-second mtimes, hardlinks as links to the first name seen,
devices and FIFOs as such, sockets skipped, xattrs as ``SCHILY.xattr.*`` records
(``trusted.overlay.*`` excluded: they are the snapshotter's, not the container's).

A file that grows or shrinks while archived is cut or zero-padded to the size its
header announced, so the stream stays valid (Docker's archiver logs such races and
carries on too).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tarfile
import time
from collections.abc import Callable, Container, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_COPY_BUF = 1 << 20
_OPAQUE = "trusted.overlay.opaque"
WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)


class _Counting:
    """The output stream, counting what goes through (``cp`` reports it)."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.size = 0

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        with contextlib.suppress(AttributeError, ValueError):
            self.out.flush()


class _Exact:
    """Exactly ``size`` bytes of ``fd``: zero-padded if the file shrank, cut if it grew."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        chunks: list[bytes] = []
        got = 0
        while got < n:
            data = os.read(self.fd, n - got)
            if not data:
                chunks.append(bytes(n - got))
                break
            chunks.append(data)
            got += len(data)
        out = b"".join(chunks)
        self.left -= len(out)
        return out


def _xattr_target(dir_fd: int | None, entry: str) -> str:
    """A path for the l*xattr calls: /proc/self/fd/N pins the directory, the name is not
    followed (the calls take no dir_fd, and an O_PATH fd would not do for symlinks)."""
    return entry if dir_fd is None else f"/proc/self/fd/{dir_fd}/{entry}"


def read_xattrs(target: str | int, follow: bool = False) -> dict[str, bytes]:
    """The entry's xattrs but overlayfs' own; none where the filesystem has no xattrs."""
    try:
        names = os.listxattr(target, follow_symlinks=follow)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EPERM, *_GONE):
            return {}
        raise
    out: dict[str, bytes] = {}
    for name in sorted(names):
        if name.startswith(("trusted.overlay.", "user.overlay.")):
            continue
        try:
            out[name] = os.getxattr(target, name, follow_symlinks=follow)
        except OSError as e:
            if e.errno not in (errno.ENODATA, errno.ENOTSUP, errno.EPERM, *_GONE):
                raise
    return out


def is_opaque(target: str | int) -> bool:
    """An overlay upper directory whose lower content is hidden (``trusted.overlay.opaque``)."""
    try:
        if isinstance(target, int):
            return os.getxattr(target, _OPAQUE) == b"y"
        return os.getxattr(target, _OPAQUE, follow_symlinks=False) == b"y"
    except OSError:
        return False


def is_overlay_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


class TarWriter:
    """Docker's tar appender over an output stream."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = _Counting(out)
        self.tf = tarfile.open(  # noqa: SIM115 - closed by close()
            fileobj=cast(Any, self._out),
            mode="w|",
            format=tarfile.PAX_FORMAT,
            encoding="utf-8",
            errors="surrogateescape",
        )
        cast(Any, self.tf).copybufsize = _COPY_BUF  # fewer, larger reads (not in the stubs)
        self.links: dict[tuple[int, int], str] = {}

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._out.size

    def close(self) -> None:
        self.tf.close()
        self._out.flush()

    def abort(self) -> None:
        """Give up: write nothing more (not even the end-of-archive blocks)."""
        cast(Any, self.tf).closed = True
        stream = getattr(self.tf, "fileobj", None)
        if stream is not None:
            stream.closed = True  # tarfile's _Stream would flush on garbage collection

    def __enter__(self) -> TarWriter:
        return self

    def __exit__(self, kind: object, value: object, tb: object) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def _info(self, name: str, st: os.stat_result) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.uname = info.gname = ""
        info.mtime = int(st.st_mtime)
        return info

    def add(
        self,
        name: str,
        dir_fd: int | None,
        entry: str,
        st: os.stat_result | None = None,
        follow: bool = False,
    ) -> bool:
        """Archive ``entry`` of directory ``dir_fd`` (or the host path ``entry`` if None) as
        ``name``. Returns False if it vanished or cannot be archived (a socket)."""
        try:
            if st is None:
                st = os.stat(entry, dir_fd=dir_fd, follow_symlinks=follow)
            if stat.S_ISREG(st.st_mode):
                return self._add_file(name, dir_fd, entry, follow)
            info = self._info(name, st)
            if stat.S_ISDIR(st.st_mode):
                info.type = tarfile.DIRTYPE
                if not info.name.endswith("/"):
                    info.name += "/"
            elif self._hardlink(info, st):
                pass
            elif stat.S_ISLNK(st.st_mode):
                info.type = tarfile.SYMTYPE
                info.linkname = os.readlink(entry, dir_fd=dir_fd)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
                info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            elif stat.S_ISFIFO(st.st_mode):
                info.type = tarfile.FIFOTYPE
            else:
                return False  # sockets: tar has no type for them (Go's archiver skips them)
            xattrs = read_xattrs(_xattr_target(dir_fd, entry), follow=follow)
        except OSError as e:
            if e.errno in _GONE:
                return False
            raise
        self._pax_xattrs(info, xattrs)
        self.tf.addfile(info)
        return True

    def _add_file(self, name: str, dir_fd: int | None, entry: str, follow: bool) -> bool:
        flags = _FILE_FLAGS & ~os.O_NOFOLLOW if follow else _FILE_FLAGS
        fd = os.open(entry, flags, dir_fd=dir_fd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):  # swapped for a FIFO or device since the lstat
                return self.add(name, dir_fd, entry, st, follow)
            info = self._info(name, st)
            xattrs = read_xattrs(fd, follow=True)
            self._pax_xattrs(info, xattrs)
            if self._hardlink(info, st):
                self.tf.addfile(info)
                return True
            os.set_blocking(fd, True)
            info.size = st.st_size
            self.tf.addfile(info, cast(Any, _Exact(fd, st.st_size)))
            return True
        finally:
            os.close(fd)

    def _hardlink(self, info: tarfile.TarInfo, st: os.stat_result) -> bool:
        if st.st_nlink <= 1:
            return False
        key = (st.st_dev, st.st_ino)
        first = self.links.get(key)
        if first is None:
            self.links[key] = info.name
            return False
        info.type = tarfile.LNKTYPE
        info.linkname = first
        info.size = 0
        return True

    @staticmethod
    def _pax_xattrs(info: tarfile.TarInfo, xattrs: Mapping[str, bytes]) -> None:
        if xattrs:
            info.pax_headers = {
                **info.pax_headers,
                **{
                    "SCHILY.xattr." + k: v.decode("utf-8", "surrogateescape")
                    for k, v in xattrs.items()
                },
            }

    def add_empty(
        self, name: str, mode: int, uid: int = 0, gid: int = 0, mtime: float | None = None
    ) -> None:
        """A zero-length regular file: whiteouts and opaque markers."""
        info = tarfile.TarInfo(name)
        info.mode, info.uid, info.gid = mode, uid, gid
        info.uname = info.gname = ""
        info.mtime = int(time.time() if mtime is None else mtime)
        self.tf.addfile(info)


def open_dir_beneath(root: Path, rel: str) -> int:
    """An fd on directory ``rel`` under ``root``, no component followed if it is a link."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in (p for p in rel.split("/") if p and p != "."):
            if part == "..":
                raise OSError(errno.EINVAL, "unexpected '..' in a resolved path", rel)
            child = os.open(part, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


@dataclass
class Walk:
    """How :func:`write_tree` walks: which container paths to leave out, which are mounts."""

    cpath: str = "/"  # the container path of the directory walked
    skip: Container[str] = frozenset()  # container paths left out, with everything below
    mounts: Mapping[str, Path] = field(default_factory=dict)  # container path → host source
    overlay_whiteouts: bool = False  # an overlay upper dir: convert to .wh. files and markers


def _child_cpath(parent: str, name: str) -> str:
    return parent.rstrip("/") + "/" + name


def write_tree(tw: TarWriter, fd: int, prefix: str, walk: Walk) -> None:
    """Archive what directory ``fd`` holds, depth first and sorted like Go's WalkDir, each
    entry named ``prefix + name``. ``fd`` stays open (the caller's)."""
    stack: list[tuple[int, str, str, Iterator[str]]] = []

    def push(dfd: int, pfx: str, cpath: str) -> None:
        try:
            names = sorted(os.listdir(dfd))
        except OSError:
            if dfd != fd:
                os.close(dfd)
            raise
        stack.append((dfd, pfx, cpath, iter(names)))

    push(fd, prefix, walk.cpath)
    try:
        while stack:
            dfd, pfx, cpath, names = stack[-1]
            name = next(names, None)
            if name is None:
                stack.pop()
                if dfd != fd:
                    os.close(dfd)
                continue
            child = _child_cpath(cpath, name)
            if child in walk.skip:
                continue
            source = walk.mounts.get(child)
            if source is not None:
                _add_mount(tw, pfx + name, source, child, walk, push)
                continue
            try:
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if walk.overlay_whiteouts and is_overlay_whiteout(st):
                tw.add_empty(pfx + WHITEOUT_PREFIX + name, 0o600, st.st_uid, st.st_gid, st.st_mtime)
                continue
            if not tw.add(pfx + name, dfd, name, st):
                continue
            if stat.S_ISDIR(st.st_mode):
                try:
                    cfd = os.open(name, DIR_FLAGS, dir_fd=dfd)
                except OSError as e:
                    if e.errno in _GONE:
                        continue
                    raise
                if walk.overlay_whiteouts and is_opaque(cfd):
                    tw.add_empty(
                        pfx + name + "/" + OPAQUE_MARKER,
                        stat.S_IMODE(st.st_mode),
                        st.st_uid,
                        st.st_gid,
                        st.st_mtime,
                    )
                push(cfd, pfx + name + "/", child)
    finally:
        for dfd, _, _, _ in stack:
            if dfd != fd:
                os.close(dfd)


def _add_mount(
    tw: TarWriter,
    name: str,
    source: Path,
    cpath: str,
    walk: Walk,
    push: Callable[[int, str, str], None],
) -> None:
    """A bind mount inside the walked tree: what the container sees there is its source."""
    try:
        st = os.stat(source)
    except FileNotFoundError:
        return
    if not tw.add(name, None, str(source), st, follow=True) or not stat.S_ISDIR(st.st_mode):
        return
    push(os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), name + "/", cpath)
