"""Volumes and bind mounts seen from real containers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import Cli

pytestmark = pytest.mark.integration


@pytest.fixture
def bb(cli: Cli, busybox_image) -> str:  # type: ignore[no-untyped-def]
    assert cli("pull", "-q", busybox_image.ref).code == 0
    yield busybox_image.ref
    ids = cli("ps", "-aq", "--no-trunc").out.split()
    if ids:
        assert cli("rm", "-f", *ids).code == 0


def test_named_volume_is_filled_from_the_image_once_and_shared(cli: Cli, bb: str) -> None:
    r = cli.proc(
        "run", "--rm", "-v", "etcvol:/etc", bb, "sh", "-c", "cat /etc/group; echo x > /etc/new"
    )
    assert r.code == 0 and "root:x:0:" in r.out, r.err
    r = cli.proc(
        "run", "--rm", "-v", "etcvol:/mnt:ro", bb, "sh", "-c", "cat /mnt/new; touch /mnt/y"
    )
    assert r.out == "x\n" and r.code != 0  # read-only
    cid = cli("run", "-d", "-v", "etcvol:/data", bb, "sleep", "60").out.strip()
    r = cli("volume", "rm", "etcvol")
    assert r.code == 1 and "volume is in use" in r.err and cid in r.err
    (info,) = json.loads(cli("inspect", cid).out)
    (mount,) = [m for m in info["Mounts"] if m["Destination"] == "/data"]
    assert (mount["Type"], mount["Name"], mount["RW"]) == ("volume", "etcvol", True)
    cli("rm", "-f", cid)
    assert cli("volume", "rm", "etcvol").out == "etcvol\n"


def test_anonymous_volumes_go_with_rm(cli: Cli, bb: str) -> None:
    assert cli.proc("run", "--rm", "-v", "/scratch", bb, "touch", "/scratch/f").code == 0
    assert cli("volume", "ls", "-q").out == ""  # --rm removed the anonymous volume
    cid = cli("run", "-d", "-v", "/keep", bb, "sleep", "60").out.strip()
    assert len(cli("volume", "ls", "-q").out.split()) == 1
    assert cli("rm", "-f", "-v", cid).code == 0
    assert cli("volume", "ls", "-q").out == ""


def test_bind_mounts_rw_ro_and_tmpfs(cli: Cli, bb: str, tmp_path: Path) -> None:
    host = tmp_path / "share"
    host.mkdir()
    (host / "in").write_text("from host\n")
    r = cli.proc(
        "run",
        "--rm",
        "-v",
        f"{host}:/share",
        bb,
        "sh",
        "-c",
        "cat /share/in; echo back > /share/out",
    )
    assert r.out == "from host\n" and (host / "out").read_text() == "back\n"
    r = cli.proc(
        "run",
        "--rm",
        "--mount",
        f"type=bind,src={host},dst=/share,readonly",
        bb,
        "touch",
        "/share/nope",
    )
    assert r.code != 0 and not (host / "nope").exists()
    r = cli.proc(
        "run", "--rm", "--tmpfs", "/fast:size=1m", bb, "sh", "-c", "grep ' /fast ' /proc/mounts"
    )
    assert "tmpfs" in r.out and "size=1024k" in r.out
    made = tmp_path / "created-by-v"
    assert cli.proc("run", "--rm", "-v", f"{made}:/x", bb, "true").code == 0
    assert made.is_dir()  # -v creates a missing host directory, like Docker
    r = cli.proc("run", "--rm", "--mount", f"type=bind,src={tmp_path}/missing,dst=/x", bb, "true")
    assert r.code == 125 and "bind source path does not exist" in r.err


def test_sizes_in_ps_and_inspect(cli: Cli, bb: str) -> None:
    cid = cli("run", "-d", bb, "sh", "-c", "head -c 200000 /dev/zero > /big; sleep 60").out.strip()
    import time

    time.sleep(0.5)
    (info,) = json.loads(cli("inspect", "-s", cid).out)
    assert info["SizeRw"] >= 200000 and info["SizeRootFs"] > info["SizeRw"]
    row = cli("ps", "-s", "--format", "{{.Size}}").out
    assert row.startswith("2") and "virtual" in row
