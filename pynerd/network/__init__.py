"""Container networking through CNI plugins (the runtime side of the CNI spec)."""

from __future__ import annotations
