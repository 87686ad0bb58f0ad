"""Paths inside a container, resolved without ever leaving it, and Docker's ``cp`` path rules.

A container's file tree as its processes see it is the rootfs with bind mounts
(volumes, binds, /etc/hosts…) on top. :class:`ContainerView` models exactly that
union, so ``cp`` to ``/data/x`` lands in the volume mounted at ``/data``, as with
Docker. Its resolver is ``securejoin``'s: symlinks are read and followed *inside*
the view (an absolute target restarts at the container's root, ``..`` stops at
it), so a link planted by the container (``/tmp/up -> ../../..``, ``/x -> /``)
can never point a copy at the host. Resolution only decides *which* path to use;
the actual reads and writes happen through O_NOFOLLOW directory fds or a chrooted
child (see :mod:`pynerd.containers.fs_extract`), so a link swapped in afterwards
fails instead of escaping.

The rest are pure functions transcribing the docker CLI's and moby's copy rules
(``PreserveTrailingDotOrSeparator``, ``SplitPathDirEntry``, ``PrepareArchiveCopy``,
``GetRebaseName``), kept separate so they can be tested without a container.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pynerd.errors import InvalidArgument, NotFound

# -- Go's path helpers ---------------------------------------------------------------------


def clean(path: str) -> str:
    """Go's ``path.Clean``: lexical, ``..`` above an absolute root is dropped."""
    if not path:
        return "."
    rooted = path.startswith("/")
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    text = "/".join(out)
    if rooted:
        return "/" + text
    return text or "."


def base(path: str) -> str:
    """Go's ``filepath.Base``: ``/`` → ``/``, ``/etc/`` → ``etc``, ``/etc/.`` → ``.``."""
    stripped = path.rstrip("/")
    if not stripped:
        return "/" if path else "."
    return stripped.rsplit("/", 1)[-1]


def _specifies_current_dir(path: str) -> bool:
    return base(path) == "."


def _trailing_separator(path: str) -> bool:
    return path.endswith("/")


def asserts_directory(path: str) -> bool:
    """A path ending in ``/`` or ``/.`` says that it names a directory."""
    return _trailing_separator(path) or _specifies_current_dir(path)


def preserve_trailing(cleaned: str, original: str) -> str:
    """moby's ``PreserveTrailingDotOrSeparator``: keep ``/.`` and ``/`` through a Clean."""
    if not _specifies_current_dir(cleaned) and _specifies_current_dir(original):
        if not _trailing_separator(cleaned):
            cleaned += "/"
        cleaned += "."
    if not _trailing_separator(cleaned) and _trailing_separator(original):
        cleaned += "/"
    return cleaned


def split_dir_entry(path: str) -> tuple[str, str]:
    """moby's ``SplitPathDirEntry``: (dir, base), keeping a trailing ``.`` as the base."""
    cleaned = clean(path)
    if _specifies_current_dir(path):
        cleaned = cleaned.rstrip("/") + "/."
    d = posixpath.dirname(cleaned) or "."
    return (clean(d), base(cleaned))


def container_abs(path: str) -> str:
    """How the daemon reads a container path: absolute, cleaned, trailing ``/``/``/.`` kept."""
    return preserve_trailing(clean("/" + path), path)


def local_abs(path: str) -> str:
    """The CLI's ``resolveLocalPath``: absolute against the cwd, trailing ``/``/``/.`` kept."""
    return preserve_trailing(clean(os.path.join(os.getcwd(), path)), path)


def split_cp_arg(arg: str) -> tuple[str, str]:
    """``CONTAINER:PATH`` → (container, path); a local path gives ("", arg).

    As docker's CLI: an absolute path, or one starting with ``.``, is local even if it
    holds a colon (``./file:name.txt``).
    """
    if arg.startswith("/"):
        return "", arg
    ctr, sep, path = arg.partition(":")
    if not sep or ctr.startswith("."):
        return "", arg
    return ctr, path


# -- the copy rules ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CopyInfo:
    """moby's ``archive.CopyInfo``: a copy's source or destination."""

    path: str
    exists: bool = False
    is_dir: bool = False
    rebase_name: str = ""


@dataclass(frozen=True)
class CopyPlan:
    """Where to extract the archive, and the rename of its first path element (if any)."""

    extract_dir: str
    rename: tuple[str, str] | None = None


def prepare_archive_copy(src: CopyInfo, dst: CopyInfo) -> CopyPlan:
    """moby's ``PrepareArchiveCopy``, minus the stream: the same cases and errors."""
    dst_dir, dst_base = split_dir_entry(dst.path)
    src_base = src.rebase_name or split_dir_entry(src.path)[1]
    if dst.exists and dst.is_dir:
        return CopyPlan(dst.path)
    if dst.exists and src.is_dir:
        raise InvalidArgument("cannot copy directory")
    if not dst.exists and not src.is_dir and asserts_directory(dst.path):
        raise NotFound("no such directory")
    return CopyPlan(dst_dir, (src_base, dst_base))


def rebase(name: str, rename: tuple[str, str] | None) -> str:
    """moby's ``RebaseArchiveEntries`` on one name: the first occurrence of old becomes new."""
    if rename is None:
        return name
    old, new = rename
    if old == "/":
        old = ""
    return name.replace(old, new, 1)


def get_rebase_name(path: str, resolved: str) -> tuple[str, str]:
    """moby's ``GetRebaseName``: keep ``path``'s trailing ``/.``/``/`` on the resolved path,
    and name the archive's root after what the user asked for when the link renamed it."""
    if _specifies_current_dir(path) and not _specifies_current_dir(resolved):
        resolved = resolved.rstrip("/") + "/."
    if _trailing_separator(path) and not _trailing_separator(resolved):
        resolved += "/"
    rebase_name = base(path) if base(path) != base(resolved) else ""
    return resolved, rebase_name


def archive_root_names(abs_path: str, is_dir: bool) -> tuple[str, str]:
    """(name of the archive's root entry, prefix of its children's names) for ``cp`` out.

    The daemon archives a directory as ``.`` and ``./child`` and rebases ``.`` to the
    base of the requested path: ``/etc`` gives ``etc/``, ``etc/passwd``; ``/etc/.`` keeps
    ``./``, ``./passwd``; ``/`` gives ``/``, ``/bin``. A file is archived as its base name.
    """
    name = base(abs_path)
    if not is_dir:
        return name, ""
    if name == "/":
        return "/", "/"
    return name + "/", name + "/"


# -- the container's view -------------------------------------------------------------------


@dataclass(frozen=True)
class MountPoint:
    """A bind mount as the container sees it: ``destination`` (clean, absolute) → ``source``."""

    destination: str
    source: Path
    rw: bool = True


@dataclass(frozen=True)
class PathStat:
    """What ``cp`` learns about a container path (the API's ``ContainerPathStat``)."""

    name: str
    resolved: str  # the container path, symlinks resolved (the last one only if asked)
    st: os.stat_result
    link_target: str = ""  # for a symlink: where it leads, resolved in the container

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)

    @property
    def is_link(self) -> bool:
        return stat.S_ISLNK(self.st.st_mode)


class ContainerView:
    """The rootfs with the container's bind mounts on top, addressed by container paths."""

    def __init__(self, rootfs: Path, mounts: Iterable[MountPoint] = ()) -> None:
        self.rootfs = rootfs
        # Deepest first: /data/sub wins over /data for paths below it.
        self.mounts = sorted(
            (MountPoint(clean("/" + m.destination), m.source, m.rw) for m in mounts),
            key=lambda m: (m.destination.count("/"), len(m.destination)),
            reverse=True,
        )

    def locate(self, cpath: str) -> tuple[Path, str, MountPoint | None]:
        """(host directory holding ``cpath``, path relative to it, the mount or None)."""
        cpath = clean("/" + cpath)
        for m in self.mounts:
            if cpath == m.destination or cpath.startswith(m.destination + "/"):
                return m.source, cpath[len(m.destination) :].lstrip("/"), m
        return self.rootfs, cpath.lstrip("/"), None

    def mount_at(self, cpath: str) -> MountPoint | None:
        cpath = clean("/" + cpath)
        return next((m for m in self.mounts if m.destination == cpath), None)

    def host_path(self, cpath: str) -> Path:
        root, rel, _ = self.locate(cpath)
        return root / rel if rel else root

    def lstat(self, cpath: str) -> os.stat_result | None:
        root, rel, _ = self.locate(cpath)
        try:
            # A mount's root is whatever the bind mount shows: its source, followed.
            return os.lstat(root / rel) if rel else os.stat(root)
        except (FileNotFoundError, NotADirectoryError):
            return None

    def readlink(self, cpath: str) -> str:
        return os.readlink(self.host_path(cpath))

    def resolve(self, path: str, follow_last: bool = True) -> str:
        """``path`` with its symlinks resolved inside the container (``FollowSymlinkInScope``).

        Missing components are kept as they are (the result may not exist). The last
        component is followed only with ``follow_last``.
        """
        from pynerd.pathscope import resolve_in_scope

        return resolve_in_scope(path, self.lstat, self.readlink, follow_last)

    def stat(self, path: str, what: str = "") -> PathStat:
        """The daemon's ``Stat`` of ``path``: ``lstat`` in the container, where a trailing
        ``/`` or ``/.`` makes the last link count as followed (as the kernel does).

        NotFound carries ``what`` (Docker's "Could not find the file …" message) if given.
        """
        abs_path = container_abs(path)
        follow = asserts_directory(abs_path)
        resolved = self.resolve(abs_path, follow_last=follow)
        st = self.lstat(resolved)
        if st is None:
            raise NotFound(what or f"lstat {abs_path}: no such file or directory")
        if follow and not stat.S_ISDIR(st.st_mode):
            raise InvalidArgument(f"lstat {abs_path}: not a directory")
        target = self.resolve(abs_path, follow_last=True) if stat.S_ISLNK(st.st_mode) else ""
        return PathStat(base(abs_path), resolved, st, target)


def check_output_mode(st: os.stat_result) -> str | None:
    """The CLI's ``ValidateOutputPathFileMode``: devices cannot be copied to."""
    if stat.S_ISBLK(st.st_mode) or stat.S_ISCHR(st.st_mode):
        return "got a device"
    return None
