"""RFC 3339 times with nanoseconds in UTC, as Docker prints them (``Created``, ``StartedAt``).

Only :mod:`time` is imported: the detached monitor uses this too, and its memory is
multiplied by the number of containers.
"""

from __future__ import annotations

import time


def now_rfc3339() -> str:
    t = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 1_000_000_000)) + (
        f".{t % 1_000_000_000:09d}Z"
    )
