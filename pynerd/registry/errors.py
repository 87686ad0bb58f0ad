"""Typed registry errors, each a kind from :mod:`pynerd.errors` so callers can catch by kind.

Messages follow Docker's wording where Docker has one (``manifest for busybox:nope not found:
manifest unknown: manifest unknown``) and always name the reference or host involved, plus
what the registry itself said, so the one line the CLI prints is enough to act on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from pynerd.errors import InvalidArgument, NotFound, Unavailable


class RegistryErrorMixin:
    """HTTP status and registry error codes (``MANIFEST_UNKNOWN``...) for programmatic checks."""

    status: int | None = None
    codes: tuple[str, ...] = ()


def _init(err: RegistryErrorMixin, status: int | None, codes: Sequence[str]) -> None:
    err.status = status
    err.codes = tuple(codes)


class InvalidReference(InvalidArgument):
    """An image reference that Docker's grammar rejects."""


class InvalidDigest(InvalidArgument):
    """A malformed ``algorithm:hex`` digest (go-digest's messages)."""


class DigestMismatch(InvalidArgument):
    """Content does not hash to the digest it was asked for or announced with."""

    def __init__(self, message: str, expected: str = "", actual: str = "") -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class UnsupportedMediaType(InvalidArgument):
    """A manifest type pynerd cannot use (schema 1, or something that is not an image)."""

    def __init__(self, message: str, media_type: str) -> None:
        super().__init__(message)
        self.media_type = media_type


class RegistryNotFound(NotFound, RegistryErrorMixin):
    """The registry has no such manifest, blob or repository."""

    def __init__(self, message: str, status: int | None = 404, codes: Sequence[str] = ()) -> None:
        super().__init__(message)
        _init(self, status, codes)


class Unauthorized(Unavailable, RegistryErrorMixin):
    """The registry refused our (missing or wrong) credentials.

    A kind of :class:`Unavailable` (the resource is not available *to us*); the message tells
    the user to log in.
    """

    def __init__(self, message: str, status: int | None = 401, codes: Sequence[str] = ()) -> None:
        super().__init__(message)
        _init(self, status, codes)


class RegistryUnavailable(Unavailable, RegistryErrorMixin):
    """The registry could not be reached, or kept failing (5xx, 429) after the retries.

    ``transport_kind`` is the network failure (``refused``, ``dns``, ``tls``, ``timeout``,
    ``dropped``, ``other``) when there was no HTTP answer at all.
    """

    transport_kind: str | None = None

    def __init__(
        self, message: str, host: str = "", status: int | None = None, codes: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.host = host
        _init(self, status, codes)


class ConnectionDropped(RegistryUnavailable):
    """A body stopped mid-way (reset, timeout, truncated): resume from what was received."""


class RegistryRejected(InvalidArgument, RegistryErrorMixin):
    """Any other 4xx: the registry understood and refused the request (invalid manifest...)."""

    def __init__(self, message: str, status: int | None = None, codes: Sequence[str] = ()) -> None:
        super().__init__(message)
        _init(self, status, codes)


def error_codes(body: bytes) -> tuple[str, ...]:
    """The ``code`` of each entry of a Distribution error body (``{"errors": [...]}``)."""
    return tuple(code for code, _ in _entries(body))


def describe(body: bytes, status: int, reason: str = "") -> str:
    """What the registry said, as Docker prints it: ``manifest unknown: manifest unknown``.

    Docker renders an error code ``MANIFEST_UNKNOWN`` as ``manifest unknown`` followed by the
    registry's message. Without a Distribution error body the HTTP status stands in.
    """
    parts = []
    for code, message in _entries(body):
        text = code.lower().replace("_", " ") if code else ""
        if message:
            text = f"{text}: {message}" if text else message
        if text:
            parts.append(text)
    if parts:
        return ", ".join(parts)
    if status == 401:
        return "unauthorized: authentication required"
    if status == 403:
        return "denied: requested access to the resource is denied"
    return f"{status} {reason}".strip()


def _entries(body: bytes) -> list[tuple[str, str]]:
    if not body or body[:1] not in (b"{", b" ", b"\n"):
        return []
    try:
        doc = json.loads(body)
    except ValueError:
        return []
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list):
        return []
    out = []
    for e in errors:
        if isinstance(e, dict):
            out.append((str(e.get("code") or ""), str(e.get("message") or "")))
    return out
