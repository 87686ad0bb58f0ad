"""A container's file system: ``diff``, ``export``, ``commit`` and (from :mod:`.fs_copy`) ``cp``.

All of them work on running and stopped containers alike: the rootfs stays mounted
from create until rm (and is mounted again here if a reboot unmounted it). What
"the container's own file system" means follows Docker:

* ``diff`` and ``commit`` see the snapshot's changes against the image, without the
  mount points runc creates (``/etc/hosts``, volumes…), which Docker keeps in its
  init layer (see :mod:`.fs_diff`).
* ``export`` archives the mounted rootfs as the host sees it, where volumes and binds
  are not mounted: their content is not the container's and is left out, as Docker's
  export leaves it out.
* ``cp`` sees what the container's processes see: the rootfs with its bind mounts.

``commit`` turns the changes into an OCI layer (an overlay upper dir converted back
to ``.wh.`` whiteouts and ``.wh..wh..opq`` markers; for the native snapshotter, the
computed changes), compressed into the content store exactly as ``import`` stores a
layer, and records a new image on top of the container's image: config merged as
Docker merges it, a history entry, the manifest, and the layer unpacked into a
snapshot on the image's chain (so the new image runs at once).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from pynerd.config import Config
from pynerd.containers.fs_copy import CopyResult, copy_from, copy_to
from pynerd.containers.fs_diff import Change
from pynerd.containers.fs_paths import ContainerView, MountPoint, clean
from pynerd.errors import InvalidArgument, NotFound, PynerdError
from pynerd.snapshots.mount import is_mounted

__all__ = ["CopyResult", "commit", "copy_from", "copy_to", "diff", "export", "export_file"]

Record = dict[str, Any]


# -- shared plumbing -----------------------------------------------------------------------


def snapshotter_of(cfg: Config, record: Record) -> Any:
    """The snapshotter the container was created with (not necessarily today's default)."""
    from pynerd.snapshots import get_snapshotter

    name = (record.get("Pynerd") or {}).get("Snapshotter") or cfg.snapshotter
    return get_snapshotter(name, cfg.data_root / "snapshots" / name)


def _snapshot_key(record: Record) -> str:
    return str((record.get("Pynerd") or {}).get("SnapshotKey") or record["Id"])


def rootfs_of(cfg: Config, record: Record) -> Path:
    """The container's mounted rootfs, mounted again if a reboot took the mount away."""
    from pynerd.containers.layout import paths
    from pynerd.snapshots.mount import mount_all

    rootfs = paths(cfg, record["Id"]).rootfs
    if not is_mounted(rootfs):
        snap = snapshotter_of(cfg, record)
        rootfs.mkdir(parents=True, exist_ok=True)
        mount_all(snap.mounts(_snapshot_key(record)), rootfs)
    return rootfs


def _spec_mounts(cfg: Config, record: Record) -> list[dict[str, Any]] | None:
    from pynerd.containers.layout import paths

    try:
        spec = json.loads(paths(cfg, record["Id"]).spec.read_bytes())
    except (OSError, ValueError):
        return None
    mounts = spec.get("mounts")
    return [m for m in mounts if isinstance(m, dict)] if isinstance(mounts, list) else None


def mount_points(cfg: Config, record: Record) -> set[str]:
    """Every path something is mounted on in the container (the spec's and ``Mounts``)."""
    out = {clean("/" + str(m.get("Destination", ""))) for m in record.get("Mounts") or []}
    for m in _spec_mounts(cfg, record) or []:
        out.add(clean("/" + str(m.get("destination", ""))))
    out.discard("/")
    return out


def bind_mounts(cfg: Config, record: Record) -> list[MountPoint]:
    """The container's bind mounts (volumes, binds, /etc/hosts…): from its OCI spec, or
    from the record's ``Mounts`` and etc files if the spec is unreadable."""
    spec = _spec_mounts(cfg, record)
    out: list[MountPoint] = []
    if spec is not None:
        for m in spec:
            options = [str(o) for o in m.get("options") or []]
            if m.get("type") != "bind" and "bind" not in options and "rbind" not in options:
                continue
            out.append(
                MountPoint(
                    str(m.get("destination", "")), Path(str(m.get("source"))), "ro" not in options
                )
            )
        return out
    for m in record.get("Mounts") or []:
        out.append(
            MountPoint(
                str(m.get("Destination", "")),
                Path(str(m.get("Source", ""))),
                bool(m.get("RW", True)),
            )
        )
    for key, dest in (
        ("HostsPath", "/etc/hosts"),
        ("HostnamePath", "/etc/hostname"),
        ("ResolvConfPath", "/etc/resolv.conf"),
    ):
        if record.get(key):
            out.append(MountPoint(dest, Path(record[key])))
    return out


def container_view(cfg: Config, record: Record) -> ContainerView:
    return ContainerView(rootfs_of(cfg, record), bind_mounts(cfg, record))


def _find(cfg: Config, ref: str) -> Record:
    from pynerd.containers.control import find

    return find(cfg, ref)


# -- diff --------------------------------------------------------------------------------------


def _lower_layers(snap: Any, key: str) -> list[Path]:
    """The image's layer directories under active snapshot ``key``, nearest first."""
    from pynerd.snapshots.common import DirSnapshotter

    if not isinstance(snap, DirSnapshotter):
        raise PynerdError(f"snapshotter {snap.name} cannot list a snapshot's layers")
    parent = snap.stat(key).parent
    return [snap.meta.content(r.id) / "fs" for r in snap.meta.chain(parent)]


def container_changes(cfg: Config, record: Record) -> tuple[list[Change], set[str]]:
    """The container's changes, and the paths a layer of them must leave out."""
    from pynerd.containers import fs_diff
    from pynerd.containers.fs_tar import is_opaque, is_overlay_whiteout

    snap = snapshotter_of(cfg, record)
    key = _snapshot_key(record)
    upper = snap.upper_dir(key)
    layers = _lower_layers(snap, key)
    excluded = mount_points(cfg, record)
    if snap.whiteouts == "overlay":

        def whiteout(path: str, st: os.stat_result) -> bool:
            return is_overlay_whiteout(st)

        old = fs_diff.LowerTree(layers, whiteout, is_opaque)
        raw = fs_diff.raw_changes(
            upper, old, is_whiteout=whiteout, is_opaque=is_opaque, skip=excluded
        )
    else:  # full trees: the image's top layer holds the whole image
        old = fs_diff.LowerTree(layers[:1])
        raw = fs_diff.raw_changes(upper, old, compare_all=True, skip=excluded)
    final = fs_diff.finish(raw, excluded)
    kept = {c.path for c in final}
    holders = {c.path for c in raw if c.kind == "A" and c.is_dir and c.path not in kept}
    return final, excluded | holders


def diff(cfg: Config, ref: str) -> list[tuple[str, str]]:
    """``docker diff``: (kind, path) pairs, kind ``C``, ``A`` or ``D``, sorted by path."""
    record = _find(cfg, ref)
    return [(c.kind, c.path) for c in container_changes(cfg, record)[0]]


# -- export ------------------------------------------------------------------------------------


def export(cfg: Config, ref: str, out: BinaryIO) -> None:
    """``docker export``: the container's file system as a tar stream on ``out``."""
    from pynerd.containers.fs_tar import TarWriter, Walk, write_tree

    record = _find(cfg, ref)
    rootfs = rootfs_of(cfg, record)
    fd = os.open(rootfs, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with TarWriter(out) as tw:
            write_tree(tw, fd, "", Walk())
    finally:
        os.close(fd)


def export_file(cfg: Config, ref: str, path: Path) -> None:
    """``export -o``: a temp file beside ``path``, renamed over it when complete (as Docker)."""
    import tempfile

    parent = path.parent
    if not parent.is_dir():
        raise InvalidArgument(
            f'failed to export container: invalid output path: directory "{parent}" does not exist'
        )
    if path.is_dir():
        raise InvalidArgument(f"failed to export container: open {path}: is a directory")
    _find(cfg, ref)  # a missing container leaves no file behind
    fd, tmp = tempfile.mkstemp(prefix=".pynerd_temp_", dir=parent)
    try:
        with os.fdopen(fd, "wb") as f:
            export(cfg, ref, f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# -- commit ------------------------------------------------------------------------------------

# Keys of a container's Config that an image config keeps (the OCI ImageConfig and Docker's
# extensions), in the order Docker writes them.
_IMAGE_CONFIG_KEYS = (
    "User",
    "ExposedPorts",
    "Env",
    "Entrypoint",
    "Cmd",
    "Volumes",
    "WorkingDir",
    "Labels",
    "StopSignal",
    "ArgsEscaped",
    "Healthcheck",
    "OnBuild",
    "Shell",
)
# What pynerd adds to a container's Env that Docker's container config never holds.
_SYNTHETIC_ENV = ("HOSTNAME", "HOME", "TERM")


def _commit_base(record: Record, image_cfg: dict[str, Any]) -> dict[str, Any]:
    """The container's Config as Docker's would read: without the env pynerd synthesizes
    (HOSTNAME, HOME, TERM) and the default stop signal, unless the image set them."""
    base = dict(record.get("Config") or {})
    image_keys = {e.partition("=")[0] for e in image_cfg.get("Env") or []}
    base["Env"] = [
        e
        for e in base.get("Env") or []
        if e.partition("=")[0] not in _SYNTHETIC_ENV or e.partition("=")[0] in image_keys
    ]
    if base.get("StopSignal") == "SIGTERM" and not image_cfg.get("StopSignal"):
        base.pop("StopSignal")
    return base


def _merged_config(base: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """``-c`` changes applied to the container's config, then moby's ``merge`` rule for an
    emptied entrypoint, keeping the image-config keys that have a value."""
    from pynerd.images.importer import apply_changes

    new = apply_changes(changes, base)
    if not new.get("Entrypoint"):
        if not new.get("Cmd"):
            new["Cmd"] = base.get("Cmd")
        if new.get("Entrypoint") is None:
            new["Entrypoint"] = base.get("Entrypoint")
    return {k: new[k] for k in _IMAGE_CONFIG_KEYS if new.get(k) not in (None, "", [], {})}


def _commit_name(repo_tag: str | None) -> str | None:
    if not repo_tag:
        return None
    from pynerd.registry.reference import parse_reference

    ref = parse_reference(repo_tag)
    if ref.digest:
        raise InvalidArgument("cannot commit to digest reference")
    return str(ref)


@contextmanager
def _produced(write: Callable[[BinaryIO], None]) -> Iterator[BinaryIO]:
    """A readable stream of what ``write`` writes, produced by a thread through a pipe."""
    rfd, wfd = os.pipe()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with os.fdopen(wfd, "wb") as out:
                write(out)
        except BaseException as e:  # reported to the reader's thread below
            errors.append(e)

    thread = threading.Thread(target=run, name="commit-layer", daemon=True)
    thread.start()
    reader = os.fdopen(rfd, "rb")
    try:
        yield reader
    finally:
        reader.close()  # a writer still writing gets EPIPE and stops
        thread.join()
        if errors and not isinstance(errors[0], BrokenPipeError):
            # The writer's failure is the cause of whatever the reader saw (a short stream).
            raise errors[0]


def _write_layer(cfg: Config, record: Record, out: BinaryIO) -> None:
    """The container's changes as a layer tar (uncompressed) on ``out``."""
    from pynerd.containers.fs_tar import (
        WHITEOUT_PREFIX,
        TarWriter,
        Walk,
        open_dir_beneath,
        write_tree,
    )

    snap = snapshotter_of(cfg, record)
    upper = snap.upper_dir(_snapshot_key(record))
    found, skip = container_changes(cfg, record)
    with TarWriter(out) as tw:
        if snap.whiteouts == "overlay":
            fd = os.open(upper, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                write_tree(tw, fd, "", Walk(skip=skip, overlay_whiteouts=True))
            finally:
                os.close(fd)
        else:
            for c in found:
                rel = c.path.lstrip("/")
                parent, _, name = rel.rpartition("/")
                if c.kind == "D":
                    tw.add_empty(f"{parent}/{WHITEOUT_PREFIX}{name}".lstrip("/"), 0)
                    continue
                try:
                    pfd = open_dir_beneath(upper, parent)
                except FileNotFoundError:
                    continue
                try:
                    tw.add(rel, pfd, name)
                finally:
                    os.close(pfd)


def _image_config(
    base: dict[str, Any],
    record: Record,
    config: dict[str, Any],
    diff_id: str,
    author: str,
    message: str,
    created: str,
) -> dict[str, Any]:
    """The new image's config, as the containerd image store's commit writes it: the base's
    platform and history plus one entry, its diff IDs plus the new layer's."""
    history_entry: dict[str, Any] = {
        "created": created,
        "created_by": " ".join((record.get("Config") or {}).get("Cmd") or []),
    }
    author = author or str(base.get("author") or "")
    if author:
        history_entry["author"] = author
    if message:
        history_entry["comment"] = message
    out: dict[str, Any] = {"created": created}
    if author:
        out["author"] = author
    out["architecture"] = base.get("architecture", "")
    out["os"] = base.get("os", "linux")
    if base.get("variant"):
        out["variant"] = base["variant"]
    out["config"] = config
    out["rootfs"] = {
        "type": "layers",
        "diff_ids": [*((base.get("rootfs") or {}).get("diff_ids") or []), diff_id],
    }
    out["history"] = [*(base.get("history") or []), history_entry]
    if message:
        out["comment"] = message
    return out


def _pause_during(cfg: Config, record: Record, pause: bool) -> Any:
    """Freeze a running container while its changes are read (``-p``, Docker's default)."""
    from pynerd.containers import control

    @contextmanager
    def frozen() -> Iterator[None]:
        if not pause or record["State"].get("Status") != "running":
            yield
            return
        control.pause(cfg, record)
        try:
            yield
        finally:
            with contextlib.suppress(PynerdError):
                control.unpause(cfg, control.find(cfg, record["Id"]))

    return frozen()


def commit(
    cfg: Config,
    ref: str,
    repo_tag: str | None = None,
    changes: list[str] | None = None,
    message: str = "",
    author: str = "",
    pause: bool = True,
) -> str:
    """``docker commit``: a new image from the container's changes; returns its ID."""
    from pynerd.content.store import ContentStore, sha256_digest
    from pynerd.images import manifest as mf
    from pynerd.images.gc import gc_shared
    from pynerd.images.importer import _store_layer
    from pynerd.images.manage import _keep_dangling
    from pynerd.images.pull import Puller, now_rfc3339
    from pynerd.images.store import ImageStore
    from pynerd.images.view import ImageCatalog

    name = _commit_name(repo_tag)
    record = _find(cfg, ref)
    try:
        image = ImageCatalog(cfg).view(str(record["Image"]))
    except NotFound:
        raise NotFound(f"the image of container {ref} ({record['Image']}) is gone") from None
    base = image.config
    config = _merged_config(_commit_base(record, base.get("config") or {}), list(changes or []))
    docker_types = image.manifest.media_type == mf.DOCKER_MANIFEST
    content = ContentStore(cfg.data_root / "content")
    with gc_shared(cfg):
        with (
            _pause_during(cfg, record, pause),
            _produced(lambda out: _write_layer(cfg, record, out)) as stream,
        ):
            layer, diff_id = _store_layer(cfg, stream)
        if docker_types:
            layer = {**layer, "mediaType": mf.DOCKER_LAYER_GZIP}
        created = now_rfc3339()
        config_bytes = json.dumps(
            _image_config(base, record, config, diff_id, author, message, created),
            separators=(",", ":"),
        ).encode()
        image_id = content.put(config_bytes)
        layers = [*image.manifest.layers, layer]
        manifest = {
            "schemaVersion": 2,
            "mediaType": mf.DOCKER_MANIFEST if docker_types else mf.OCI_MANIFEST,
            "config": {
                "mediaType": mf.DOCKER_CONFIG if docker_types else mf.OCI_CONFIG,
                "digest": image_id,
                "size": len(config_bytes),
            },
            "layers": layers,
        }
        manifest_bytes = json.dumps(manifest, separators=(",", ":")).encode()
        desc: dict[str, Any] = {
            "mediaType": manifest["mediaType"],
            "digest": sha256_digest(manifest_bytes),
            "size": len(manifest_bytes),
        }
        content.put(manifest_bytes, desc["digest"])
        Puller(cfg, client=None).unpack(None, layers, mf.config_diff_ids(json.loads(config_bytes)))
        new: dict[str, Any] = {
            "Name": name or image_id,
            "Target": desc,
            "Manifest": desc,
            "Config": image_id,
            "Platform": image.record.get("Platform", ""),
            "Created": created,
            "Updated": created,
        }
        images = ImageStore(cfg.namespace_root)
        if name is None:
            images.put({**new, "Dangling": True})
        else:
            old = images.get(name)
            images.put(new)
            if old is not None and old["Config"] != image_id:
                _keep_dangling(images, old)
    return image_id
