"""CNI spec versions: parsing and comparing the ``cniVersion`` strings of configs and results."""

from __future__ import annotations

import re

# Result formats pynerd can read and write (0.1.0/0.2.0: ip4/ip6; 0.3.x/0.4.0: ips with
# "version"; 1.0.0: ips without it). CHECK exists from 0.4.0 on, and so does the cached
# result as DEL's prevResult.
SUPPORTED = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0")
CHECK_MIN = "0.4.0"

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def parse(version: str) -> tuple[int, int, int]:
    """``"0.4.0"`` → ``(0, 4, 0)``; ValueError for anything that is not MAJOR.MINOR.PATCH."""
    m = _VERSION_RE.match(version)
    if not m:
        raise ValueError(f"invalid CNI version {version!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def at_least(version: str, minimum: str) -> bool:
    return parse(version) >= parse(minimum)


def is_valid(version: str) -> bool:
    return _VERSION_RE.match(version) is not None
