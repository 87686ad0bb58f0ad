"""A small locked key/value store: one JSON file per key, one directory per bucket.

Why files and not SQLite: every value can be read without a lock (writes are
atomic renames), ``ls`` and ``cat`` explain the state to a human, and a kill -9
at any instant leaves at worst a ``.tmp-*`` file that is ignored and swept.

Writers serialize on the bucket's ``.lock`` with flock. Use :meth:`Bucket.txn`
for read-modify-write sequences that must not interleave with other processes,
e.g. reserving a unique container name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from pynerd.errors import AlreadyExists, InvalidArgument, NotFound
from pynerd.state.atomic import atomic_write, remove_stale_temps
from pynerd.state.lock import file_lock

LOCK_NAME = ".lock"
SUFFIX = ".json"
_SAFE = "-_.:@+,="

Value = dict[str, Any]


def encode_key(key: str) -> str:
    """Map any non-empty string to a safe file name (``/`` and friends percent-encoded)."""
    if not key:
        raise InvalidArgument("empty key")
    encoded = quote(key, safe=_SAFE)
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    return encoded + SUFFIX


def decode_key(filename: str) -> str:
    return unquote(filename[: -len(SUFFIX)])


class Bucket:
    """A directory of JSON values keyed by string."""

    def __init__(self, path: Path, durable: bool = True) -> None:
        self.path = path
        # False for runtime state that a power loss makes moot anyway: no fsync per write
        self.durable = durable

    # Reads: lock-free, they see the last completed write.

    def get(self, key: str) -> Value | None:
        try:
            with open(self.path / encode_key(key), "rb") as f:
                value: Value = json.load(f)
                return value
        except FileNotFoundError:
            return None
        except ValueError:
            if self.durable:
                raise
            return None  # a non-durable write torn by a power loss: as if never made

    def keys(self) -> list[str]:
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return []
        return sorted(decode_key(n) for n in names if n.endswith(SUFFIX) and n[0] != ".")

    def items(self) -> Iterator[tuple[str, Value]]:
        for key in self.keys():
            value = self.get(key)
            if value is not None:  # removed between listing and reading
                yield key, value

    def __contains__(self, key: str) -> bool:
        return (self.path / encode_key(key)).exists()

    # Writes: each takes the bucket lock.

    @contextmanager
    def txn(self) -> Iterator[BucketTxn]:
        """Hold the bucket's lock for a sequence of reads and writes."""
        self.path.mkdir(parents=True, exist_ok=True)
        with file_lock(self.path / LOCK_NAME):
            remove_stale_temps(self.path)
            yield BucketTxn(self)

    def put(self, key: str, value: Value) -> None:
        with self.txn() as t:
            t.put(key, value)

    def create(self, key: str, value: Value) -> None:
        """Store ``value`` only if ``key`` is new; else :class:`AlreadyExists`."""
        with self.txn() as t:
            t.create(key, value)

    def delete(self, key: str) -> bool:
        with self.txn() as t:
            return t.delete(key)

    def update(
        self,
        key: str,
        fn: Callable[[Value | None], Value | None],
        durable: bool | None = None,
    ) -> Value | None:
        """Read-modify-write ``key`` under the lock; ``fn`` returning None deletes it.

        ``durable=False`` skips the fsyncs for a change that a crash may lose (the
        bucket's own setting otherwise)."""
        with self.txn() as t:
            return t.update(key, fn, durable)


class BucketTxn:
    """Operations valid while the bucket's lock is held (see :meth:`Bucket.txn`)."""

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    def get(self, key: str) -> Value | None:
        return self.bucket.get(key)

    def keys(self) -> list[str]:
        return self.bucket.keys()

    def put(self, key: str, value: Value, durable: bool | None = None) -> None:
        data = json.dumps(value, separators=(",", ":"), sort_keys=False).encode()
        if durable is None:
            durable = self.bucket.durable
        atomic_write(self.bucket.path / encode_key(key), data, durable=durable)

    def create(self, key: str, value: Value) -> None:
        if key in self.bucket:
            raise AlreadyExists(f"{key} already exists")
        self.put(key, value)

    def delete(self, key: str) -> bool:
        try:
            os.unlink(self.bucket.path / encode_key(key))
        except FileNotFoundError:
            return False
        return True

    def update(
        self,
        key: str,
        fn: Callable[[Value | None], Value | None],
        durable: bool | None = None,
    ) -> Value | None:
        new = fn(self.get(key))
        if new is None:
            self.delete(key)
        else:
            self.put(key, new, durable)
        return new

    def require(self, key: str) -> Value:
        value = self.get(key)
        if value is None:
            raise NotFound(f"{key} not found")
        return value


class KVStore:
    """Buckets under one root directory (one store per namespace, see docs/dir.md)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def bucket(self, name: str, durable: bool = True) -> Bucket:
        if not name or "/" in name or name.startswith("."):
            raise InvalidArgument(f"invalid bucket name {name!r}")
        return Bucket(self.root / name, durable)
