"""``cp`` extraction: Docker's ``Untar`` in a child process, chrooted into the container.

**Why a chrooted child.** The destination tree belongs to the container, which can
plant ``tmp/x -> /`` or swap a directory for a link while we write. Like Docker's
chrootarchive (and :mod:`pynerd.images.apply` for layers), the child ``chroot``s into
the root holding the extraction directory (the rootfs, or a volume's source) first,
so every name and link resolves inside it by construction; the parent only decides
*where*. On the host side (``cp`` out to a local path) the same extractor runs
without chroot, as Docker's CLI extracts without one.

**Docker's Untar semantics, not a layer's.** Names are cleaned (``..`` may not climb
out), missing parents are made 0755 root-owned, an existing directory is never
replaced by a non-directory nor the other way round (``cp``'s
``NoOverwriteDirNonDir``), ``.wh.`` names are plain files, a symlink or hardlink whose
target lies outside the destination is refused, and owners are the tar's, a fixed
uid:gid (``cp -a``) or left alone (the host side's ``NoLchown``).

The tar stream is parsed by :mod:`pynerd.images.layertar`'s reader (gzip and zstd
sniffed, PAX, GNU long names, ``SCHILY.xattr.*``), fed our own extractor object.
Like that module, nothing here may import anything after ``chroot``.
"""

from __future__ import annotations

import errno
import os
import stat
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable
    from pathlib import Path
    from typing import IO, Any, NoReturn

    from pynerd.images.layertar import _Entry, _TarReader

_MAX_MESSAGE = 4000
_HOST_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.ENOMEM})


class CopyError(Exception):
    """The archive cannot be extracted there (Docker's wording)."""


def child_main(argv: list[str]) -> NoReturn:
    """argv = [root, subdir, chroot "1"/"0", owner "keep"/"none"/"UID:GID", display dir]."""
    from pynerd.images.layertar import BadLayer, run_child

    root, subdir, do_chroot, owner, display = argv
    run_child(
        lambda: _extract(root, subdir, do_chroot == "1", owner, display),
        "input",
        "tar archive",
        (CopyError, BadLayer),
        _HOST_ERRNOS,
    )


def _extract(root: str, subdir: str, do_chroot: bool, owner: str, display: str) -> dict[str, Any]:
    import binascii  # noqa: F401  (layertar's PAX parser imports it lazily: load it before chroot)

    from pynerd.images.layertar import _decoder, _extract_tar, _FdInput, _TarReader

    os.umask(0)
    read = _decoder(_FdInput(0))
    if do_chroot:
        os.chroot(root)
        os.chdir("/")
        os.chdir("/" + subdir.strip("/"))
    else:
        os.chdir(os.path.join(root, subdir.strip("/")) if subdir.strip("/") else root)
    reader = _TarReader(read, _ignore)
    extractor: Any = _CopyExtractor(_owner(owner), display)  # duck-types layertar's _Extractor
    _extract_tar(reader, extractor)
    return {"size": reader.size}


def _ignore(_: bytes) -> None:
    pass


def _owner(text: str) -> tuple[int, int] | str:
    if text in ("keep", "none"):
        return text
    uid, _, gid = text.partition(":")
    return int(uid), int(gid)


def _q(path: bytes | str) -> str:
    """Go's %q of a path, roughly (quotes and backslashes escaped)."""
    text = os.fsdecode(path) if isinstance(path, bytes) else path
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _CopyExtractor:
    """Creates entries relative to the cwd (the extraction directory) as moby's Unpack does."""

    def __init__(self, owner: tuple[int, int] | str, display: str) -> None:
        self.owner = owner
        self.display = display.rstrip("/") or "/"
        self.dirs: list[tuple[bytes, int, int]] = []

    def _shown(self, path: bytes) -> str:
        return os.path.join(self.display, os.fsdecode(path)) if path != b"." else self.display

    def _clean(self, name: bytes) -> bytes:
        """Go's path.Clean, then the breakout check: relative names may not climb out."""
        parts: list[bytes] = []
        rooted = name.startswith(b"/")
        for part in name.split(b"/"):
            if part in (b"", b"."):
                continue
            if part == b"..":
                if parts:
                    parts.pop()
                elif not rooted:
                    raise CopyError(f"{_q(name)} is outside of {_q(self.display)}")
                continue
            parts.append(part)
        return b"/".join(parts) or b"."

    # -- one entry

    def entry(self, e: _Entry, r: _TarReader) -> bool:
        path = self._clean(e.name)
        t = e.type
        if t != b"5":
            parent = os.path.dirname(path)
            if parent and not os.path.lexists(parent):
                self._implied_dirs(parent)
        target = self._link_target(path, e.linkname) if t == b"1" else b""
        if t == b"2":
            self._check_symlink(path, e.linkname)
        try:
            st: os.stat_result | None = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            st = None
        if st is not None:
            is_dir = stat.S_ISDIR(st.st_mode)
            if is_dir and t != b"5":
                raise CopyError(
                    f"cannot overwrite directory {_q(self._shown(path))} with "
                    f"non-directory {_q(self.display)}"
                )
            if not is_dir and t == b"5":
                raise CopyError(
                    f"cannot overwrite non-directory {_q(self._shown(path))} with "
                    f"directory {_q(self.display)}"
                )
            if is_dir and path == b".":
                return False
            if not is_dir:
                os.unlink(path)
        if t == b"5":
            if st is None:
                os.mkdir(path, 0o700)
        elif t in (b"0", b"7"):
            self._file(path, e, r)
            return True
        elif t in (b"3", b"4"):
            kind = stat.S_IFCHR if t == b"3" else stat.S_IFBLK
            os.mknod(path, kind | 0o600, os.makedev(e.devmajor, e.devminor))
        elif t == b"6":
            os.mkfifo(path, 0o600)
        elif t == b"1":
            os.link(target, path, follow_symlinks=False)
        elif t == b"2":
            os.symlink(e.linkname, path)
        else:
            raise CopyError(
                f"unhandled tar header type {t.decode(errors='replace')!r} for {_q(e.name)}"
            )
        self._meta(path, e)
        return False  # the reader skips the data of entries that have none

    def _implied_dirs(self, parent: bytes) -> None:
        missing = []
        p = parent
        while p and not os.path.lexists(p):
            missing.append(p)
            p = os.path.dirname(p)
        for d in reversed(missing):
            os.mkdir(d, 0o755)
            if self.owner != "none":
                os.chown(d, 0, 0, follow_symlinks=False)

    def _link_target(self, path: bytes, linkname: bytes) -> bytes:
        try:
            target = self._clean(b"/" + linkname if linkname.startswith(b"/") else linkname)
        except CopyError:
            target = b""
        if not target or target == b".":
            raise CopyError(f"invalid hardlink {_q(self._shown(linkname))} -> {_q(linkname)}")
        return target

    def _check_symlink(self, path: bytes, linkname: bytes) -> None:
        if linkname.startswith(b"/"):
            return  # joined onto the link's directory, it stays inside (as in moby)
        try:
            self._clean(os.path.join(os.path.dirname(path), linkname))
        except CopyError:
            raise CopyError(f"invalid symlink {_q(self._shown(path))} -> {_q(linkname)}") from None

    def _file(self, path: bytes, e: _Entry, r: _TarReader) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, 0o600)
        try:
            for piece in r.chunks(e.size):
                while piece:
                    piece = piece[os.write(fd, piece) :]
            ids = self._ids(e)
            if ids is not None:
                os.fchown(fd, *ids)
            for name, value in self._xattrs(e):
                self._setxattr(fd, name, value, True)
            os.fchmod(fd, e.mode)
            os.utime(fd, ns=self._times(e))
        finally:
            os.close(fd)

    def _ids(self, e: _Entry) -> tuple[int, int] | None:
        if self.owner == "none":
            return None
        if self.owner == "keep":
            return e.uid, e.gid
        assert isinstance(self.owner, tuple)
        return self.owner

    def _meta(self, path: bytes, e: _Entry) -> None:
        """Owner, xattrs, mode, times: moby's createTarFile order (chown clears setuid)."""
        ids = self._ids(e)
        if ids is not None:
            os.chown(path, *ids, follow_symlinks=False)
        is_link = e.type == b"2"
        for name, value in self._xattrs(e):
            self._setxattr(path, name, value, not is_link)
        target_is_link = False
        if e.type == b"1":
            try:
                target_is_link = stat.S_ISLNK(os.lstat(path).st_mode)
            except OSError:
                target_is_link = True
        if not is_link and not target_is_link:
            os.chmod(path, e.mode)
        if e.type == b"5":
            at, mt = self._times(e)
            self.dirs.append((path, at, mt))
        elif not target_is_link:
            try:
                os.utime(path, ns=self._times(e), follow_symlinks=False)
            except OSError as err:
                if err.errno != errno.ENOSYS:
                    raise

    @staticmethod
    def _times(e: _Entry) -> tuple[int, int]:
        mtime = max(0, e.mtime_ns)
        atime = max(mtime, e.atime_ns)
        return atime, mtime

    @staticmethod
    def _xattrs(e: _Entry) -> list[tuple[bytes, bytes]]:
        # trusted.overlay.* would steer overlayfs: never taken from an archive.
        return [(k, v) for k, v in e.xattrs.items() if not k.startswith(b"trusted.overlay.")]

    @staticmethod
    def _setxattr(where: bytes | int, name: bytes, value: bytes, follow: bool) -> None:
        try:
            os.setxattr(where, name, value, follow_symlinks=follow)
        except OSError as err:
            if err.errno not in (errno.ENOTSUP, errno.EPERM):
                raise

    def finish(self) -> None:
        """Directory times last: creating their entries changed them."""
        for path, atime, mtime in self.dirs:
            try:  # noqa: SIM105
                os.utime(path, ns=(atime, mtime), follow_symlinks=False)
            except FileNotFoundError:
                pass


# -- the parent's side ------------------------------------------------------------------------

_BOOT = (
    "import sys\n"
    "sys.path[:0] = sys.argv[1].split('\\n')\n"
    "from pynerd.containers.fs_extract import child_main\n"
    "child_main(sys.argv[2:])\n"
)


def extract(
    feed: Callable[[IO[bytes]], object],
    root: Path,
    subdir: str,
    *,
    chroot: bool,
    owner: str,
    display: str,
) -> int:
    """Run the extractor on ``root``/``subdir``; ``feed`` writes the tar into its stdin.

    Returns the number of tar bytes read. ``owner`` is ``keep``, ``none`` or ``UID:GID``.
    """
    proc = _spawn([str(root), subdir, "1" if chroot else "0", owner, display])
    try:
        assert proc.stdin is not None
        try:
            feed(proc.stdin)
        except BrokenPipeError:
            pass  # the child stopped reading: its error says why
        finally:
            try:  # noqa: SIM105
                proc.stdin.close()
            except BrokenPipeError:
                pass
        assert proc.stdout is not None
        output = proc.stdout.read()
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
    return _result(rc, output)


def _spawn(args: list[str]) -> subprocess.Popen[bytes]:
    import subprocess
    from pathlib import Path

    import pynerd
    from pynerd.errors import PynerdError

    paths = [str(Path(pynerd.__file__).resolve().parent.parent)]
    paths += [p for p in sys.path if p and os.path.isabs(p) and "\n" not in p]
    cmd = [sys.executable, "-S", "-E", "-c", _BOOT, "\n".join(paths), *args]
    try:
        return subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0
        )
    except OSError as e:
        raise PynerdError(f"cannot start the copy process: {e}") from e


def _result(rc: int, output: bytes) -> int:
    import json

    from pynerd.errors import InvalidArgument, PynerdError

    payload: dict[str, Any] = {}
    lines = output.strip().splitlines()
    if lines:
        try:
            payload = json.loads(lines[-1])
        except ValueError:
            payload = {}
    if rc == 0 and "size" in payload:
        return int(payload["size"])
    if "error" in payload:
        if payload.get("kind") == "input":
            raise InvalidArgument(str(payload["error"]))
        raise PynerdError(str(payload["error"]))
    if rc < 0:
        raise PynerdError(f"copy process killed by signal {-rc}")
    tail = output.decode(errors="replace").strip()[-_MAX_MESSAGE:]
    raise PynerdError(f"copy process exited {rc}: {tail}")
