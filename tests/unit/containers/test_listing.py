from __future__ import annotations

import pytest

from pynerd.containers.listing import PS_SPEC, PsRow, status_text
from pynerd.format.listing import render_listing

T0 = 1767225600.0  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("state", "text"),
    [
        ({"Status": "created"}, "Created"),
        ({"Status": "running", "StartedAt": "2026-01-01T00:00:00Z"}, "Up 3 seconds"),
        ({"Status": "paused", "StartedAt": "2026-01-01T00:00:00Z"}, "Up 3 seconds (Paused)"),
        (
            {
                "Status": "running",
                "StartedAt": "2026-01-01T00:00:00Z",
                "Health": {"Status": "healthy"},
            },
            "Up 3 seconds (healthy)",
        ),
        (
            {
                "Status": "running",
                "StartedAt": "2026-01-01T00:00:00Z",
                "Health": {"Status": "starting"},
            },
            "Up 3 seconds (health: starting)",
        ),
        (
            {"Status": "exited", "ExitCode": 137, "FinishedAt": "2026-01-01T00:00:00Z"},
            "Exited (137) 3 seconds ago",
        ),
        ({"Status": "exited", "ExitCode": 0, "FinishedAt": "0001-01-01T00:00:00Z"}, "Exited (0)"),
        (
            {"Status": "restarting", "ExitCode": 1, "FinishedAt": "2026-01-01T00:00:00Z"},
            "Restarting (1) 3 seconds ago",
        ),
        ({"Status": "dead"}, "Dead"),
    ],
)
def test_status_wording(state: dict[str, object], text: str) -> None:
    assert status_text(state, T0 + 3) == text


def test_row_fields() -> None:
    rec = {
        "Id": "f" * 64,
        "Name": "/web",
        "Created": "2026-01-01T00:00:00Z",
        "Path": "/bin/sh",
        "Args": ["-c", "while true; do sleep 1; done"],
        "Config": {"Image": "busybox"},
        "State": {"Status": "running", "StartedAt": "2026-01-01T00:00:00Z"},
        "NetworkSettings": {
            "Ports": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}], "53/udp": None}
        },
    }
    row = PsRow(rec, now=T0 + 120)
    assert row.ID == "f" * 12
    assert row.Command == '"/bin/sh -c while tr…"'
    assert PsRow(rec, trunc=False).Command == '"/bin/sh -c while true; do sleep 1; done"'
    assert row.RunningFor == "2 minutes ago"
    assert row.CreatedAt == "2026-01-01 00:00:00 +0000 UTC"
    assert row.Ports == "53/udp, 127.0.0.1:8080->80/tcp"  # by port number
    assert row.Names == "web"
    out = render_listing([row], PS_SPEC)
    assert out.splitlines()[1].split("   ")[0] == "f" * 12
