"""pynerd.network.netns against the kernel: pinned namespaces, the shared dir, exec_in."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from pynerd.errors import AlreadyExists, InvalidArgument
from pynerd.network import netns

pytestmark = pytest.mark.integration

if os.geteuid() != 0:  # pragma: no cover
    pytest.skip("needs root", allow_module_level=True)


def mounts_under(directory: Path) -> list[tuple[str, str]]:
    """(mount point, optional fields) of every mount at or below ``directory``."""
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split(" - ")[0].split()
        point = fields[4]
        if point == str(directory) or point.startswith(f"{directory}/"):
            out.append((point, " ".join(fields[6:])))
    return out


def links(path: Path) -> list[dict[str, object]]:
    done = netns.exec_in(path, subprocess.run, ["ip", "-j", "link"], capture_output=True)
    result: list[dict[str, object]] = json.loads(done.stdout)
    return result


def test_create_pins_a_fresh_namespace_with_loopback_up(run_root: Path) -> None:
    directory = run_root / "netns"
    path = netns.create(directory, "a")
    try:
        assert path == directory / "a"
        assert netns.is_netns(path)
        assert os.stat(path).st_ino != os.stat("/proc/self/ns/net").st_ino
        found = links(path)
        assert [link["ifname"] for link in found] == ["lo"]
        assert "UP" in found[0]["flags"]  # type: ignore[operator]
        # iproute2's layout: the directory is a shared mount, the namespace a bind in it.
        found_mounts = dict(mounts_under(directory))
        assert "shared:" in found_mounts[str(directory)]
        assert str(path) in found_mounts
    finally:
        netns.remove(path)
    assert not path.exists()
    assert mounts_under(directory) == []  # the last removal undoes the dir's self-bind


def test_namespaces_are_distinct_and_names_unique(run_root: Path) -> None:
    directory = run_root / "netns"
    a = netns.create(directory, "a")
    try:
        b = netns.create(directory, "b")
        try:
            assert os.stat(a).st_ino != os.stat(b).st_ino
            with pytest.raises(AlreadyExists):
                netns.create(directory, "a")
            netns.remove(a)
            assert mounts_under(directory) != []  # b still lives in the shared dir
        finally:
            netns.remove(b)
    finally:
        netns.remove(a)  # already gone: fine
    assert mounts_under(directory) == []


@pytest.mark.parametrize("name", ["", "a/b", ".hidden"])
def test_invalid_names(run_root: Path, name: str) -> None:
    with pytest.raises(InvalidArgument):
        netns.create(run_root / "netns", name)


def test_exec_in_runs_in_the_namespace_and_leaves_the_caller_alone(run_root: Path) -> None:
    path = netns.create(run_root / "netns", "x")
    try:
        mine = os.readlink("/proc/thread-self/ns/net")
        inside = netns.exec_in(path, os.readlink, "/proc/thread-self/ns/net")
        assert inside != mine
        assert inside == f"net:[{os.stat(path).st_ino}]"
        assert os.readlink("/proc/thread-self/ns/net") == mine

        def boom() -> None:
            raise ValueError("inside")

        with pytest.raises(ValueError, match="inside"):
            netns.exec_in(path, boom)
    finally:
        netns.remove(path)


def test_a_leftover_mount_point_is_not_a_namespace(run_root: Path) -> None:
    directory = run_root / "netns"
    directory.mkdir()
    (directory / "stale").touch()  # what a create killed before its bind mount leaves
    assert not netns.is_netns(directory / "stale")
    netns.remove(directory / "stale")
    assert not (directory / "stale").exists()


def test_create_and_remove_are_fast(run_root: Path) -> None:
    directory = run_root / "netns"
    created, removed = [], []
    for i in range(20):
        t0 = time.perf_counter()
        path = netns.create(directory, f"n{i}")
        t1 = time.perf_counter()
        netns.remove(path)
        created.append(t1 - t0)
        removed.append(time.perf_counter() - t1)
    created.sort()
    removed.sort()
    print(f"netns create median {created[10] * 1e3:.2f} ms, remove {removed[10] * 1e3:.2f} ms")
    assert created[10] < 0.05 and removed[10] < 0.05  # ~1 ms and ~0.2 ms here
