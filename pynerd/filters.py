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
