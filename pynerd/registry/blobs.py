"""Streaming blob bodies and digest helpers for the registry client."""

from __future__ import annotations

import hashlib
from collections.abc import Generator, Iterator

from pynerd.registry.errors import ConnectionDropped, DigestMismatch
from pynerd.registry.transport import Response, TransportError

CHUNK = 1 << 20


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_with(data: bytes, like: str) -> str:
    """``data``'s digest in the algorithm of ``like`` (``sha256:…``/``sha512:…``)."""
    algorithm = like.partition(":")[0]
    try:
        return f"{algorithm}:" + hashlib.new(algorithm, data).hexdigest()
    except ValueError:
        return sha256_digest(data)


class BlobReader:
    """A streaming blob body. ``offset`` is where the data starts (0 if the server ignored our
    Range request), ``size`` the blob's total size when the server said (else None).

    Reading errors leave as :class:`ConnectionDropped` (``bytes_read`` says how far it got, so
    the caller can resume with ``fetch_blob(..., offset=...)``); a body shorter than announced
    is one too. With ``verify`` (only when ``offset`` is 0) the digest is checked at the end.
    """

    def __init__(
        self,
        response: Response,
        digest: str,
        offset: int,
        size: int | None,
        verify: bool = False,
        host: str = "",
    ) -> None:
        self._response = response
        self.digest = digest
        self.offset = offset
        self.size = size
        self.url = response.url
        self._host = host
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit():
            self._expected: int | None = int(length)
        elif size is not None:
            self._expected = size - offset
        else:
            self._expected = None
        self._hash = hashlib.new(digest.partition(":")[0]) if verify and offset == 0 else None
        self._received = 0
        self._buffer = b""
        self._gen: Generator[bytes, None, None] | None = None

    @property
    def bytes_read(self) -> int:
        """Absolute position in the blob reached so far (``offset`` + bytes received)."""
        return self.offset + self._received

    def _chunks(self, chunk_size: int) -> Generator[bytes, None, None]:
        try:
            for chunk in self._response.iter_content(chunk_size):
                if not chunk:
                    continue
                self._received += len(chunk)
                if self._hash is not None:
                    self._hash.update(chunk)
                yield chunk
        except TransportError as e:
            raise ConnectionDropped(
                f"error reading blob {self.digest} from {self._host} after "
                f"{self.bytes_read} bytes: {e.message}",
                host=self._host,
            ) from None
        finally:
            self._response.close()
        if self._expected is not None and self._received != self._expected:
            raise ConnectionDropped(
                f"blob {self.digest} from {self._host}: connection closed after "
                f"{self.bytes_read} of {self.offset + self._expected} bytes",
                host=self._host,
            )
        if self._hash is not None:
            actual = f"{self.digest.partition(':')[0]}:{self._hash.hexdigest()}"
            if actual != self.digest:
                raise DigestMismatch(
                    f"digest mismatch for blob from {self._host}: expected {self.digest}, "
                    f"got {actual}",
                    expected=self.digest,
                    actual=actual,
                )

    def _stream(self, chunk_size: int) -> Generator[bytes, None, None]:
        if self._gen is None:
            self._gen = self._chunks(chunk_size)
        return self._gen

    def iter_chunks(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        if self._buffer:
            data, self._buffer = self._buffer, b""
            yield data
        yield from self._stream(chunk_size)

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all that is left when ``n`` < 0); b"" at the end."""
        stream = self._stream(CHUNK)
        if n < 0:
            data = self._buffer + b"".join(stream)
            self._buffer = b""
            return data
        while len(self._buffer) < n:
            chunk = next(stream, None)
            if chunk is None:
                break
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def close(self) -> None:
        self._response.close()
        if self._gen is not None:
            self._gen.close()

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def content_range(value: str) -> tuple[int | None, int | None]:
    """``bytes 100-199/1000`` → (100, 1000); the total is None for ``*``."""
    unit, _, spec = value.strip().partition(" ")
    if unit.lower() != "bytes":
        return None, None
    span, _, total = spec.partition("/")
    first = span.partition("-")[0]
    if not first.isdigit():
        return None, None
    return int(first), int(total) if total.isdigit() else None


def range_total(value: str) -> int | None:
    total = value.rpartition("/")[2].strip()
    return int(total) if total.isdigit() else None
