"""Docker's ``--filter key=value`` flags: parsing and validation shared by listings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pynerd.errors import InvalidArgument

Filters = dict[str, list[str]]


def parse_filters(raw: Iterable[str], allowed: Sequence[str]) -> Filters:
    """``["label=a", "status=exited"]`` -> ``{"label": ["a"], "status": ["exited"]}``."""
    out: Filters = {}
    for item in raw:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep:
            raise InvalidArgument(f"bad format of filter (expected name=value): {item}")
        if key not in allowed:
            raise InvalidArgument(f"invalid filter '{key}'")
        out.setdefault(key, []).append(value)
    return out


def label_matches(labels: dict[str, str] | None, wanted: Sequence[str]) -> bool:
    """Every ``key`` or ``key=value`` (or ``key!=value``) in ``wanted`` holds for ``labels``."""
    labels = labels or {}
    for w in wanted:
        if "!=" in w:
            k, v = w.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "=" in w:
            k, v = w.split("=", 1)
            if labels.get(k) != v:
                return False
        elif w not in labels:
            return False
    return True


def until_bound(value: str) -> str:
    """Docker's ``until`` filter value as a UTC RFC 3339 time, comparable as text with a
    ``Created`` field: a Go duration before now (``24h``, ``1h30m``), a Unix timestamp, or
    an RFC 3339 time or date (no zone: local time, as Docker)."""
    import re
    import time
    from datetime import datetime

    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", value)
    if parts and "".join(n + u for n, u in parts) == value:
        t = time.time() - sum(float(n) * units[u] for n, u in parts)
    elif re.fullmatch(r"\d+(?:\.\d+)?", value):
        t = float(value)
    else:
        try:
            t = datetime.fromisoformat(value).timestamp()  # no zone: local time, as Docker
        except ValueError:
            raise InvalidArgument(f'failed to parse value as time or duration: "{value}"') from None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"
