"""Content-addressed blobs: ingest, verify, commit by rename.

Layout under ``<data_root>/content`` (see docs/dir.md)::

    blobs/sha256/<hex>        committed, verified, read-only blobs
    ingest/<hex>/data         a blob being written; kept across failures so the
                              next pull resumes it with an HTTP Range request
    ingest/<hex>.lock         flock held by the one process writing that blob

Why this shape: a blob becomes visible only by an atomic rename after its
digest and size were checked, so nothing half-written is ever "in the store";
and because the ingest is keyed by the expected digest, two processes pulling
the same image meet on the same lock: the second waits, then finds the blob
committed and skips the download.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO

from pynerd.errors import InvalidArgument, NotFound, Unavailable
from pynerd.state.atomic import fsync_dir
from pynerd.state.lock import file_lock


class DigestMismatch(InvalidArgument):
    """Downloaded or supplied content does not hash to the digest it claims."""


def split_digest(digest: str) -> str:
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise InvalidArgument(f"invalid digest {digest!r}: expected sha256:<64 hex digits>")
    return hexpart


def _sha256(data: bytes = b"") -> Any:
    """hashlib's sha256, imported on first use: reading blobs (``run`` of a local image)
    never hashes, and OpenSSL's start-up costs ~2 ms."""
    import hashlib

    return hashlib.sha256(data)


def sha256_digest(data: bytes) -> str:
    hexdigest: str = _sha256(data).hexdigest()
    return "sha256:" + hexdigest


class IngestWriter:
    """Appends to one blob's ingest file; :meth:`commit` verifies and publishes it."""

    def __init__(self, store: ContentStore, digest: str, size: int | None) -> None:
        self.store = store
        self.digest = digest
        self.expected_size = size
        self.dir = store.ingest_dir(digest)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "data"
        self._hash = _sha256()
        self._file = open(self.path, "ab")  # noqa: SIM115 - closed by commit/close
        self.offset = self._file.tell()
        if self.offset:
            with open(self.path, "rb") as f:
                while chunk := f.read(1 << 20):
                    self._hash.update(chunk)
        self._closed = False

    def partial(self) -> Iterator[bytes]:
        """The bytes already ingested (for a consumer that needs the whole stream)."""
        with open(self.path, "rb") as f:
            remaining = self.offset
            while remaining > 0 and (chunk := f.read(min(1 << 20, remaining))):
                remaining -= len(chunk)
                yield chunk

    def reset(self) -> None:
        """Start over (the server ignored our Range request and sent the whole blob)."""
        self._file.seek(0)
        self._file.truncate()
        self._hash = _sha256()
        self.offset = 0

    def write(self, data: bytes) -> None:
        try:
            self._file.write(data)
        except OSError as e:
            if e.errno == errno.ENOSPC:
                raise Unavailable(
                    f"no space left on device while writing {self.digest} under {self.dir}"
                ) from None
            raise
        self._hash.update(data)
        self.offset += len(data)

    def commit(self) -> Path:
        """Verify digest and size, then rename into ``blobs/``; a mismatch discards the data."""
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as e:
            if e.errno == errno.ENOSPC:
                raise Unavailable(f"no space left on device while writing {self.digest}") from None
            raise
        self.close()
        actual = "sha256:" + self._hash.hexdigest()
        if actual != self.digest or (
            self.expected_size is not None and self.offset != self.expected_size
        ):
            self.discard()
            if actual != self.digest:
                raise DigestMismatch(f"digest mismatch for {self.digest}: got {actual}")
            raise DigestMismatch(
                f"size mismatch for {self.digest}: expected {self.expected_size}, got {self.offset}"
            )
        target = self.store.blob_path(self.digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path, 0o444)
        os.replace(self.path, target)
        fsync_dir(target.parent)
        self._remove_dir()
        return target

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)
        self._remove_dir()

    def close(self) -> None:
        if not self._closed:
            self._file.close()
            self._closed = True

    def _remove_dir(self) -> None:
        with suppress(OSError):
            self.dir.rmdir()


class ContentStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / split_digest(digest)

    def ingest_dir(self, digest: str) -> Path:
        return self.root / "ingest" / split_digest(digest)

    def exists(self, digest: str) -> bool:
        return self.blob_path(digest).exists()

    def size(self, digest: str) -> int:
        try:
            return self.blob_path(digest).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"content {digest} not found") from None

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.blob_path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"content {digest} not found") from None

    def read(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def put(self, data: bytes, digest: str | None = None) -> str:
        """Store a small blob (manifest, config) held in memory; verified if ``digest`` given."""
        actual = sha256_digest(data)
        if digest is not None and digest != actual:
            raise DigestMismatch(f"digest mismatch for {digest}: got {actual}")
        if self.exists(actual):
            return actual
        with self.writer(actual, len(data)) as w:
            if w is not None:
                if w.offset:
                    w.reset()
                w.write(data)
                w.commit()
        return actual

    @contextmanager
    def writer(self, digest: str, size: int | None = None) -> Iterator[IngestWriter | None]:
        """Exclusive writer for ``digest``; yields None when the blob is (or becomes) present.

        The lock is per blob: another process ingesting the same blob makes us
        wait, after which the blob is normally committed and we yield None.
        An exception leaves the partial data in place for a later resume,
        except a digest mismatch, which discards it.
        """
        split_digest(digest)
        if self.exists(digest):
            yield None
            return
        lock_dir = self.root / "ingest"
        lock_dir.mkdir(parents=True, exist_ok=True)
        with file_lock(lock_dir / f"{split_digest(digest)}.lock"):
            if self.exists(digest):
                yield None
                return
            w = IngestWriter(self, digest, size)
            try:
                yield w
            finally:
                w.close()

    def delete(self, digest: str) -> bool:
        try:
            self.blob_path(digest).unlink()
            return True
        except FileNotFoundError:
            return False

    def list(self) -> list[str]:
        try:
            return sorted("sha256:" + n for n in os.listdir(self.root / "blobs" / "sha256"))
        except FileNotFoundError:
            return []

    def usage(self) -> int:
        total = 0
        for d in self.list():
            with suppress(FileNotFoundError):
                total += self.blob_path(d).stat().st_size
        return total
