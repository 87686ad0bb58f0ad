"""The content-addressed blob store shared by every namespace (see content.store)."""

from __future__ import annotations
