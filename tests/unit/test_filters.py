"""Docker's --filter values shared by the listings and prunes."""

from __future__ import annotations

import time

import pytest

from pynerd.errors import InvalidArgument
from pynerd.filters import until_bound


def test_until_bound_forms() -> None:
    now = time.time()
    day_ago = until_bound("24h")
    assert day_ago < time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 86000))
    assert day_ago > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 87000))
    assert until_bound("1h30m") > day_ago
    assert until_bound("0") == "1970-01-01T00:00:00.000000000Z"
    assert until_bound("1700000000.5").startswith("2023-11-14T22:13:20.5")
    assert until_bound("2026-01-02T03:04:05Z").startswith("2026-01-02T03:04:05")
    with pytest.raises(InvalidArgument, match="failed to parse value as time or duration"):
        until_bound("yesterday")


def test_until_bound_compares_with_created_fields() -> None:
    """Every store's ``Created`` is RFC 3339 UTC text, so the bound compares as text."""
    created = "2026-11-26T12:00:00.000000001Z"
    assert created >= until_bound("2026-11-26T11:59:59Z")
    assert not created >= until_bound("2026-11-26T12:00:01Z")
