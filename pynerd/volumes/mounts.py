"""The bridge between volumes and containers: mount flags in, OCI-ready mounts out.

Parsing follows Docker's two stages and keeps both sets of messages: the CLI's
own checks (``--mount``'s ``invalid argument "…" for "--mount" flag: …``) and the
daemon's (``invalid volume specification: '…'``, ``invalid mount config for type
"bind": …``, the local driver's name rule), because scripts and users grep for them.

:func:`resolve` then does what Docker's daemon does at ``create``: mounts of
``--volumes-from`` containers first, explicit mounts over them, an anonymous
volume for each image ``VOLUME`` nothing else covers; named volumes are created
on demand, and an empty volume is filled once from the image's content at its
mount path (the "copy-up"), owners, modes and xattrs included.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pynerd.containers.options import MountRequest, ResolvedMount
from pynerd.errors import Conflict, InvalidArgument, NotFound, PynerdError, Unavailable

if TYPE_CHECKING:
    from pynerd.volumes.store import VolumeStore

# The volume store (and csv, for --mount) is imported by the functions that use it:
# `rm` and `run --rm` of a container without volumes only need release() to return.

Record = dict[str, Any]

PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")
_RW_MODES = ("rw", "ro", "ro-non-recursive", "ro-force-recursive", "rro")
_READONLY = ("ro", "ro-non-recursive", "ro-force-recursive", "rro")
_LABEL_MODES = ("z", "Z")
_CONSISTENCY = ("consistent", "cached", "delegated")
# Docker's tmpfs defaults; user options are merged over them (later wins).
TMPFS_DEFAULTS = ("noexec", "nosuid", "nodev", "rprivate")
# mount(8) flags tmpfs accepts, grouped by the kernel flag they set (one of each survives).
_FLAG_GROUPS = (
    ("ro", "rw"),
    ("suid", "nosuid"),
    ("dev", "nodev"),
    ("exec", "noexec"),
    ("sync", "async"),
    ("dirsync",),
    ("remount",),
    ("mand", "nomand"),
    ("atime", "noatime"),
    ("diratime", "nodiratime"),
    ("bind",),
    ("rbind",),
    ("unbindable", "runbindable", "private", "rprivate", "shared", "rshared", "slave", "rslave"),
    ("relatime", "norelatime"),
    ("strictatime", "nostrictatime"),
)
_FLAG_KEY = {flag: i for i, group in enumerate(_FLAG_GROUPS) for flag in group}
_TMPFS_DATA = ("size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol")
_RAM = re.compile(r"(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?")


# -- shared checks ---------------------------------------------------------------------


def _split(mode: str) -> list[str]:
    return mode.split(",") if mode else []


def valid_mode(mode: str) -> bool:
    """Docker's ``linuxValidMountMode``: known words, at most one of each kind."""
    counts = [0, 0, 0, 0, 0]
    for o in _split(mode):
        if o in _RW_MODES:
            counts[0] += 1
        elif o in _LABEL_MODES:
            counts[1] += 1
        elif o in PROPAGATIONS:
            counts[2] += 1
        elif o == "nocopy":
            counts[3] += 1
        elif o in _CONSISTENCY:
            counts[4] += 1
        else:
            return False
    return max(counts) <= 1


def _readonly(mode: str) -> bool:
    return any(o in _READONLY for o in _split(mode))


def _target_error(target: str) -> str | None:
    """Docker's checks of a container path: not "/", absolute."""
    if posixpath.normpath(target.replace("\\", "/")) in ("/", "//"):
        return "invalid specification: destination can't be '/'"
    if not target.replace("\\", "/").startswith("/"):
        return f"invalid mount path: '{target}' mount path must be absolute"
    return None


def _clean(path: str) -> str:
    """Go's ``path.Clean`` for absolute paths (``//x`` becomes ``/x``)."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("/") else cleaned


def _config_error(kind: str, message: str) -> InvalidArgument:
    return InvalidArgument(f'invalid mount config for type "{kind}": {message}')


def _absolute_if_dot(source: str) -> str:
    """Docker's CLI turns ``./x`` and ``.`` into absolute host paths; nothing else."""
    if source == "." or source.startswith("./"):
        return os.path.abspath(source)
    return source


def ram_in_bytes(text: str) -> int:
    """go-units ``RAMInBytes``: ``64m``, ``1.5g``, ``512kb``, ``100`` (binary multiples)."""
    m = _RAM.fullmatch(text)
    if not m:
        raise ValueError(f"invalid size: '{text}'")
    try:
        number = float(m.group(1))
    except ValueError:
        raise ValueError(f"invalid size: '{text}'") from None
    unit = (m.group(2) or "").lower()
    return int(number * (1 << (10 * " kmgtp".index(unit))) if unit else number)


def _octal(text: str) -> int | None:
    """Go's ``ParseUint(text, 8, 32)``; None when it would fail."""
    if not re.fullmatch(r"[0-7]+", text) or int(text, 8) >= 1 << 32:
        return None
    return int(text, 8)


def _size_text(size: int) -> str:
    """Docker's ``ConvertTmpfsOptions``: the largest of g/m/k that divides evenly."""
    for suffix, divisor in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if size % divisor == 0:
            return f"{size // divisor}{suffix}"
    return str(size)


# -- -v / --volume ---------------------------------------------------------------------


def parse_volume_flag(text: str) -> MountRequest:
    """``-v [SOURCE:]TARGET[:MODE]``: a bind if SOURCE is absolute, else a volume."""
    from pynerd.volumes.store import validate_name

    spec_error = InvalidArgument(f"invalid volume specification: '{text}'")
    arr = text.split(":", 3)
    if arr[0] and len(arr) >= 2:
        arr[0] = _absolute_if_dot(arr[0])
    if arr[0] == "":
        raise spec_error
    mode = ""
    if len(arr) == 1:
        source, target = "", arr[0]
    elif len(arr) == 2:
        if valid_mode(arr[1]):  # "/foo:rw": a volume cannot have only a mode
            raise spec_error
        source, target = arr
    elif len(arr) == 3:
        source, target, mode = arr
    else:
        raise spec_error
    if not valid_mode(mode):
        raise InvalidArgument(f"invalid mode: {mode}")
    kind = "bind" if source.startswith("/") else "volume"
    options = _split(mode)
    propagation = next((o for o in options if o in PROPAGATIONS), "")
    nocopy = "nocopy" in options

    def fail(message: str) -> InvalidArgument:
        return InvalidArgument(f"{spec_error.message}: {_config_error(kind, message).message}")

    if target == "":
        raise fail("field Target must not be empty")
    problem = _target_error(target)
    if problem:
        raise fail(problem)
    if kind == "bind" and nocopy:
        raise fail("field VolumeOptions must not be specified")
    if kind == "volume" and propagation:
        raise fail("field BindOptions must not be specified")
    if kind == "volume" and source:
        validate_name(source)
    return MountRequest(
        type=kind,
        source=_clean(source) if kind == "bind" else source,
        target=_clean(target),
        readonly=_readonly(mode),
        propagation=propagation,
        volume_nocopy=nocopy,
        bind_create_host_path=True,
        selinux_label=next((o for o in options if o in _LABEL_MODES), ""),
        mode=mode,
        origin="volume",
    )


# -- --mount ---------------------------------------------------------------------------


def parse_mount_flag(text: str) -> MountRequest:
    """``--mount type=bind|volume|tmpfs,source=…,target=…,…`` (CSV, like Docker's CLI)."""
    import csv

    from pynerd.volumes.store import check_driver, go_bool, validate_name, validate_options

    def flag_error(message: str) -> InvalidArgument:
        return InvalidArgument(f'invalid argument "{text}" for "--mount" flag: {message}')

    if not text:
        raise flag_error("EOF")  # what Go's CSV reader says about an empty value
    try:
        fields = next(csv.reader([text], strict=True), [])
    except csv.Error as e:
        raise flag_error(str(e)) from None
    kind, source, target = "volume", "", ""
    readonly = nocopy = nonrecursive = create_mountpoint = False
    bind_opts = volume_opts = tmpfs_opts = False
    propagation = driver = ""
    labels: list[str] = []
    vol_options: list[str] = []
    size: int | None = None
    tmode: int | None = None

    def boolean(key: str, value: str) -> bool:
        parsed = go_bool(value)
        if parsed is None:
            raise flag_error(f"invalid value for {key}: {value}")
        return parsed

    for item in fields:
        key, sep, value = item.partition("=")
        if not sep:
            if key in ("readonly", "ro"):
                readonly = True
            elif key == "volume-nocopy":
                nocopy = volume_opts = True
            elif key == "bind-nonrecursive":
                nonrecursive = bind_opts = True
            else:
                raise flag_error(f"invalid field '{item}' must be a key=value pair")
            continue
        if key == "type":
            kind = value.lower()
        elif key in ("source", "src"):
            source = _absolute_if_dot(value)
        elif key in ("target", "dst", "destination"):
            target = value
        elif key in ("readonly", "ro"):
            readonly = boolean(key, value)
        elif key == "consistency":
            pass  # a Docker Desktop hint; meaningless on Linux
        elif key == "bind-propagation":
            propagation, bind_opts = value.lower(), True
        elif key == "bind-nonrecursive":
            nonrecursive, bind_opts = boolean(key, value), True
        elif key == "bind-create-mountpoint":
            create_mountpoint, bind_opts = boolean(key, value), True
        elif key == "volume-nocopy":
            nocopy, volume_opts = boolean(key, value), True
        elif key == "volume-label":
            volume_opts = True
            if value.partition("=")[0]:
                labels.append(value)
        elif key == "volume-driver":
            driver, volume_opts = value, True
        elif key == "volume-opt":
            volume_opts = True
            if value.partition("=")[0]:
                vol_options.append(value)
        elif key == "tmpfs-size":
            try:
                size = ram_in_bytes(value)
            except ValueError:
                raise flag_error(f"invalid value for {key}: {value}") from None
            tmpfs_opts = True
        elif key == "tmpfs-mode":
            tmode = _octal(value)
            if tmode is None:
                raise flag_error(f"invalid value for {key}: {value}")
            tmpfs_opts = True
        else:
            raise flag_error(f"unexpected key '{key}' in '{item}'")
    if not kind:
        raise flag_error("type is required")
    if not target:
        raise flag_error("target is required")
    for used, prefix, owner in (
        (volume_opts, "volume", "volume"),
        (bind_opts, "bind", "bind"),
        (tmpfs_opts, "tmpfs", "tmpfs"),
    ):
        if used and kind != owner:
            raise flag_error(f"cannot mix '{prefix}-*' options with mount type '{kind}'")

    # The daemon's checks (ParseMountSpec), unwrapped as Docker prints them.
    problem = _target_error(target)
    if problem:
        raise _config_error(kind, problem)
    if kind == "bind":
        if not source:
            raise _config_error(kind, "field Source must not be empty")
        if propagation and propagation not in PROPAGATIONS:
            raise _config_error(kind, f"invalid propagation mode: {propagation}")
        if not source.startswith("/"):
            raise _config_error(kind, f"invalid mount path: '{source}' mount path must be absolute")
        source = _clean(source)
        if not create_mountpoint and not os.path.exists(source):
            raise _config_error(kind, f"bind source path does not exist: {source}")
    elif kind == "volume":
        if readonly and not source:
            raise _config_error(kind, "must not set ReadOnly mode when using anonymous volumes")
        check_driver(driver)
        if source:
            validate_name(source)
            validate_options(source, _kv(vol_options))
    elif kind == "tmpfs":
        if source:
            raise _config_error(kind, "field Source must not be specified")
    else:
        raise _config_error(kind, "mount type unknown")
    return MountRequest(
        type=kind,
        source=source,
        target=_clean(target),
        readonly=readonly,
        propagation=propagation,
        tmpfs_size=size,
        tmpfs_mode=tmode,
        volume_nocopy=nocopy,
        bind_create_host_path=create_mountpoint,
        bind_nonrecursive=nonrecursive,
        volume_driver=driver,
        volume_labels=tuple(labels),
        volume_options=tuple(vol_options),
        origin="mount",
    )


def _kv(items: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        if key:
            out[key] = value
    return out


# -- --tmpfs ---------------------------------------------------------------------------


def parse_tmpfs_flag(text: str) -> MountRequest:
    """``--tmpfs /run[:OPTIONS]``, OPTIONS as mount(8) takes them (``rw,size=64m,mode=1777``)."""
    from pynerd.volumes.store import go_quote

    target, sep, data = text.partition(":")
    problem = _target_error(target)
    if problem:
        raise InvalidArgument(problem)
    readonly = False
    size: int | None = None
    tmode: int | None = None
    extra: list[str] = []
    for option in data.split(",") if sep and data else []:
        if option == "defaults":
            continue
        if option in _FLAG_KEY:
            if option in ("ro", "rw"):
                readonly = option == "ro"
            else:
                extra.append(option)
            continue
        key, eq, value = option.partition("=")
        if not eq or key not in _TMPFS_DATA:
            shown = " ".join(go_quote(p) for p in option.split("=", 1))
            raise InvalidArgument(f"Invalid tmpfs option [{shown}]")
        if key == "size":
            with contextlib.suppress(ValueError):
                size = ram_in_bytes(value)
                continue
        elif key == "mode" and _octal(value) is not None:
            tmode = _octal(value)
            continue
        extra.append(option)  # uid=…, gid=…, or a size the kernel reads itself (50%)
    return MountRequest(
        type="tmpfs",
        source="",
        target=_clean(target),
        readonly=readonly,
        tmpfs_size=size,
        tmpfs_mode=tmode,
        tmpfs_options=tuple(extra),
        origin="tmpfs",
    )


def tmpfs_options(req: MountRequest) -> tuple[str, ...]:
    """Docker's tmpfs mount options: its defaults, then the user's, merged (later wins)."""
    options = list(TMPFS_DEFAULTS)
    if req.readonly:
        options.append("ro")
    if req.tmpfs_mode is not None:
        options.append(f"mode={req.tmpfs_mode:o}")
    if req.tmpfs_size:
        options.append(f"size={_size_text(req.tmpfs_size)}")
    options += req.tmpfs_options
    return merge_tmpfs_options(options)


def merge_tmpfs_options(options: Sequence[str]) -> tuple[str, ...]:
    """Docker's ``MergeTmpfsOptions``: one option per kernel flag and per data key."""
    from pynerd.volumes.store import go_quote

    flags: set[int] = set()
    data: set[str] = set()
    out: list[str] = []
    for option in reversed(options):
        if option == "defaults":
            continue
        if option in _FLAG_KEY:
            if _FLAG_KEY[option] not in flags:
                flags.add(_FLAG_KEY[option])
                out.append(option)
            continue
        key, eq, _ = option.partition("=")
        if not eq or key not in _TMPFS_DATA:
            shown = " ".join(go_quote(p) for p in option.split("=", 1))
            raise InvalidArgument(f"Invalid tmpfs option [{shown}]")
        if key not in data:
            data.add(key)
            out.append(option)
    return tuple(reversed(out))


# -- --volumes-from --------------------------------------------------------------------


def parse_volumes_from(spec: str) -> tuple[str, str]:
    """``CONTAINER[:ro|rw]`` -> (container reference, mode); Docker's checks and messages."""
    if not spec:
        raise InvalidArgument("volumes-from specification cannot be an empty string")
    ref, _, mode = spec.partition(":")
    if not mode:
        return ref, "rw"
    options = _split(mode)
    if not valid_mode(mode) or any(o in PROPAGATIONS for o in options) or "nocopy" in options:
        raise InvalidArgument(f"invalid mode: {mode}")
    return ref, mode


# -- resolve ---------------------------------------------------------------------------

VolumesFrom = Sequence[Record | tuple[Record, str]]


def resolve(
    namespace_root: Path,
    requests: Sequence[MountRequest],
    image_volumes: Mapping[str, Any] | None,
    volumes_from: VolumesFrom,
    rootfs: Path,
) -> list[ResolvedMount]:
    """Every mount of a new container, ready for the OCI spec.

    ``volumes_from`` holds the records of the ``--volumes-from`` containers, each
    optionally paired with the mode of its reference (``(record, "ro")``, see
    :func:`parse_volumes_from`). ``rootfs`` is the container's mounted snapshot, where
    an empty volume's initial content is copied from. Mounts come back parents first.
    Anonymous volumes created here are removed again if resolving fails.
    """
    from pynerd.volumes.store import VolumeStore

    store = VolumeStore(namespace_root)
    seen: set[str] = set()
    for req in requests:
        dest = _clean(req.target)
        if dest in seen:
            raise InvalidArgument(f"Duplicate mount point: {dest}")
        seen.add(dest)
    by_dest: dict[str, ResolvedMount] = {}
    created: list[ResolvedMount] = []  # the anonymous volumes this call made
    try:
        for item in volumes_from:
            record, mode = item if isinstance(item, tuple) else (item, "rw")
            for m in _borrowed(store, record, mode):
                by_dest[m.destination] = m
        for req in requests:
            m = _resolve_request(store, req, rootfs)
            if m.anonymous:
                created.append(m)
            by_dest[m.destination] = m
        for spec in image_volumes or {}:
            dest = _clean("/" + spec.lstrip("/"))
            if dest in by_dest:
                continue
            m = _image_volume(store, dest, rootfs)
            created.append(m)
            by_dest[dest] = m
    except BaseException:
        discard(namespace_root, created)
        raise
    ordered = list(by_dest.values())
    ordered.sort(key=lambda m: len([p for p in m.destination.split("/") if p]))
    return ordered


def _bind_options(rw: bool, propagation: str, recursive: bool = True) -> tuple[str, ...]:
    return ("rbind" if recursive else "bind", "rw" if rw else "ro", propagation or "rprivate")


def _borrowed(store: VolumeStore, record: Record, mode: str) -> list[ResolvedMount]:
    """The other container's volumes and binds (not tmpfs), read-only if it says ``:ro``."""
    from pynerd.volumes.store import is_anonymous

    writable = not _readonly(mode)
    out = []
    for m in record.get("Mounts") or []:
        kind = m.get("Type")
        rw = bool(m.get("RW", True)) and writable
        dest = str(m.get("Destination", ""))
        if kind == "volume":
            vol = store.get(str(m.get("Name", "")))
            out.append(
                ResolvedMount(
                    type="volume",
                    source=vol["Mountpoint"],
                    destination=dest,
                    options=_bind_options(rw, "rprivate"),
                    name=vol["Name"],
                    anonymous=is_anonymous(vol),
                    rw=rw,
                    mode=str(m.get("Mode", "")),
                    driver=vol["Driver"],
                )
            )
        elif kind == "bind":
            propagation = str(m.get("Propagation") or "rprivate")
            out.append(
                ResolvedMount(
                    type="bind",
                    source=str(m.get("Source", "")),
                    destination=dest,
                    options=_bind_options(rw, propagation),
                    rw=rw,
                    propagation=propagation,
                    mode=str(m.get("Mode", "")),
                )
            )
    return out


def _resolve_request(store: VolumeStore, req: MountRequest, rootfs: Path) -> ResolvedMount:
    dest = _clean(req.target)
    rw = not req.readonly
    if req.type == "bind":
        source = _clean(req.source)
        if not os.path.exists(source):
            if not req.bind_create_host_path:
                raise _config_error("bind", f"bind source path does not exist: {source}")
            os.makedirs(source, mode=0o755, exist_ok=True)
        propagation = req.propagation or "rprivate"
        return ResolvedMount(
            type="bind",
            source=source,
            destination=dest,
            options=_bind_options(rw, propagation, not req.bind_nonrecursive),
            rw=rw,
            propagation=propagation,
            mode=req.mode,
        )
    if req.type == "tmpfs":
        return ResolvedMount(
            type="tmpfs",
            source="",
            destination=dest,
            options=tmpfs_options(req),
            rw=rw,
            propagation="",
            listed=req.origin != "tmpfs",
        )
    if req.type != "volume":
        raise _config_error(req.type, "mount type unknown")
    record = store.create(
        req.source or None,
        _kv(req.volume_labels) or None,
        _kv(req.volume_options) or None,
        req.volume_driver or "local",
    )
    name = record["Name"]
    # Docker reports Mode "z" for a named volume given with -v and no mode.
    mode = (req.mode or "z") if req.origin == "volume" and req.source else req.mode
    device = _device_mount(record, dest, rw)
    if device is not None:
        return device
    if not req.volume_nocopy:
        _fill(store, name, rootfs, dest, fresh=not req.source)
    return ResolvedMount(
        type="volume",
        source=record["Mountpoint"],
        destination=dest,
        options=_bind_options(rw, "rprivate"),
        name=name,
        anonymous=not req.source,  # Docker's rm -v test: given without a name
        rw=rw,
        mode=mode,
        driver="local",
    )


def _image_volume(store: VolumeStore, dest: str, rootfs: Path) -> ResolvedMount:
    """An anonymous volume for an image ``VOLUME`` (Docker refuses one over a file)."""
    path = scoped_path(rootfs, dest)
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISDIR(os.stat(path).st_mode):
            raise Conflict(f"cannot mount volume over existing file, file exists {path}")
    record = store.create(None)
    _fill(store, record["Name"], rootfs, dest, fresh=True)
    return ResolvedMount(
        type="volume",
        source=record["Mountpoint"],
        destination=dest,
        options=_bind_options(True, "rprivate"),
        name=record["Name"],
        anonymous=True,
        driver="local",
    )


def _fill(store: VolumeStore, name: str, rootfs: Path, dest: str, fresh: bool) -> None:
    """Copy-up; a volume made just now for this mount does not outlive a failed copy."""
    try:
        copy_up(store, name, rootfs, dest)
    except BaseException:
        if fresh:
            with contextlib.suppress(PynerdError, OSError):
                store.remove_one(name, force=True)
        raise


def _device_mount(record: Record, dest: str, rw: bool) -> ResolvedMount | None:
    """A local volume made with ``-o type=… -o device=… [-o o=…]`` (Docker mounts the device
    on the host at first use; here the runtime mounts it straight into the container)."""
    opts = record.get("Options") or {}
    if not opts.get("device"):
        return None
    flags = [o for o in str(opts.get("o", "")).split(",") if o]
    name = record["Name"]
    if "bind" in flags or "rbind" in flags:
        source = str(opts["device"])
        rw = rw and "ro" not in flags
        if not os.path.exists(source):
            raise Unavailable(
                f"error while mounting volume '{record['Mountpoint']}': failed to mount local "
                f"volume: mount {source}:{record['Mountpoint']}, flags: 0x1000: "
                "no such file or directory"
            )
        return ResolvedMount(
            type="volume",
            source=source,
            destination=dest,
            options=_bind_options(rw, "rprivate"),
            name=name,
            rw=rw,
            driver="local",
        )
    if opts.get("type") == "tmpfs":
        options = [*TMPFS_DEFAULTS, *(["ro"] if not rw else []), *flags]
        return ResolvedMount(
            type="tmpfs",
            source="",
            destination=dest,
            options=merge_tmpfs_options(options),
            name=name,
            rw=rw,
            propagation="",
            driver="local",
        )
    raise Unavailable(
        f"volume {name}: local volumes of type {opts.get('type')!s} are not supported yet"
    )


# -- copy-up ---------------------------------------------------------------------------


def scoped_path(root: Path, path: str) -> Path:
    """``path`` inside ``root`` with symlinks resolved as if ``root`` were ``/``.

    Docker's ``FollowSymlinkInScope``: a link to ``/etc`` or ``../../..`` lands inside
    ``root``, never on the host. Components that do not exist are kept as they are.
    """
    from pynerd.pathscope import resolve_in_scope

    def lstat(scope_path: str) -> os.stat_result | None:
        try:
            return os.lstat(root.joinpath(scope_path.lstrip("/")))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def readlink(scope_path: str) -> str:
        return os.readlink(root.joinpath(scope_path.lstrip("/")))

    return root.joinpath(resolve_in_scope(path, lstat, readlink).lstrip("/"))


def copy_up(store: VolumeStore, name: str, rootfs: Path, dest: str) -> bool:
    """Fill volume ``name`` from the image's content at ``dest``, once, if it is empty.

    Like Docker: only an empty volume is filled; the mount point's owner and mode go
    to the volume's root too; links in the tree are copied as links, never followed.
    The volume is then marked initialized and never filled again, even if emptied.
    A per-volume lock makes two containers created at once copy only once. Returns
    whether anything was copied.
    """
    from pynerd.snapshots.fsutil import copy_tree, remove_tree
    from pynerd.state.lock import file_lock

    if store.initialized(name):
        return False
    vdir = store.dir(name)
    data = store.data_path(name)
    with file_lock(vdir / ".lock"):
        if store.initialized(name) or store.find(name) is None:
            return False
        with os.scandir(data) as entries:
            if next(entries, None) is not None:  # the user's data: leave it alone
                store.set_initialized(name)
                return False
        source = scoped_path(rootfs, dest)
        try:
            st = os.lstat(source)
        except (FileNotFoundError, NotADirectoryError):
            return False
        if not stat.S_ISDIR(st.st_mode):
            return False
        for leftover in vdir.glob(".copyup-*"):  # a copy killed half-way (we hold the lock)
            remove_tree(leftover)
        staging = vdir / f".copyup-{os.getpid()}"
        try:
            copy_tree(source, staging)
            with os.scandir(staging) as entries:
                for entry in entries:
                    os.rename(entry.path, data / entry.name)
            os.chown(data, st.st_uid, st.st_gid)
            os.chmod(data, stat.S_IMODE(st.st_mode))
        finally:
            remove_tree(staging)
        store.set_initialized(name)
        return True


# -- inspect and removal ---------------------------------------------------------------


def mounts_for_inspect(resolved: Iterable[ResolvedMount]) -> list[dict[str, Any]]:
    """Docker's ``Mounts`` entries for the container record (``--tmpfs`` ones excluded)."""
    out: list[dict[str, Any]] = []
    for m in resolved:
        if not m.listed:
            continue
        kind = "volume" if m.name else m.type
        entry: dict[str, Any] = {"Type": kind}
        if m.name:
            entry["Name"] = m.name
        entry["Source"] = m.source
        entry["Destination"] = m.destination
        if m.driver:
            entry["Driver"] = m.driver
        entry["Mode"] = m.mode
        entry["RW"] = m.rw
        entry["Propagation"] = m.propagation if kind == "bind" else ""
        out.append(entry)
    return out


def release(namespace_root: Path, record: Mapping[str, Any], remove_anonymous: bool) -> None:
    """A container is going away: with ``remove_anonymous`` (``rm -v``, ``--rm``) its
    anonymous volumes go too, unless another container still uses them (Docker ignores
    "in use" here). Named volumes are never removed."""
    mounts = record.get("Mounts") or []
    names = [m["Name"] for m in mounts if m.get("Type") == "volume" and m.get("Name")]
    if not remove_anonymous or not names:
        return
    from pynerd.volumes.store import VolumeStore, is_anonymous

    store = VolumeStore(namespace_root)
    cid = str(record.get("Id", ""))
    for name in names:
        vol = store.find(name)
        if vol is None or not is_anonymous(vol):
            continue
        with contextlib.suppress(Conflict, NotFound):
            store.remove_one(name, force=True, exclude=(cid,))


def discard(namespace_root: Path, resolved: Iterable[ResolvedMount]) -> None:
    """Undo :func:`resolve`'s anonymous volumes when creating the container fails.

    Volumes that a container record lists (e.g. borrowed with ``--volumes-from``) stay.
    """
    from pynerd.volumes.store import VolumeStore

    store = VolumeStore(namespace_root)
    for m in resolved:
        if m.anonymous and m.name:
            with contextlib.suppress(PynerdError, OSError):
                store.remove_one(m.name, force=True)
