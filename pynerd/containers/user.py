"""Users, groups and paths inside a container's rootfs, resolved without leaving it.

``--user`` is resolved the way runc's libcontainer/user does it, against the image's
/etc/passwd and /etc/group. The rootfs is untrusted (an image can ship ``/etc/passwd ->
/etc/shadow``), so every path is walked component by component from a directory fd:
symlinks are read and followed *inside* the rootfs (an absolute target restarts at the
rootfs, ``..`` stops at it), and every open uses O_NOFOLLOW, so a swapped-in link fails
instead of escaping. This is the scoping Docker applies (FollowSymlinkInScope).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from pynerd.errors import InvalidArgument

MAX_ID = 2147483647
_MAX_LINKS = 40
_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


# -- walking inside the rootfs -----------------------------------------------------------


@contextmanager
def _walk(root: Path, path: str, *, create: bool = False) -> Iterator[tuple[int, str]]:
    """Yield (fd of the parent directory, last component) of ``path`` resolved in ``root``.

    With ``create``, missing directories on the way are made (0755, root-owned), and
    the last component is resolved too (yielding its own fd and ``"."``).
    """
    stack = [os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)]
    parts = [p for p in path.split("/") if p not in ("", ".")]
    links = 0
    try:
        while parts:
            name = parts.pop(0)
            if name == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            cur = stack[-1]
            try:
                st = os.stat(name, dir_fd=cur, follow_symlinks=False)
            except FileNotFoundError:
                if not create:
                    if parts:
                        raise
                    yield cur, name
                    return
                os.mkdir(name, 0o755, dir_fd=cur)
                _own_dir(cur, name)
                st = os.stat(name, dir_fd=cur, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > _MAX_LINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                target = os.readlink(name, dir_fd=cur)
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                parts[:0] = [p for p in target.split("/") if p not in ("", ".")]
                continue
            if not parts and not create:
                yield cur, name
                return
            if not stat.S_ISDIR(st.st_mode):
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
            stack.append(os.open(name, _DIR_FLAGS, dir_fd=cur))
        yield stack[-1], "."
    finally:
        for fd in stack:
            os.close(fd)


def _own_dir(dir_fd: int, name: str) -> None:
    """A made directory is 0755 whatever the umask, and root's when we are root (Docker)."""
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        os.fchmod(fd, 0o755)
        if os.geteuid() == 0:
            os.fchown(fd, 0, 0)
    finally:
        os.close(fd)


def read_file_in_root(root: Path, path: str) -> bytes | None:
    """The content of ``path`` resolved inside ``root``; None if it does not exist."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO must not block
    try:
        with _walk(root, path) as (dir_fd, name):
            if not stat.S_ISREG(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                return None  # never open a device or FIFO an image planted there
            fd = os.open(name, flags, dir_fd=dir_fd)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:
        raise InvalidArgument(f"unable to open {path} in the container: {e.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read(16 << 20)


def ensure_dir_in_root(root: Path, path: str) -> None:
    """mkdir -p ``path`` inside ``root`` like Docker's SetupWorkingDirectory (0755, root)."""
    try:
        with _walk(root, path, create=True):
            pass
    except NotADirectoryError:
        raise InvalidArgument(f"Cannot mkdir: {path} is not a directory") from None


# -- passwd and group --------------------------------------------------------------------


class PasswdEntry(NamedTuple):
    name: str
    uid: int
    gid: int
    home: str


class GroupEntry(NamedTuple):
    name: str
    gid: int
    members: tuple[str, ...]


def _atoi(text: str) -> int | None:
    """Go's strconv.Atoi: optional sign, ASCII digits only."""
    body = text[1:] if text.startswith(("+", "-")) else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    return int(text)


def _lines(data: bytes | None) -> Iterator[list[str]]:
    for raw in (data or b"").decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            yield line.split(":")


def parse_passwd(data: bytes | None) -> list[PasswdEntry]:
    out = []
    for f in _lines(data):
        f += [""] * (7 - len(f))
        out.append(PasswdEntry(f[0], _atoi(f[2]) or 0, _atoi(f[3]) or 0, f[5]))
    return out


def parse_group(data: bytes | None) -> list[GroupEntry]:
    out = []
    for f in _lines(data):
        f += [""] * (4 - len(f))
        members = tuple(m for m in f[3].split(",") if m)
        out.append(GroupEntry(f[0], _atoi(f[2]) or 0, members))
    return out


class ExecUser(NamedTuple):
    uid: int
    gid: int
    additional_gids: list[int]
    home: str = "/"


def _check_range(value: int) -> int:
    if not 0 <= value <= MAX_ID:
        raise InvalidArgument(f"uids and gids must be in range 0-{MAX_ID}")
    return value


def resolve_user(rootfs: Path, spec: str, group_add: Iterable[str] = ()) -> ExecUser:
    """``name``, ``uid``, ``name:group``, ``uid:gid`` → ids, as runc's GetExecUser + moby.

    Numeric ids need no entry; names do. Supplementary groups: the primary gid first
    (moby), then the groups listing the user as member (only when no group was given),
    then ``--group-add`` (names or gids).
    """
    passwd_data = read_file_in_root(rootfs, "/etc/passwd")
    group_data = read_file_in_root(rootfs, "/etc/group")
    users, groups = parse_passwd(passwd_data), parse_group(group_data)
    user_arg, _, rest = spec.partition(":")
    group_arg = rest.split(":")[0]
    uid_num, gid_num = _atoi(user_arg), _atoi(group_arg)

    uid, gid, home, matched = 0, 0, "/", ""
    if user_arg == "":
        found = next((u for u in users if u.uid == 0), None)
    elif uid_num is not None:
        found = next((u for u in users if u.uid == uid_num), None)
    else:
        found = next((u for u in users if u.name == user_arg), None)
    if found is not None:
        uid, gid, home, matched = found.uid, found.gid, found.home, found.name
    elif user_arg:
        if uid_num is None:
            raise InvalidArgument(
                f"unable to find user {user_arg}: no matching entries in passwd file"
            )
        uid = _check_range(uid_num)

    sgids: list[int] = []
    if group_arg:
        if gid_num is not None:
            grp = next((g for g in groups if g.gid == gid_num), None)
        else:
            grp = next((g for g in groups if g.name == group_arg), None)
        if grp is not None:
            gid = grp.gid
        elif gid_num is None:
            raise InvalidArgument(
                f"unable to find group {group_arg}: no matching entries in group file"
            )
        else:
            gid = _check_range(gid_num)
    elif matched:
        sgids = [g.gid for g in groups if matched in g.members]

    extra = additional_groups(group_add, groups)
    gids = list(dict.fromkeys([gid, *sgids, *extra]))
    return ExecUser(uid, gid, gids, home or "/")


def additional_groups(names: Iterable[str], groups: list[GroupEntry]) -> list[int]:
    """``--group-add`` values as gids (runc's GetAdditionalGroups)."""
    out: list[int] = []
    for name in names:
        grp = next((g for g in groups if g.name == name or str(g.gid) == name), None)
        if grp is not None:
            out.append(grp.gid)
            continue
        num = _atoi(name)
        if num is None:
            raise InvalidArgument(f"Unable to find group {name}: no matching entries in group file")
        out.append(_check_range(num))
    return out
