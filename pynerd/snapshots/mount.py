"""mount(2) and umount2(2) through ctypes, with containerd's fix for long overlay options.

The kernel copies mount data into ONE page (4096 bytes): an overlay of an
image with many layers, each lowerdir an absolute path, does not fit. As
containerd does, when the data is too long (or holds characters overlay cannot
parse in a path) the paths are made relative to their common parent directory
and the mount is done from there. The working directory is process-wide, so the
chdir happens in a short-lived thread that first ``unshare(CLONE_FS)``: its cwd
is then its own, and no other thread of the process (or its chdir) is affected.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pynerd.errors import PynerdError
from pynerd.snapshots.base import Mount

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000
MNT_DETACH = 0x2
UMOUNT_NOFOLLOW = 0x8
CLONE_FS = 0x200

PAGE_SIZE = os.sysconf("SC_PAGESIZE") if hasattr(os, "sysconf") else 4096

# option -> (clear instead of set, flag), as containerd's mount_linux.go
_FLAGS: dict[str, tuple[bool, int]] = {
    "async": (True, MS_SYNCHRONOUS),
    "atime": (True, MS_NOATIME),
    "bind": (False, MS_BIND),
    "defaults": (False, 0),
    "dev": (True, MS_NODEV),
    "diratime": (True, MS_NODIRATIME),
    "dirsync": (False, MS_DIRSYNC),
    "exec": (True, MS_NOEXEC),
    "mand": (False, MS_MANDLOCK),
    "noatime": (False, MS_NOATIME),
    "nodev": (False, MS_NODEV),
    "nodiratime": (False, MS_NODIRATIME),
    "noexec": (False, MS_NOEXEC),
    "nomand": (True, MS_MANDLOCK),
    "norelatime": (True, MS_RELATIME),
    "nostrictatime": (True, MS_STRICTATIME),
    "nosuid": (False, MS_NOSUID),
    "rbind": (False, MS_BIND | MS_REC),
    "relatime": (False, MS_RELATIME),
    "remount": (False, MS_REMOUNT),
    "ro": (False, MS_RDONLY),
    "rw": (True, MS_RDONLY),
    "strictatime": (False, MS_STRICTATIME),
    "suid": (True, MS_NOSUID),
    "sync": (False, MS_SYNCHRONOUS),
}
_PATH_OPTIONS = ("lowerdir=", "upperdir=", "workdir=")


class MountError(PynerdError):
    """mount(2) or umount2(2) failed; ``errno`` tells why."""

    def __init__(self, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno


def parse_options(options: Sequence[str]) -> tuple[int, list[str]]:
    """Split ``options`` into mount flags and filesystem data options."""
    flags = 0
    data: list[str] = []
    for opt in options:
        known = _FLAGS.get(opt)
        if known is None:
            data.append(opt)
        elif known[0]:
            flags &= ~known[1]
        else:
            flags |= known[1]
    return flags, data


def compact_overlay_data(data: list[str]) -> tuple[str, list[str]]:
    """Overlay ``data`` with its dirs relative to their common parent: ``(parent, data)``.

    Raises MountError if even the relative form exceeds a page.
    """
    paths = [p for opt in data for p in _option_paths(opt)[1]]
    if not paths or not all(os.path.isabs(p) for p in paths):
        raise MountError("overlay options too long and not made of absolute paths")
    common = os.path.commonpath(paths)
    if common in paths:
        common = os.path.dirname(common)
    out: list[str] = []
    for opt in data:
        prefix, values = _option_paths(opt)
        if prefix:
            opt = prefix + ":".join(os.path.relpath(v, common) for v in values)
        out.append(opt)
    text = ",".join(out)
    if len(text) >= PAGE_SIZE or _unsafe(out):
        raise MountError(
            f"overlay mount options are {len(text)} bytes even relative to {common} "
            f"(limit {PAGE_SIZE - 1}): too many layers"
        )
    return common, out


def _option_paths(opt: str) -> tuple[str, list[str]]:
    """``("lowerdir=", [dirs…])`` for a path option, ``("", [])`` for any other."""
    for prefix in _PATH_OPTIONS:
        if opt.startswith(prefix):
            value = opt[len(prefix) :]
            return prefix, value.split(":") if prefix == "lowerdir=" else [value]
    return "", []


def _unsafe(data: list[str]) -> bool:
    """Whether a path in the overlay options holds a character overlay would misparse."""
    for opt in data:
        for prefix in _PATH_OPTIONS:
            if opt.startswith(prefix):
                value = opt[len(prefix) :]
                if "," in value or "\\" in value or (prefix != "lowerdir=" and ":" in value):
                    return True
    return False


def mount_all(mounts: Sequence[Mount], target: Path) -> None:
    """Mount each of ``mounts`` on ``target`` in order; on failure undo what was mounted."""
    target_s = os.path.abspath(target)
    done = 0
    try:
        for m in mounts:
            _mount_one(m, target_s)
            done += 1
    except BaseException:
        for _ in range(done):
            _umount(target_s, MNT_DETACH)
        raise


def _mount_one(m: Mount, target: str) -> None:
    flags, data = parse_options(m.options)
    if m.type == "bind":
        flags |= MS_BIND
    if flags & MS_BIND:
        # Bind ignores the other flags: apply them with a remount (as containerd).
        _mount(m.source, target, m.type, flags & ~(MS_RDONLY | MS_REMOUNT), None)
        extra = flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
        if extra:
            try:
                _mount("", target, "", MS_REMOUNT | MS_BIND | extra, None)
            except BaseException:
                _umount(target, MNT_DETACH)
                raise
        return
    chdir = None
    text = ",".join(data)
    if m.type == "overlay" and (len(text) >= PAGE_SIZE or _unsafe(data)):
        chdir, data = compact_overlay_data(data)
        text = ",".join(data)
    _mount(m.source, target, m.type, flags, text or None, chdir)


_libc: Any = None


def _lib() -> Any:
    global _libc
    if _libc is None:
        import ctypes

        lib = ctypes.CDLL(None, use_errno=True)
        lib.mount.argtypes = [
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_ulong,
            ctypes.c_char_p,
        ]
        lib.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        lib.unshare.argtypes = [ctypes.c_int]
        _libc = lib
    return _libc


def _errno() -> int:
    import ctypes

    return ctypes.get_errno()


def _mount(
    source: str, target: str, fstype: str, flags: int, data: str | None, chdir: str | None = None
) -> None:
    lib = _lib()
    src, tgt, typ = os.fsencode(source), os.fsencode(target), fstype.encode()
    raw = data.encode() if data is not None else None

    def call() -> int:
        return 0 if lib.mount(src, tgt, typ, flags, raw) == 0 else _errno()

    err = call() if chdir is None else _in_own_cwd(chdir, call)
    if err:
        what = f"{fstype} {source}" if source != fstype else fstype
        raise MountError(f"failed to mount {what} on {target}: {os.strerror(err)}", err)


def _in_own_cwd(directory: str, fn: Callable[[], int]) -> int:
    """Run ``fn`` in a new thread whose cwd is ``directory`` and nobody else's."""
    import threading

    result: list[int] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            if _lib().unshare(CLONE_FS) != 0:
                result.append(_errno())
                return
            os.chdir(directory)
            result.append(fn())
        except BaseException as e:
            failure.append(e)

    t = threading.Thread(target=run, name="pynerd-mount", daemon=True)
    t.start()
    t.join()
    if failure:
        raise MountError(f"cannot mount from {directory}: {failure[0]}")
    return result[0]


def unmount(target: Path, detach: bool = False) -> None:
    """Unmount everything mounted on ``target`` (stacked mounts too); no-op if nothing is.

    A busy mount is retried for about a second before giving up, unless ``detach``
    (lazy unmount: the mount disappears now, the kernel frees it when unused).
    """
    _umount(os.path.abspath(target), MNT_DETACH if detach else 0)


def _umount(target: str, flags: int) -> None:
    import errno as E

    lib = _lib()
    path = os.fsencode(target)
    busy = 0
    while True:
        if lib.umount2(path, flags | UMOUNT_NOFOLLOW) == 0:
            continue  # maybe another mount below
        err = _errno()
        if err in (E.EINVAL, E.ENOENT, E.ENOTDIR):
            return  # not (or no longer) a mount point
        if err == E.EBUSY and busy < 20:
            busy += 1
            time.sleep(0.05)
            continue
        raise MountError(f"failed to unmount {target}: {os.strerror(err)}", err)


def is_mounted(path: Path) -> bool:
    """Whether ``path`` is a mount point (bind mounts of the same filesystem included)."""
    target = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return os.path.ismount(path)
    for line in lines:
        fields = line.split(b" ")
        if len(fields) > 4 and _unescape(fields[4]) == target:
            return True
    return False


def _unescape(field: bytes) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    out = bytearray()
    i = 0
    while i < len(field):
        if field[i : i + 1] == b"\\" and field[i + 1 : i + 4].isdigit():
            out.append(int(field[i + 1 : i + 4], 8))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return os.fsdecode(bytes(out))
