"""File tree helpers for snapshotters: a faithful tree copy, disk usage, quiet removal.

``copy_tree`` is what the native snapshotter builds each layer and container
rootfs with, so it must reproduce everything a layer can hold: owners, modes
(setuid/setgid/sticky), times, xattrs (``security.capability``), hardlinks
within the tree, symlinks as links, devices, FIFOs and sockets. Symlinks are
never followed: a tree made from an untrusted layer may point anywhere.
Regular files go through ``copy_file_range`` (in-kernel; reflinks on XFS/btrfs).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from typing import Any

_COPY_CHUNK = 1 << 30
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def copy_tree(src: Path, dst: Path) -> None:
    """Recreate directory ``src`` at ``dst`` (which must not exist)."""
    links: dict[tuple[int, int], bytes] = {}
    root_st = os.lstat(src)
    if not stat.S_ISDIR(root_st.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(src))
    s0, d0 = os.fsencode(src), os.fsencode(dst)
    os.mkdir(d0, 0o700)
    finish: list[tuple[bytes, bytes, os.stat_result]] = [(s0, d0, root_st)]
    stack = [(s0, d0)]
    while stack:
        sdir, ddir = stack.pop()
        with os.scandir(sdir) as entries:
            for entry in entries:
                s, d = entry.path, os.path.join(ddir, entry.name)
                st = entry.stat(follow_symlinks=False)
                mode = st.st_mode
                if stat.S_ISDIR(mode):
                    os.mkdir(d, 0o700)
                    stack.append((s, d))
                    finish.append((s, d, st))
                    continue
                if st.st_nlink > 1:
                    first = links.get((st.st_dev, st.st_ino))
                    if first is not None:
                        os.link(first, d, follow_symlinks=False)
                        continue
                    links[(st.st_dev, st.st_ino)] = d
                if stat.S_ISREG(mode):
                    _copy_file(s, d, st)
                    continue
                if stat.S_ISLNK(mode):
                    os.symlink(os.readlink(s), d)
                elif stat.S_ISFIFO(mode):
                    os.mkfifo(d, 0o600)
                else:  # char/block devices, sockets
                    os.mknod(d, stat.S_IFMT(mode) | 0o600, st.st_rdev)
                _copy_meta(s, d, st)
    for s, d, st in reversed(finish):  # children first: their creation touched the parent
        _copy_meta(s, d, st)


def _copy_file(src: bytes, dst: bytes, st: os.stat_result) -> None:
    sfd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        dfd = os.open(dst, _CREATE, 0o600)
        try:
            _copy_data(sfd, dfd, st.st_size)
            os.fchown(dfd, st.st_uid, st.st_gid)
            os.fchmod(dfd, stat.S_IMODE(st.st_mode))
            _copy_xattrs(sfd, dfd, True)
            os.utime(dfd, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)


def _copy_data(sfd: int, dfd: int, size: int) -> None:
    copied = 0
    try:
        while True:
            n = os.copy_file_range(sfd, dfd, _COPY_CHUNK)
            if n == 0:
                return
            copied += n
    except OSError as e:
        if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    os.lseek(sfd, copied, os.SEEK_SET)
    os.lseek(dfd, copied, os.SEEK_SET)
    while True:
        data = os.read(sfd, 1 << 20)
        if not data:
            return
        view = memoryview(data)
        while view:
            view = view[os.write(dfd, view) :]


def _copy_meta(src: bytes, dst: bytes, st: os.stat_result) -> None:
    """Owner, then mode (chown clears setuid), xattrs (chown clears capabilities), times."""
    is_link = stat.S_ISLNK(st.st_mode)
    os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
    if not is_link:
        os.chmod(dst, stat.S_IMODE(st.st_mode))
    _copy_xattrs(src, dst, not is_link)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_xattrs(src: bytes | int, dst: bytes | int, follow: bool) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=follow)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EPERM):
            return
        raise
    for name in names:
        try:
            os.setxattr(
                dst, name, os.getxattr(src, name, follow_symlinks=follow), follow_symlinks=follow
            )
        except OSError as e:
            if e.errno not in (errno.ENOTSUP, errno.EPERM, errno.ENODATA):
                raise


def disk_usage(path: Path) -> int:
    """Bytes allocated under ``path`` (st_blocks), each inode counted once; 0 if missing."""
    seen: set[tuple[int, int]] = set()
    total = 0
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 0
    total += st.st_blocks * 512
    stack = [os.fsencode(path)] if stat.S_ISDIR(st.st_mode) else []
    while stack:
        d = stack.pop()
        try:
            entries = os.scandir(d)
        except FileNotFoundError:
            continue
        with entries:
            for entry in entries:
                try:
                    est = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if est.st_nlink > 1 and not stat.S_ISDIR(est.st_mode):
                    ident = (est.st_dev, est.st_ino)
                    if ident in seen:
                        continue
                    seen.add(ident)
                total += est.st_blocks * 512
                if stat.S_ISDIR(est.st_mode):
                    stack.append(entry.path)
    return total


def remove_tree(path: Path) -> None:
    """Remove ``path`` (a tree, file or nothing) without following symlinks."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return

    import shutil

    def onerror(func: object, p: str, exc: tuple[type[BaseException], BaseException, Any]) -> None:
        if not isinstance(exc[1], FileNotFoundError):
            raise exc[1]

    shutil.rmtree(path, onerror=onerror)
