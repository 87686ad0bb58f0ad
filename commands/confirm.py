"""Docker's "Are you sure you want to continue? [y/N]" prompt."""

from __future__ import annotations

import sys


def confirm(warning: str) -> bool:
    sys.stdout.write(f"{warning}\nAre you sure you want to continue? [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")
