"""``cp``: copying between a container and the host, with Docker's path rules.

Docker splits a copy between its CLI (which stats both ends and decides where the
archive goes and how its first path element is renamed: ``PrepareArchiveCopy``) and
its daemon (which archives a container path, or extracts an archive into a container
directory). Both halves run here, in the same order and with the same errors, so
``/.`` suffixes, existing versus missing destinations, ``-L`` and ``-`` tar streams
behave as with Docker.

Safety: container paths are resolved in the container's view without leaving it
(:class:`pynerd.containers.fs_paths.ContainerView`); archives are read through
O_NOFOLLOW fds (:mod:`.fs_tar`) and extracted by a child chrooted into the root that
holds the destination, the rootfs or a volume's source (:mod:`.fs_extract`).

Ownership, as Docker's daemon really does it (its docs say otherwise, docker/cli#6870):
files copied in keep the archive's uid/gid (the host files' owners); ``-a`` gives them
the container's ``--user`` instead (resolved in the container's /etc/passwd) when it
has one. Files copied out belong to whoever runs the copy (Docker's ``NoLchown``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from pynerd.config import Config
from pynerd.containers.fs_paths import (
    ContainerView,
    CopyInfo,
    PathStat,
    archive_root_names,
    check_output_mode,
    clean,
    container_abs,
    get_rebase_name,
    local_abs,
    prepare_archive_copy,
    rebase,
    split_dir_entry,
)
from pynerd.errors import InvalidArgument, NotFound, PynerdError

Record = dict[str, Any]


@dataclass(frozen=True)
class CopyResult:
    """For the CLI's summary: content size, bytes of tar moved, and the destination."""

    size: int
    transferred: int
    destination: str


def _not_found(path: str, ref: str) -> str:
    return f"Could not find the file {path} in container {ref}"


def _renamed(name: str, renames: list[tuple[str, str]]) -> str:
    for r in renames:
        name = rebase(name, r)
    return name


# -- archiving (the daemon's side of cp out, the CLI's side of cp in) --------------------------


def _archive_container_path(
    view: ContainerView, st: PathStat, names: tuple[str, str], out: IO[bytes]
) -> int:
    """Archive the (resolved) container path of ``st`` as ``names`` (root, child prefix)."""
    from pynerd.containers.fs_tar import DIR_FLAGS, TarWriter, Walk, open_dir_beneath, write_tree

    root_name, prefix = names
    host_root, rel, _ = view.locate(st.resolved)
    mounts = {m.destination: m.source for m in view.mounts}
    with TarWriter(out) as tw:
        dir_fd = -1
        try:
            if not rel:  # the container's root, or a mount's root: its source, followed
                if not tw.add(root_name, None, str(host_root), follow=True):
                    raise NotFound(f"{st.resolved}: no such file or directory")
                if st.is_dir:
                    dir_fd = os.open(host_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            else:
                parent, _, name = rel.rpartition("/")
                pfd = open_dir_beneath(host_root, parent)
                try:
                    if not tw.add(root_name, pfd, name):
                        raise NotFound(f"{st.resolved}: no such file or directory")
                    if st.is_dir:
                        dir_fd = os.open(name, DIR_FLAGS, dir_fd=pfd)
                finally:
                    os.close(pfd)
            if dir_fd >= 0:
                write_tree(tw, dir_fd, prefix, Walk(cpath=st.resolved, mounts=mounts))
        finally:
            if dir_fd >= 0:
                os.close(dir_fd)
    return tw.size


def _archive_local_path(src: CopyInfo, rename: tuple[str, str] | None, out: IO[bytes]) -> int:
    """moby's ``TarResource`` of a host path, renamed as ``PrepareArchiveCopy`` decided."""
    from pynerd.containers.fs_tar import TarWriter, Walk, write_tree

    source_dir, source_base = split_dir_entry(src.path)
    renames = [(source_base, src.rebase_name)] if src.rebase_name else []
    if rename is not None:
        renames.append(rename)
    with TarWriter(out) as tw:
        if source_base == ".":
            root_name, prefix = "./", "./"
            entry, dir_fd = source_dir, None
        else:
            root_name = source_base + ("/" if src.is_dir else "")
            prefix = source_base + "/"
            entry = source_base
            dir_fd = os.open(source_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            if not tw.add(_renamed(root_name, renames), dir_fd, entry, follow=dir_fd is None):
                raise NotFound(f"lstat {src.path}: no such file or directory")
            if src.is_dir:
                fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dir_fd)
                try:
                    write_tree(tw, fd, _renamed(prefix, renames), Walk())
                finally:
                    os.close(fd)
        finally:
            if dir_fd is not None:
                os.close(dir_fd)
    return tw.size


# -- the host's side -----------------------------------------------------------------------------


def _validate_output_path(path: str) -> None:
    """The CLI's ``ValidateOutputPath``."""
    parent = os.path.dirname(clean(path))
    if parent not in ("", ".") and not os.path.exists(parent):
        raise InvalidArgument(f'invalid output path: directory "{parent}" does not exist')
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    why = check_output_mode(st)
    if why:
        raise InvalidArgument(
            f'invalid output path: "{path}" must be a directory or a regular file: {why}'
        )


def _local_destination(path: str) -> CopyInfo:
    """moby's ``CopyInfoDestinationPath``: a destination link is followed; a missing
    destination needs an existing parent directory."""
    original = path
    st = _lstat(path)
    hops = 0
    while st is not None and stat.S_ISLNK(st.st_mode):
        if hops > 10:
            raise InvalidArgument(f"too many symlinks in {original}")
        target = os.readlink(path)
        if not target.startswith("/"):
            target = clean(split_dir_entry(path)[0] + "/" + target)
        path, st, hops = target, _lstat(target), hops + 1
    if st is not None:
        return CopyInfo(path, True, stat.S_ISDIR(st.st_mode))
    parent = split_dir_entry(path)[0]
    try:
        pst = os.stat(parent)
    except FileNotFoundError:
        raise NotFound(f"stat {parent}: no such file or directory") from None
    if not stat.S_ISDIR(pst.st_mode):
        raise InvalidArgument("not a directory")
    return CopyInfo(path)


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _eval_symlinks(path: str) -> str:
    try:
        return os.path.realpath(path, strict=True)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"lstat {path}: no such file or directory") from None


def _local_source(path: str, follow_link: bool) -> CopyInfo:
    """moby's ``CopyInfoSourcePath``: links before the last element are followed; the last
    one only with ``-L`` (then the archive keeps the name the user gave)."""
    if follow_link:
        resolved, rebase_name = get_rebase_name(path, _eval_symlinks(path))
    else:
        head, _, tail = path.rpartition("/")
        resolved_dir = _eval_symlinks(head or "/")
        resolved = resolved_dir.rstrip("/") + "/" + tail
        rebase_name = ""
        if path.endswith("/") and split_dir_entry(path)[1] != split_dir_entry(resolved)[1]:
            rebase_name = split_dir_entry(path)[1]
    st = _lstat(resolved)
    if st is None:
        raise NotFound(f"lstat {resolved}: no such file or directory")
    return CopyInfo(resolved, True, stat.S_ISDIR(st.st_mode), rebase_name)


def _content_size(path: str) -> int:
    """The CLI's ``localContentSize``: bytes of regular files at ``path``."""
    st = _lstat(path)
    if st is None:
        return 0
    if not stat.S_ISDIR(st.st_mode):
        return st.st_size if stat.S_ISREG(st.st_mode) else 0
    total = 0
    for top, _, files in os.walk(path):
        for f in files:
            fst = _lstat(os.path.join(top, f))
            if fst is not None and stat.S_ISREG(fst.st_mode):
                total += fst.st_size
    return total


# -- copy out ------------------------------------------------------------------------------------


def copy_from(
    cfg: Config,
    ref: str,
    container_path: str,
    out: str | BinaryIO,
    follow_link: bool = False,
) -> CopyResult:
    """``docker cp CONTAINER:SRC DEST``: to the host path ``out``, or as a tar stream."""
    from pynerd.containers.fs import _find, container_view
    from pynerd.containers.fs_extract import extract

    if not container_path:
        raise InvalidArgument("source can not be empty")
    dst_path = None
    if isinstance(out, str):
        if not out:
            raise InvalidArgument("destination can not be empty")
        dst_path = local_abs(out)
        _validate_output_path(dst_path)
    record = _find(cfg, ref)
    view = container_view(cfg, record)
    src = container_path
    rebase_name = ""
    if follow_link:
        try:
            link = view.stat(src)
        except PynerdError:
            link = None
        if link is not None and link.is_link:
            src, rebase_name = get_rebase_name(src, link.link_target)
    st = view.stat(src, _not_found(src, ref))
    names = archive_root_names(container_abs(src), st.is_dir)
    if dst_path is None:
        assert not isinstance(out, str)
        size = _archive_container_path(view, st, names, out)
        return CopyResult(size, size, "-")
    # The CLI's half: the -L rename, then PrepareArchiveCopy onto the local destination.
    renames = [(split_dir_entry(src)[1], rebase_name)] if rebase_name else []
    plan = prepare_archive_copy(
        CopyInfo(src, True, st.is_dir, rebase_name), _local_destination(dst_path)
    )
    if plan.rename is not None:
        renames.append(plan.rename)
    final = (_renamed(names[0], renames), _renamed(names[1], renames))
    moved = extract(
        lambda pipe: _archive_container_path(view, st, final, pipe),
        Path(plan.extract_dir),
        "",
        chroot=False,
        owner="none",
        display=plan.extract_dir,
    )
    size = moved if st.is_dir else st.st.st_size
    return CopyResult(size, moved, dst_path)


# -- copy in -------------------------------------------------------------------------------------


def _destination(view: ContainerView, ref: str, dest: str) -> CopyInfo:
    """The CLI's stat of the container destination: a link is followed once; devices refused."""
    info = CopyInfo(dest)
    try:
        st: PathStat | None = view.stat(dest)
    except PynerdError:
        return info
    assert st is not None
    if st.is_link:
        info = CopyInfo(st.link_target)
        try:
            st = view.stat(st.link_target)
        except PynerdError:
            st = None
    if st is None:
        return info
    why = check_output_mode(st.st)
    if why:
        raise InvalidArgument(
            f'destination "{ref}:{dest}" must be a directory or a regular file: {why}'
        )
    return CopyInfo(info.path, True, st.is_dir)


def _owner(cfg: Config, record: Record, view: ContainerView, archive: bool) -> str:
    """``keep`` (the archive's owners), or ``-a``: the container user's ``uid:gid``."""
    user = str((record.get("Config") or {}).get("User") or "")
    if not archive or not user:
        return "keep"
    from pynerd.containers.user import resolve_user

    ids = resolve_user(view.rootfs, user)
    return f"{ids.uid}:{ids.gid}"


def _extract_into(
    cfg: Config,
    record: Record,
    view: ContainerView,
    ref: str,
    path: str,
    feed: Callable[[IO[bytes]], Any],
    archive: bool,
) -> int:
    """The daemon's ``ContainerExtractToDir``: ``path`` must be a directory (links followed,
    in the container); a read-only volume or rootfs refuses the copy."""
    from pynerd.containers.fs_extract import extract

    resolved = view.resolve(container_abs(path), follow_last=True)
    st = view.lstat(resolved)
    if st is None:
        raise NotFound(_not_found(path, ref))
    if not stat.S_ISDIR(st.st_mode):
        raise InvalidArgument("extraction point is not a directory")
    root, rel, mount = view.locate(resolved)
    if mount is not None and not mount.rw:
        raise InvalidArgument("mounted volume is marked read-only")
    if mount is None and (record.get("HostConfig") or {}).get("ReadonlyRootfs"):
        raise InvalidArgument("container rootfs is marked read-only")
    owner = _owner(cfg, record, view, archive)
    return extract(feed, root, rel, chroot=True, owner=owner, display=resolved)


def copy_to(
    cfg: Config,
    ref: str,
    source: str | BinaryIO,
    container_path: str,
    archive: bool = False,
    follow_link: bool = False,
) -> CopyResult:
    """``docker cp SRC CONTAINER:DEST``: a host path, or a tar stream (``-``) into a directory."""
    from pynerd.containers.fs import _find, container_view
    from pynerd.images.apply import _pump

    if isinstance(source, str) and not source:
        raise InvalidArgument("source can not be empty")
    if not container_path:
        raise InvalidArgument("destination can not be empty")
    record = _find(cfg, ref)
    view = container_view(cfg, record)
    dst = _destination(view, ref, container_path)
    if not isinstance(source, str):
        if not dst.is_dir:
            raise InvalidArgument(f'destination "{ref}:{container_path}" must be a directory')
        stream = source
        moved = _extract_into(
            cfg, record, view, ref, dst.path, lambda pipe: _pump(stream, pipe), archive
        )
        return CopyResult(moved, moved, f"{ref}:{dst.path}")
    src = _local_source(local_abs(source), follow_link)
    plan = prepare_archive_copy(src, dst)
    size = _content_size(src.path)
    moved = _extract_into(
        cfg,
        record,
        view,
        ref,
        plan.extract_dir,
        lambda pipe: _archive_local_path(src, plan.rename, pipe),
        archive,
    )
    return CopyResult(size, moved, f"{ref}:{dst.path}")
