"""Writing command results to stdout (rendering itself is in :mod:`pynerd.format`)."""

from __future__ import annotations

import sys


def write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
