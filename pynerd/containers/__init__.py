"""Containers: records, the container store, listing (ps) and, later, the lifecycle."""

from __future__ import annotations
