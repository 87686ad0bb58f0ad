"""Images: references, the image store, pull/push and unpack (see docs/architecture.md)."""

from __future__ import annotations
