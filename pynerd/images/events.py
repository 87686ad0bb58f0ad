"""Progress leaves the library as events; the CLI decides how to draw them."""

from __future__ import annotations

from collections.abc import Callable

from pynerd.structs import frozen_record


@frozen_record
class Progress:
    """One line of Docker's pull/push progress.

    ``id`` is a short layer ID (12 hex digits) for per-layer lines, or "" for
    status lines such as ``Digest: sha256:…``. ``current``/``total`` are bytes.
    """

    id: str
    status: str
    current: int = 0
    total: int = 0


ProgressFn = Callable[[Progress], None]


def silent(_: Progress) -> None:
    """The default sink."""


def short_id(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]
