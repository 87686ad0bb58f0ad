"""``diff``: a container's changes against its image, as Docker's ``C``/``A``/``D`` lines.

The rules are those of Docker's double walk (``archive.ChangesDirs``, what the
containerd image store uses): an entry that is new is ``A``; one present in both
trees is ``C`` when its type, mode, owner or device differ, or for a non-directory
its size or mtime (a directory's size and mtime say nothing, moby#9874); an entry of
the image that is gone is ``D`` (its children are not listed); and every directory
holding a change is ``C``.

The old tree is the image (its layers merged the overlay way, nearest first); the
new tree is walked only where it can differ from the image:

* overlay: just the snapshot's upper dir. A char device 0:0 is a deletion; below a
  ``trusted.overlay.opaque`` directory nothing of the image shows through, so what the
  image had there and the upper dir lacks is deleted too.
* native: the whole tree (the snapshot is a full copy), every directory compared.

Mount points (``/etc/hosts``, volumes…) are left out, as Docker leaves them out
(they live in its init layer there): runc creates them in the rootfs, but they are
not the container's changes, nor are directories created only to hold them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

WhiteoutFn = Callable[[str, os.stat_result], bool]  # (host path, lstat) → is a deletion
OpaqueFn = Callable[[str], bool]  # host path of a directory → hides what lies below

_FOUND, _ABSENT, _STOP = range(3)


@dataclass(frozen=True)
class Change:
    kind: str  # "C", "A" or "D"
    path: str  # absolute, in the container
    is_dir: bool = False


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


class LowerTree:
    """The image's tree, read-only: layer directories merged the overlay way, nearest first.

    A single full tree (native) is the one-layer case without whiteouts.
    """

    def __init__(
        self,
        layers: Sequence[Path],
        is_whiteout: WhiteoutFn | None = None,
        is_opaque: OpaqueFn | None = None,
    ) -> None:
        self.layers = [str(p) for p in layers]
        self.is_whiteout = is_whiteout
        self.is_opaque = is_opaque

    def _probe(self, layer: str, parts: list[str]) -> tuple[int, os.stat_result | None]:
        """What ``layer`` says of the path: found (with its stat), absent (look lower), or
        stop (deleted, under a non-directory, or absent below an opaque directory)."""
        if not parts:
            return _FOUND, _lstat(layer)
        path = layer
        opaque_above = False
        for i, part in enumerate(parts):
            path = f"{path}/{part}"
            st = _lstat(path)
            if st is None:
                return (_STOP if opaque_above else _ABSENT), None
            if self.is_whiteout is not None and self.is_whiteout(path, st):
                return _STOP, None
            if i == len(parts) - 1:
                return _FOUND, st
            if not stat.S_ISDIR(st.st_mode):
                return _STOP, None
            if self.is_opaque is not None and self.is_opaque(path):
                opaque_above = True
        return _STOP, None  # not reached

    def lstat(self, rel: str) -> os.stat_result | None:
        parts = [p for p in rel.split("/") if p]
        for layer in self.layers:
            state, st = self._probe(layer, parts)
            if state == _FOUND:
                return st
            if state == _STOP:
                return None
        return None

    def children(self, rel: str) -> set[str]:
        """Names in directory ``rel`` of the merged tree (empty if it is not a directory)."""
        parts = [p for p in rel.split("/") if p]
        seen: dict[str, bool] = {}
        for layer in self.layers:
            state, st = self._probe(layer, parts)
            if state == _STOP:
                break
            if state == _ABSENT or st is None:
                continue
            if not stat.S_ISDIR(st.st_mode):
                break
            where = f"{layer}/{rel}" if rel else layer
            try:
                names = os.listdir(where)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for name in names:
                if name not in seen:
                    cst = _lstat(f"{where}/{name}")
                    seen[name] = cst is not None and not (
                        self.is_whiteout is not None and self.is_whiteout(f"{where}/{name}", cst)
                    )
            if self.is_opaque is not None and self.is_opaque(where):
                break
        return {name for name, present in seen.items() if present}


def _same_time(a: os.stat_result, b: os.stat_result) -> bool:
    """moby's sameFsTimeSpec: equal, or equal seconds where one side lacks nanoseconds."""
    a_ns, b_ns = a.st_mtime_ns, b.st_mtime_ns
    if a_ns == b_ns:
        return True
    return a_ns // 10**9 == b_ns // 10**9 and (a_ns % 10**9 == 0 or b_ns % 10**9 == 0)


def differs(old: os.stat_result, new: os.stat_result) -> bool:
    """moby's statDifferent: type/mode, owner, device; size and mtime for non-directories."""
    if (old.st_mode, old.st_uid, old.st_gid, old.st_rdev) != (
        new.st_mode,
        new.st_uid,
        new.st_gid,
        new.st_rdev,
    ):
        return True
    if stat.S_ISDIR(old.st_mode):
        return False
    return old.st_size != new.st_size or not _same_time(old, new)


def raw_changes(
    new_root: Path,
    old: LowerTree,
    *,
    compare_all: bool = False,
    is_whiteout: WhiteoutFn | None = None,
    is_opaque: OpaqueFn | None = None,
    skip: Container[str] = frozenset(),
) -> list[Change]:
    """The changes found walking ``new_root`` (an upper dir, or a full tree with
    ``compare_all``), without the parent directories that only hold changes.

    ``skip``: container paths not to look at (mount points), nor below.
    """
    out: list[Change] = []
    # (host dir, rel path, image children hidden here?, new subtree?)
    stack: list[tuple[str, str, bool, bool]] = [(str(new_root), "", compare_all, False)]
    while stack:
        host_dir, rel_dir, hidden, added = stack.pop()
        try:
            names = sorted(os.listdir(host_dir))
        except (FileNotFoundError, NotADirectoryError):
            continue
        present: set[str] = set()
        for name in names:
            rel = _join(rel_dir, name)
            present.add(name)
            if "/" + rel in skip:
                continue
            host = f"{host_dir}/{name}"
            st = _lstat(host)
            if st is None:
                continue
            if is_whiteout is not None and is_whiteout(host, st):
                if not added and old.lstat(rel) is not None:
                    out.append(Change("D", "/" + rel))
                continue
            is_dir = stat.S_ISDIR(st.st_mode)
            kind = "A" if added else ""
            if not added:
                ost = old.lstat(rel)
                if ost is None:
                    kind = "A"
                elif differs(ost, st):
                    kind = "C"
            if kind:
                out.append(Change(kind, "/" + rel, is_dir))
            if is_dir:
                child_hidden = hidden or (is_opaque is not None and is_opaque(host))
                stack.append((host, rel, child_hidden, kind == "A"))
        if hidden and not added:
            for name in sorted(old.children(rel_dir) - present):
                if "/" + _join(rel_dir, name) not in skip:
                    out.append(Change("D", "/" + _join(rel_dir, name)))
    return out


def _ancestors(path: str) -> list[str]:
    out: list[str] = []
    while True:
        path = path.rsplit("/", 1)[0]
        if not path:
            return out
        out.append(path)


def _sort_key(path: str) -> list[str]:
    """Go's WalkDir order: by path component, so a directory comes right before its content."""
    return path.split("/")


def finish(raw: Iterable[Change], excluded: Iterable[str] = ()) -> list[Change]:
    """Drop mount points (and directories that only hold them), add the directories that
    hold changes as ``C``, and sort by path."""
    excluded = set(excluded)

    def is_excluded(path: str) -> bool:
        return path in excluded or any(a in excluded for a in _ancestors(path))

    kept = [c for c in raw if not is_excluded(c.path)]
    holders = {a for e in excluded for a in _ancestors(e)}
    dropped: set[str] = set()
    for c in sorted(
        (c for c in kept if c.kind == "A" and c.is_dir and c.path in holders),
        key=lambda c: c.path.count("/"),
        reverse=True,
    ):
        prefix = c.path + "/"
        if not any(o.path.startswith(prefix) and o.path not in dropped for o in kept):
            dropped.add(c.path)
    changes = {c.path: c for c in kept if c.path not in dropped}
    for c in list(changes.values()):
        for a in _ancestors(c.path):
            changes.setdefault(a, Change("C", a, True))
    return sorted(changes.values(), key=lambda c: _sort_key(c.path))
