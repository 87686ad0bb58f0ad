"""Capabilities and resources: --cap-add/--cap-drop, memory/CPU/pids math and validation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pynerd.containers import caps, resources
from pynerd.containers.caps import DEFAULT_CAPS, cap_mask, tweak_caps
from pynerd.containers.options import CreateOptions
from pynerd.containers.units import DeviceMapping
from pynerd.errors import InvalidArgument
from tests.unit.containers.spec_fixtures import fake_host  # noqa: F401

pytestmark = pytest.mark.usefixtures("fake_host")


def test_default_caps_match_dockers_mask() -> None:
    assert cap_mask(tweak_caps((), (), False)) == 0xA80425FB
    assert tweak_caps((), (), False) == list(DEFAULT_CAPS)


@pytest.mark.parametrize(
    ("add", "drop", "expected"),
    [
        (("NET_ADMIN",), (), [*DEFAULT_CAPS, "CAP_NET_ADMIN"]),
        (("cap_sys_admin",), (), [*DEFAULT_CAPS, "CAP_SYS_ADMIN"]),
        (
            ("Sys_Time",),
            ("chown", "CAP_KILL"),
            [c for c in DEFAULT_CAPS if c not in ("CAP_CHOWN", "CAP_KILL")] + ["CAP_SYS_TIME"],
        ),
        ((), ("ALL",), []),
        (("NET_BIND_SERVICE",), ("all",), ["CAP_NET_BIND_SERVICE"]),
        (("CHOWN",), (), list(DEFAULT_CAPS)),  # no duplicates
    ],
)
def test_tweak_caps(add: tuple[str, ...], drop: tuple[str, ...], expected: list[str]) -> None:
    assert tweak_caps(add, drop, False) == expected


def test_add_all_and_privileged() -> None:
    every = tweak_caps(("ALL",), (), False)
    assert len(every) == 41
    assert every[0] == "CAP_CHOWN" and every[-1] == "CAP_CHECKPOINT_RESTORE"
    assert tweak_caps(("ALL",), ("NET_RAW",), False) == [c for c in every if c != "CAP_NET_RAW"]
    assert tweak_caps((), ("ALL",), True) == every


def test_unknown_capability() -> None:
    with pytest.raises(InvalidArgument) as err:
        tweak_caps(("FOO",), (), False)
    assert err.value.message == 'invalid CapAdd: unknown capability: "CAP_FOO"'
    with pytest.raises(InvalidArgument, match='invalid CapDrop: unknown capability: "CAP_BAR"'):
        tweak_caps((), ("bar",), False)


def test_privileged_gets_only_what_the_host_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sandbox without CAP_SYS_RESOURCE (bit 24) still runs --privileged, like moby."""
    monkeypatch.setattr(caps, "current_caps", lambda: 0x1FFFEFFFFFF)
    every = tweak_caps((), (), True)
    assert "CAP_SYS_RESOURCE" not in every and len(every) == 40
    assert tweak_caps(("SYS_RESOURCE",), (), False) == list(DEFAULT_CAPS)  # skipped silently


def opts(**kw: object) -> CreateOptions:
    return CreateOptions(image="i", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "memory"),
    [
        ({}, {}),
        ({"memory": "64m"}, {"limit": 64 << 20, "swap": 128 << 20}),  # default: 2x
        ({"memory": "64m", "memory_swap": "-1"}, {"limit": 64 << 20, "swap": -1}),
        ({"memory": "64m", "memory_swap": "100m"}, {"limit": 64 << 20, "swap": 100 << 20}),
        ({"memory": "64m", "memory_swap": "64m"}, {"limit": 64 << 20, "swap": 64 << 20}),
        ({"memory": "1g"}, {"limit": 1 << 30, "swap": 2 << 30}),
        ({"memory_swap": "-1"}, {}),
    ],
)
def test_memory(kw: dict[str, object], memory: dict[str, int]) -> None:
    assert resources.memory_resources(opts(**kw)) == memory


def test_memory_without_swap_accounting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources, "swap_limit_supported", lambda: False)
    assert resources.memory_resources(opts(memory="64m")) == {"limit": 64 << 20}


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"memory": "4m"}, "Minimum memory limit allowed is 6MB"),
        ({"memory": "100"}, "Minimum memory limit allowed is 6MB"),
        (
            {"memory": "64m", "memory_swap": "32m"},
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        (
            {"memory_swap": "1g"},
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ),
        (
            {"memory": "lots"},
            'invalid argument "lots" for "-m, --memory" flag: invalid size: \'lots\'',
        ),
        ({"memory": "1g", "memory_swap": "x"}, 'invalid argument "x" for "--memory-swap" flag'),
    ],
)
def test_memory_errors(kw: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        resources.memory_resources(opts(**kw))
    assert err.value.message.startswith(message)


@pytest.mark.parametrize(
    ("kw", "cpu"),
    [
        ({}, {}),
        ({"cpus": "1.5"}, {"quota": 150000, "period": 100000}),
        ({"cpus": "0.01"}, {"quota": 1000, "period": 100000}),
        ({"cpus": "4"}, {"quota": 400000, "period": 100000}),
        ({"cpus": "0"}, {}),
        ({"cpu_shares": 512}, {"shares": 512}),
        ({"cpu_shares": 1}, {"shares": 2}),
        ({"cpu_shares": 10**6}, {"shares": 262144}),
        ({"cpuset_cpus": "0-2"}, {"cpus": "0-2"}),
        ({"cpuset_cpus": "1,3"}, {"cpus": "1,3"}),
    ],
)
def test_cpu(kw: dict[str, object], cpu: dict[str, object]) -> None:
    assert resources.cpu_resources(opts(**kw)) == cpu


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"cpus": "5"}, "Range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available"),
        ({"cpus": "-1"}, "Range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available"),
        ({"cpus": "x"}, 'invalid argument "x" for "--cpus" flag: failed to parse x as a rational'),
        (
            {"cpuset_cpus": "0-7"},
            "Requested CPUs are not available - requested 0-7, available: 0-3",
        ),
        ({"cpuset_cpus": "a"}, "Invalid value a for cpuset cpus: invalid format: a"),
        ({"cpuset_cpus": "3-1"}, "Invalid value 3-1 for cpuset cpus: invalid format: 3-1"),
        ({"cpu_shares": -5}, "shares: invalid argument"),
    ],
)
def test_cpu_errors(kw: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        resources.cpu_resources(opts(**kw))
    assert err.value.message.startswith(message)


def test_pids_and_shm() -> None:
    assert resources.resources(opts(pids_limit=10), [])["pids"] == {"limit": 10}
    assert resources.resources(opts(pids_limit=0), [])["pids"] == {"limit": -1}
    assert resources.resources(opts(pids_limit=-1), [])["pids"] == {"limit": -1}
    assert "pids" not in resources.resources(opts(), [])
    assert resources.shm_size(opts()) == 64 << 20
    assert resources.shm_size(opts(shm_size="128m")) == 128 << 20
    with pytest.raises(InvalidArgument, match='invalid argument "big" for "--shm-size" flag'):
        resources.shm_size(opts(shm_size="big"))


def test_default_device_rules() -> None:
    nodes, rules = resources.devices(opts())
    assert nodes == []
    assert rules[0] == {"allow": False, "access": "rwm"}
    allowed = {
        (r.get("type"), r.get("major"), r.get("minor"), r["access"])
        for r in rules[1:]
        if r["allow"]
    }
    for dev in [("c", 1, 3), ("c", 1, 5), ("c", 1, 7), ("c", 1, 8), ("c", 1, 9), ("c", 5, 0)]:
        assert (*dev, "rwm") in allowed
    assert ("c", None, None, "m") in allowed and ("b", None, None, "m") in allowed
    assert ("c", 136, None, "rwm") in allowed and ("c", 5, 2, "rwm") in allowed


def test_device_mapping_stats_the_host_node() -> None:
    st = os.stat("/dev/null")
    nodes, rules = resources.devices(opts(devices=("/dev/null:/dev/mynull:rw",)))
    assert nodes == [
        {
            "path": "/dev/mynull",
            "type": "c",
            "major": os.major(st.st_rdev),
            "minor": os.minor(st.st_rdev),
            "fileMode": st.st_mode & 0o7777,
            "uid": st.st_uid,
            "gid": st.st_gid,
        }
    ]
    assert rules[-1] == {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}


def test_device_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument) as err:
        resources.devices(opts(devices=("/dev/does-not-exist",)))
    assert err.value.message == (
        'error gathering device information while adding custom device "/dev/does-not-exist": '
        "lstat /dev/does-not-exist: no such file or directory"
    )
    (tmp_path / "plain").write_text("")
    with pytest.raises(InvalidArgument, match="not a device node"):
        resources.devices_from_path(DeviceMapping(str(tmp_path / "plain"), "/dev/x"))
    with pytest.raises(InvalidArgument, match='invalid argument "x:y:z:w" for "--device" flag'):
        resources.devices(opts(devices=("x:y:z:w",)))


def test_privileged_devices_allow_everything() -> None:
    nodes, rules = resources.devices(opts(privileged=True))
    assert rules == [{"allow": True, "access": "rwm"}]
    paths = {n["path"] for n in nodes}
    assert "/dev/null" in paths
    assert not any(p.startswith(("/dev/pts/", "/dev/shm/")) or p == "/dev/console" for p in paths)
