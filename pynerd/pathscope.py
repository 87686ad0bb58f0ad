"""Docker's FollowSymlinkInScope: resolve a path as if a directory were ``/``.

Anything that opens a path inside a container's or volume's tree on the host
(volume copy-up, ``cp``) must never be sent outside that tree by a symlink the
container planted: an absolute link restarts at the tree's root and ``..``
stops there. The caller supplies ``lstat``/``readlink`` for tree paths, so the
same rules serve a plain directory and a container view with mounts in it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from pynerd.errors import InvalidArgument

MAX_LINKS = 255  # filepath.EvalSymlinks' limit, which FollowSymlinkInScope shares


def resolve_in_scope(
    path: str,
    lstat: Callable[[str], os.stat_result | None],
    readlink: Callable[[str], str],
    follow_last: bool = True,
) -> str:
    """``path`` ("/a/b") with its symlinks resolved inside the scope, as a scope path.

    Missing components are kept as they are (the result may not exist); the last
    component is followed only with ``follow_last``. ``lstat`` returns None for a
    path that does not exist.
    """
    parts = [p for p in path.split("/") if p]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        if not parts and not follow_last:
            resolved.append(part)
            break
        candidate = "/" + "/".join([*resolved, part])
        st = lstat(candidate)
        if st is None or not stat.S_ISLNK(st.st_mode):
            resolved.append(part)
            continue
        links += 1
        if links > MAX_LINKS:
            raise InvalidArgument(f"too many links in {path}")
        target = readlink(candidate)
        if target.startswith("/"):
            resolved = []
        parts = [p for p in target.split("/") if p] + parts
    return "/" + "/".join(resolved)
