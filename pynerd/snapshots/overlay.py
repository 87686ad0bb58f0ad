"""The overlayfs snapshotter: a layer's directory holds only its own changes.

A committed snapshot's ``fs`` is the layer's diff, whiteouts stored the
overlayfs way (char device 0:0, ``trusted.overlay.opaque=y``), so layers are
unpacked independently and in parallel. An active snapshot is an overlay with
its own ``fs`` as upperdir over its ancestors' ``fs`` as lowerdirs; one with
no parent is a plain bind mount of its ``fs`` (as containerd does).

Mount options pin ``index=off`` (lower layers are shared by many overlays),
``redirect_dir=off`` and ``metacopy=off`` where the kernel knows them, whatever
the host's module defaults: an upperdir then holds plain files and whiteouts
only, which is what diff/commit of a container read.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from pynerd.snapshots.base import KIND_VIEW, Mount
from pynerd.snapshots.common import DirSnapshotter
from pynerd.snapshots.fsutil import remove_tree
from pynerd.snapshots.storage import Record

_PARAMS = Path("/sys/module/overlay/parameters")


@functools.cache
def feature_options() -> tuple[str, ...]:
    """Overlay options to pin, for the features this kernel's overlay module has."""
    return tuple(
        f"{name}=off" for name in ("index", "redirect_dir", "metacopy") if (_PARAMS / name).exists()
    )


def overlay_mount(
    lowers: Sequence[str],
    upper: str | None = None,
    work: str | None = None,
    features: Sequence[str] = (),
) -> Mount:
    """The overlay Mount for ``lowers`` (nearest first) and an optional upper/work pair."""
    options = list(features)
    if upper is not None and work is not None:
        options += [f"workdir={work}", f"upperdir={upper}"]
    options.append("lowerdir=" + ":".join(lowers))
    return Mount("overlay", "overlay", tuple(options))


class OverlaySnapshotter(DirSnapshotter):
    name = "overlayfs"
    parallel_apply = True
    whiteouts = "overlay"

    def _fill_layer(self, fs: Path, parent: Record | None) -> None:
        fs.mkdir()
        os.chmod(fs, 0o755)

    def _finish_layer(self, fs: Path, parent: Record | None) -> None:
        """A layer whose tar did not set the root keeps its parent's root owner and mode.

        Each layer dir has a root, and the topmost one gives the merged root its
        attributes; without this an image's ``./`` entry would be lost under the
        first later layer. (A later layer explicitly setting the root to exactly
        0755 root:root is indistinguishable and inherits too; Docker loses more.)
        """
        if parent is None:
            return
        st = os.lstat(fs)
        if (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) != (0o755, 0, 0):
            return
        pst = os.lstat(self.meta.content(parent.id) / "fs")
        if (pst.st_uid, pst.st_gid) != (0, 0):
            os.chown(fs, pst.st_uid, pst.st_gid)
        os.chmod(fs, stat.S_IMODE(pst.st_mode))

    def _build_active(self, staging: Path, parent: Record | None) -> None:
        fs, work = staging / "fs", staging / "work"
        fs.mkdir()
        work.mkdir()
        os.chmod(work, 0o700)
        os.chmod(fs, 0o755)
        if parent is not None:
            # The merged root takes the upperdir's owner and mode: keep the image's.
            st = os.stat(self.meta.content(parent.id) / "fs")
            if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
                os.chown(fs, st.st_uid, st.st_gid)
            os.chmod(fs, stat.S_IMODE(st.st_mode))

    def _mounts(self, rec: Record) -> list[Mount]:
        lowers = [str(self.meta.content(r.id) / "fs") for r in self.meta.chain(rec.parent)]
        if rec.kind == KIND_VIEW:
            if len(lowers) == 1:  # overlay needs two lowers without an upper
                return [Mount("bind", lowers[0], ("ro", "rbind"))]
            return [overlay_mount(lowers, features=feature_options())]
        fs = self.meta.content(rec.id) / "fs"
        if not lowers:
            return [Mount("bind", str(fs), ("rw", "rbind"))]
        work = self.meta.content(rec.id) / "work"
        return [overlay_mount(lowers, str(fs), str(work), feature_options())]

    def _after_commit(self, content: Path) -> None:
        remove_tree(content / "work")
