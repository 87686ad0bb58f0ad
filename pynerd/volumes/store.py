"""The volumes of a namespace: a directory per volume and a record in the ``volumes`` bucket.

Data lives at ``<namespace_root>/volumes/<name>/_data`` (Docker's layout, so a
``Mountpoint`` reads the same); the record, keyed by name, is the object
``docker volume inspect`` prints plus pynerd's private state under ``"pynerd"``
(stripped before anyone sees a record). Every write holds the bucket lock, so a
create is idempotent even between two processes, and ``rm`` checks "in use" and
deletes without a create of the same name slipping in between.

A volume is "in use" while any container record of the namespace lists it in
its ``Mounts``, running or not, exactly like Docker's reference counting.
"""

from __future__ import annotations

import builtins
import json
import os
import re
import stat
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pynerd.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    PynerdError,
    no_such_volume,
)
from pynerd.filters import Filters, label_matches, parse_filters
from pynerd.format.listing import ListingSpec
from pynerd.state.kv import KVStore

Record = dict[str, Any]

ANONYMOUS_LABEL = "com.docker.volume.anonymous"  # Docker 23+; prune keys on it
PRIVATE = "pynerd"  # key of pynerd's own state inside a stored record
DATA = "_data"
NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
LIST_FILTERS = ("dangling", "driver", "label", "name")
PRUNE_FILTERS = ("label", "label!", "all")
# The local driver's options (mount(8)-like); "size" needs an XFS project quota.
LOCAL_OPTIONS = ("type", "o", "device", "size")
_REQUIRED = {"device": ("type",), "type": ("device",), "o": ("device", "type")}


def go_quote(text: str) -> str:
    """Go's ``%q`` for the strings Docker quotes in its messages."""
    return json.dumps(text, ensure_ascii=False)


def validate_name(name: str) -> None:
    """The local driver's rule; the message is Docker's, "create NAME: " included."""
    if len(name.encode()) == 1:
        raise InvalidArgument(
            f"create {name}: volume name is too short, names should be at least two "
            "alphanumeric characters"
        )
    if not _NAME.fullmatch(name):
        raise InvalidArgument(
            f"create {name}: {go_quote(name)} includes invalid characters for a local volume "
            f"name, only {go_quote(NAME_CHARS)} are allowed. If you intended to pass a host "
            "directory, use absolute path"
        )


def validate_options(name: str, options: Mapping[str, str] | None) -> None:
    """The local driver's option checks (unknown keys, the type/device/o trio)."""
    if not options:
        return
    for key in options:
        if key not in LOCAL_OPTIONS:
            raise InvalidArgument(f"create {name}: invalid option: {go_quote(key)}")
    for key, needed in _REQUIRED.items():
        if key in options:
            for other in needed:
                if other not in options:
                    raise InvalidArgument(
                        f"create {name}: missing required option: {go_quote(other)}"
                    )
    if options.get("size") not in (None, "", "0"):
        raise InvalidArgument(f"create {name}: quota size requested but no quota support")


def check_driver(driver: str) -> None:
    if driver not in ("", "local"):
        raise NotFound(f'error looking up volume plugin {driver}: plugin "{driver}" not found')


def public(record: Record) -> Record:
    """The record as ``docker volume inspect`` shows it (pynerd's private state removed)."""
    return {k: v for k, v in record.items() if k != PRIVATE}


def is_anonymous(record: Mapping[str, Any]) -> bool:
    return ANONYMOUS_LABEL in (record.get("Labels") or {})


def natural_key(name: str) -> list[Any]:
    """Docker's ``sortorder.NaturalLess``: digit runs compare by value (vol2 < vol10)."""
    parts = re.split(r"(\d+)", name)
    return [(int(p), p) if i % 2 else p for i, p in enumerate(parts)]


def go_bool(value: str) -> bool | None:
    """Go's ``strconv.ParseBool``; None when the text is not a boolean."""
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


def tree_size(path: Path) -> int:
    """Docker's ``directory.Size``: apparent bytes of everything below ``path``, inodes once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [os.fsencode(path)]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except (FileNotFoundError, NotADirectoryError):
            continue
        with entries:
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                ident = (st.st_dev, st.st_ino)
                if ident in seen:
                    continue
                seen.add(ident)
                total += st.st_size
                if stat.S_ISDIR(st.st_mode):
                    stack.append(entry.path)
    return total


@dataclass
class RemoveResult:
    removed: list[str] = field(default_factory=list)  # the arguments, echoed like Docker
    errors: list[PynerdError] = field(default_factory=list)


class VolumeStore:
    """The volumes of the namespace rooted at ``namespace_root``."""

    def __init__(self, namespace_root: Path) -> None:
        self.namespace_root = Path(namespace_root)
        self.root = self.namespace_root / "volumes"
        self.bucket = KVStore(self.namespace_root / "kv").bucket("volumes")

    def dir(self, name: str) -> Path:
        return self.root / name

    def data_path(self, name: str) -> Path:
        return self.root / name / DATA

    # -- reads

    def find(self, name: str) -> Record | None:
        """The stored record (private state included), or None."""
        if not name:
            return None
        return self.bucket.get(name)

    def get(self, name: str) -> Record:
        """``docker volume inspect NAME``'s object; :class:`NotFound` if there is none."""
        record = self.find(name)
        if record is None:
            raise no_such_volume(name)
        return public(record)

    def references(self, exclude: Iterable[str] = ()) -> dict[str, builtins.list[str]]:
        """Volume name -> IDs of the containers whose ``Mounts`` list it."""
        from pynerd.containers.store import ContainerStore

        skip = set(exclude)
        refs: dict[str, list[str]] = {}
        for record in ContainerStore(self.namespace_root).list():
            cid = str(record.get("Id", ""))
            if cid in skip:
                continue
            for m in record.get("Mounts") or []:
                name = m.get("Name")
                if m.get("Type") == "volume" and name:
                    users = refs.setdefault(name, [])
                    if cid not in users:
                        users.append(cid)
        return refs

    def list(self, filters: Iterable[str] = ()) -> builtins.list[Record]:
        """``volume ls``: the matching volumes sorted by name, as Docker's CLI sorts them."""
        from pynerd.state.pending import wait_pending

        wait_pending(self.namespace_root)  # anonymous volumes of a `run --rm` just ended
        f = parse_filters(filters, LIST_FILTERS)
        dangling = _bool_filter(f, "dangling")
        refs = self.references() if dangling is not None else {}
        out = []
        for name, record in self.bucket.items():
            if "driver" in f and record.get("Driver") not in f["driver"]:
                continue
            if "name" in f and not any(_name_matches(v, name) for v in f["name"]):
                continue
            if "label" in f and not label_matches(record.get("Labels"), f["label"]):
                continue
            if dangling is not None and (name not in refs) != dangling:
                continue
            out.append(public(record))
        return sorted(out, key=lambda r: natural_key(r["Name"]))

    def usage(self, name: str) -> int:
        """Bytes in the volume's data, counted like Docker's ``system df -v``."""
        if self.find(name) is None:
            raise no_such_volume(name)
        return tree_size(self.data_path(name))

    # -- writes

    def create(
        self,
        name: str | None = None,
        labels: Mapping[str, str] | None = None,
        driver_opts: Mapping[str, str] | None = None,
        driver: str = "local",
    ) -> Record:
        """Create a volume, or return the existing one of that name (Docker's create is
        idempotent). ``name`` None creates an anonymous volume (64-hex name, Docker's label)."""
        check_driver(driver)
        if not name:
            name = os.urandom(32).hex()
            labels = {**(labels or {}), ANONYMOUS_LABEL: ""}
        else:
            validate_name(name)
        validate_options(name, driver_opts)
        with self.bucket.txn() as t:
            existing = t.get(name)
            if existing is not None:
                return public(existing)
            self.root.mkdir(mode=0o701, parents=True, exist_ok=True)
            vdir = self.dir(name)
            if os.path.lexists(vdir):  # a create or rm killed half-way: no record owns it
                _discard_tree(vdir)
            vdir.mkdir(mode=0o755)
            data = vdir / DATA
            data.mkdir(mode=0o755)
            os.chmod(data, 0o755)
            record: Record = {
                "CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "Driver": "local",
                "Labels": dict(labels) if labels is not None else None,
                "Mountpoint": str(data),
                "Name": name,
                "Options": dict(driver_opts) if driver_opts is not None else None,
                "Scope": "local",
                PRIVATE: {"initialized": False},
            }
            t.put(name, record)
        return public(record)

    def remove_one(self, name: str, force: bool = False, exclude: Iterable[str] = ()) -> bool:
        """Remove ``name`` unless a container (other than ``exclude``) uses it.

        Returns False if it did not exist and ``force`` is set. The record goes under the
        lock and the directory is renamed aside first, so a concurrent create of the same
        name starts from a clean directory; the data is then deleted outside the lock.
        """
        with self.bucket.txn() as t:
            if t.get(name) is None:
                if force:
                    return False
                raise no_such_volume(name)
            users = self.references(exclude).get(name)
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
            t.delete(name)
            trash = self.root / f".trash-{os.urandom(8).hex()}"
            try:
                os.rename(self.dir(name), trash)
            except FileNotFoundError:
                return True
        _discard_tree(trash)
        return True

    def remove(self, names: Iterable[str], force: bool = False) -> RemoveResult:
        """``volume rm``: each name on its own; ``force`` ignores missing ones, not in-use."""
        result = RemoveResult()
        for name in names:
            try:
                self.remove_one(name, force)
            except PynerdError as e:
                result.errors.append(e)
                continue
            result.removed.append(name)
        return result

    def prune(
        self, filters: Iterable[str] = (), all: bool = False
    ) -> tuple[builtins.list[str], int]:
        """``volume prune``: unused anonymous volumes (every unused one with ``all``).

        Returns the names removed and the bytes reclaimed.
        """
        f = parse_filters(filters, PRUNE_FILTERS)
        values = f.pop("all", [])
        if len(values) > 1:
            raise InvalidArgument(
                f"invalid filter 'all=[{' '.join(values)}]': only one value is expected"
            )
        if values:
            flag = go_bool(values[0])
            if flag is None:
                raise InvalidArgument(
                    "invalid filter 'all': strconv.ParseBool: parsing "
                    f"{go_quote(values[0])}: invalid syntax"
                )
            all = all or flag
        wanted = list(f.get("label", []))
        if not all:
            wanted.append(ANONYMOUS_LABEL)
        unwanted = f.get("label!", [])
        self._sweep_trash()
        refs = self.references()
        names: list[str] = []
        reclaimed = 0
        for name, record in self.bucket.items():
            labels = record.get("Labels") or {}
            if name in refs or not label_matches(labels, wanted):
                continue
            if any(_label_hit(labels, u) for u in unwanted):
                continue
            size = tree_size(self.data_path(name))
            try:
                if not self.remove_one(name, force=True):
                    continue
            except Conflict:  # a container started using it meanwhile
                continue
            names.append(name)
            reclaimed += size
        return names, reclaimed

    def _sweep_trash(self) -> None:
        """Delete data that an ``rm`` killed after renaming it aside left behind."""
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return
        for n in names:
            if n.startswith(".trash-"):
                _discard_tree(self.root / n)

    # -- copy-up bookkeeping (see pynerd.volumes.mounts)

    def initialized(self, name: str) -> bool:
        record = self.find(name) or {}
        return bool((record.get(PRIVATE) or {}).get("initialized"))

    def set_initialized(self, name: str) -> None:
        def mark(record: Record | None) -> Record | None:
            if record is None:
                return None
            return {**record, PRIVATE: {**(record.get(PRIVATE) or {}), "initialized": True}}

        self.bucket.update(name, mark)


def _bool_filter(f: Filters, key: str) -> bool | None:
    """Docker's ``GetBoolOrDefault``: one of true/1 or false/0, else "invalid filter"."""
    values = f.get(key)
    if values is None:
        return None
    falsy = any(v in ("0", "false") for v in values)
    truthy = any(v in ("1", "true") for v in values)
    if falsy == truthy:
        raise InvalidArgument(f"invalid filter '{key}=[{' '.join(values)}]'")
    return truthy


def _name_matches(pattern: str, name: str) -> bool:
    """Docker's ``filters.Match``: exact, or the value as an unanchored regular expression."""
    if pattern == name:
        return True
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return False


def _label_hit(labels: Mapping[str, str], spec: str) -> bool:
    key, sep, value = spec.partition("=")
    return key in labels and (not sep or labels[key] == value)


def _discard_tree(path: Path) -> None:
    from pynerd.snapshots.fsutil import remove_tree

    remove_tree(path)


class VolumeRow:
    """One volume as the template fields of ``volume ls --format`` see it."""

    def __init__(self, record: Record) -> None:
        self.record = record

    @property
    def Name(self) -> str:
        return str(self.record.get("Name", ""))

    @property
    def Driver(self) -> str:
        return str(self.record.get("Driver", ""))

    @property
    def Scope(self) -> str:
        return str(self.record.get("Scope", ""))

    @property
    def Mountpoint(self) -> str:
        return str(self.record.get("Mountpoint", ""))

    @property
    def Labels(self) -> str:
        labels = self.record.get("Labels") or {}
        return ",".join(f"{k}={v}" for k, v in labels.items())

    def Label(self, name: str) -> str:
        return str((self.record.get("Labels") or {}).get(name, ""))

    @property
    def Links(self) -> str:
        return "N/A"  # Docker fills it only for `system df -v`

    @property
    def Size(self) -> str:
        return "N/A"

    @property
    def Group(self) -> str:
        return "N/A"  # cluster volumes only

    @property
    def Availability(self) -> str:
        return "N/A"

    @property
    def Status(self) -> str:
        return "N/A"

    def to_json(self) -> dict[str, Any]:
        return {
            name: getattr(self, name)
            for name in (
                "Availability",
                "Driver",
                "Group",
                "Labels",
                "Links",
                "Mountpoint",
                "Name",
                "Scope",
                "Size",
                "Status",
            )
        }


VOLUME_SPEC = ListingSpec(
    default_table="table {{.Driver}}\t{{.Name}}",
    headers={
        "Name": "VOLUME NAME",
        "Group": "GROUP",
        "Driver": "DRIVER",
        "Scope": "SCOPE",
        "Availability": "AVAILABILITY",
        "Mountpoint": "MOUNTPOINT",
        "Labels": "LABELS",
        "Label": "LABEL",
        "Links": "LINKS",
        "Size": "SIZE",
        "Status": "STATUS",
    },
    quiet="{{.Name}}",
)


def list_volumes(namespace_root: Path, filters: Iterable[str] = ()) -> builtins.list[VolumeRow]:
    """The rows ``volume ls`` prints."""
    return [VolumeRow(r) for r in VolumeStore(namespace_root).list(filters)]
