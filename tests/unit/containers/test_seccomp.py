"""Seccomp: the built-in profile resolved per container, Docker-format files, --security-opt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pynerd.containers.caps import DEFAULT_CAPS
from pynerd.containers.seccomp import (
    SecurityOptions,
    parse_security_opts,
    seccomp_for,
    to_oci,
)
from pynerd.containers.seccomp_default import default_profile
from pynerd.errors import InvalidArgument
from tests.unit.containers.spec_fixtures import fake_host  # noqa: F401

pytestmark = pytest.mark.usefixtures("fake_host")

DEFAULT = list(DEFAULT_CAPS)
# Refused by Docker's default profile with the default capabilities (EPERM).
REFUSED = (
    "mount",
    "umount2",
    "keyctl",
    "add_key",
    "request_key",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "init_module",
    "finit_module",
    "delete_module",
    "swapon",
    "swapoff",
    "unshare",
    "setns",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "open_by_handle_at",
    "clock_settime",
    "settimeofday",
    "pivot_root",
    "acct",
    "iopl",
    "ioperm",
    "syslog",
    "quotactl",
    "lookup_dcookie",
    "fsopen",
    "move_mount",
    "open_tree",
    "vhangup",
    "mbind",
    "nfsservctl",
    "uselib",
    "ustat",
    "sysfs",
    "_sysctl",
    "create_module",
    "get_kernel_syms",
    "query_module",
)


def allowed(seccomp: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The rules naming ``name``."""
    return [r for r in seccomp["syscalls"] if name in r["names"]]


def unconditional(seccomp: dict[str, Any], name: str) -> bool:
    return any(
        r["action"] == "SCMP_ACT_ALLOW" and not r.get("args") for r in allowed(seccomp, name)
    )


def test_default_profile_shape() -> None:
    sc = to_oci(default_profile(), DEFAULT, "amd64", (6, 1))
    assert sc is not None
    assert sc["defaultAction"] == "SCMP_ACT_ERRNO"
    assert sc["defaultErrnoRet"] == 1
    assert sc["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    for rule in sc["syscalls"]:
        assert set(rule) <= {"names", "action", "errnoRet", "args"}
    for name in ("read", "write", "execve", "clone3", "futex", "openat", "ptrace", "arch_prctl"):
        assert allowed(sc, name), name
    for name in ("read", "execve", "ptrace", "arch_prctl", "modify_ldt", "name_to_handle_at"):
        assert unconditional(sc, name), name


def test_default_profile_refuses_the_dangerous_syscalls() -> None:
    sc = to_oci(default_profile(), DEFAULT, "amd64", (6, 1))
    assert sc is not None
    for name in REFUSED:
        assert not allowed(sc, name), name
    # clone only without namespace flags; clone3 answers ENOSYS so glibc falls back
    (clone,) = allowed(sc, "clone")
    assert clone["args"] == [{"index": 0, "value": 0x7E020000, "op": "SCMP_CMP_MASKED_EQ"}]
    (clone3,) = allowed(sc, "clone3")
    assert (clone3["action"], clone3["errnoRet"]) == ("SCMP_ACT_ERRNO", 38)
    # personality only for the harmless personas
    values = sorted(r["args"][0]["value"] for r in allowed(sc, "personality"))
    assert values == [0, 8, 0x20000, 0x20008, 0xFFFFFFFF]
    # socket: everything but AF_ALG (38) and AF_VSOCK (40)
    assert [r["args"][0]["op"] for r in allowed(sc, "socket")] == [
        "SCMP_CMP_LT",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GT",
    ]
    assert not allowed(sc, "set_tls")  # arm only


def test_capabilities_reopen_their_syscalls() -> None:
    caps = [*DEFAULT, "CAP_SYS_ADMIN", "CAP_SYS_TIME", "CAP_SYS_PTRACE", "CAP_SYS_MODULE"]
    sc = to_oci(default_profile(), caps, "amd64", (6, 1))
    assert sc is not None
    for name in ("mount", "umount2", "unshare", "setns", "bpf", "clone", "clone3", "fsopen"):
        assert unconditional(sc, name), name
    assert unconditional(sc, "clock_settime")
    assert unconditional(sc, "kcmp")
    assert unconditional(sc, "init_module")
    # the restricted clone and the clone3 ENOSYS rule are gone with CAP_SYS_ADMIN
    assert all(not r.get("args") for r in allowed(sc, "clone"))
    assert all(r["action"] == "SCMP_ACT_ALLOW" for r in allowed(sc, "clone3"))
    # keyctl & co are never allowed, whatever the capabilities
    assert not allowed(sc, "keyctl")
    assert not allowed(sc, "kexec_load")


def test_arch_and_kernel_conditions() -> None:
    arm = to_oci(default_profile(), DEFAULT, "arm64", (6, 1))
    assert arm is not None
    assert arm["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert allowed(arm, "set_tls")
    assert not allowed(arm, "arch_prctl")
    old = to_oci(default_profile(), DEFAULT, "amd64", (4, 4))
    assert old is not None
    assert not allowed(old, "ptrace")  # Docker allows ptrace from kernel 4.8 only


PROFILE = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "archMap": [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
    ],
    "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "basics"},
        {"name": "exit", "action": "SCMP_ACT_ALLOW"},
        {
            "names": ["mount"],
            "action": "SCMP_ACT_ALLOW",
            "includes": {"caps": ["CAP_SYS_ADMIN"]},
        },
        {
            "names": ["chmod"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 13,
            "args": [{"index": 1, "value": 511, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
            "excludes": {"caps": ["CAP_FOWNER"]},
        },
        {"names": ["new"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "7.0"}},
        {"names": ["old"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.0"}},
    ],
}


def test_docker_format_file_is_converted(tmp_path: Path) -> None:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(PROFILE))
    sec = parse_security_opts([f"seccomp={path}"])
    assert sec.seccomp == "custom"
    sc = seccomp_for(sec, DEFAULT, privileged=False)
    assert sc == {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["exit"], "action": "SCMP_ACT_ALLOW"},
        ],
    }
    sc = seccomp_for(sec, ["CAP_SYS_ADMIN"], privileged=False)
    assert sc is not None
    assert sc["syscalls"][2:] == [
        {"names": ["mount"], "action": "SCMP_ACT_ALLOW"},
        {
            "names": ["chmod"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 13,
            "args": [{"index": 1, "value": 511, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
        },
    ]


def test_oci_format_architectures_pass_through() -> None:
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"]}
    assert to_oci(profile, DEFAULT, "amd64", (6, 1)) == {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [],
    }
    assert to_oci({}, DEFAULT, "amd64", (6, 1)) is None


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (
            {"defaultAction": "X", "architectures": ["A"], "archMap": [{"architecture": "A"}]},
            "both 'architectures' and 'archMap' are specified",
        ),
        (
            {"defaultAction": "X", "syscalls": [{"name": "a", "names": ["b"], "action": "Y"}]},
            "'name' and 'names' were specified",
        ),
    ],
)
def test_profile_errors(profile: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        to_oci(profile, DEFAULT, "amd64", (6, 1))


def test_profile_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(InvalidArgument, match=r"opening seccomp profile \(.*nope.json\) failed"):
        parse_security_opts([f"seccomp={missing}"])
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InvalidArgument, match=r"compacting json for seccomp profile"):
        parse_security_opts([f"seccomp={bad}"])


@pytest.mark.parametrize(
    ("opts", "expected"),
    [
        ([], SecurityOptions()),
        (["seccomp=unconfined"], SecurityOptions(seccomp="unconfined")),
        (["seccomp:unconfined"], SecurityOptions(seccomp="unconfined")),
        (["seccomp=builtin"], SecurityOptions()),
        (["no-new-privileges"], SecurityOptions(no_new_privileges=True)),
        (["no-new-privileges=true"], SecurityOptions(no_new_privileges=True)),
        (["no-new-privileges:false"], SecurityOptions()),
        (["label=disable", "apparmor=unconfined"], SecurityOptions()),
        (["systempaths=unconfined"], SecurityOptions(systempaths_unconfined=True)),
    ],
)
def test_security_opts(opts: list[str], expected: SecurityOptions) -> None:
    assert parse_security_opts(opts) == expected


@pytest.mark.parametrize(
    ("opt", "message"),
    [
        ("foo", 'Invalid --security-opt: "foo"'),
        ("seccomp=", 'Invalid --security-opt: "seccomp="'),
        ("foo=bar", 'invalid --security-opt 2: "foo=bar"'),
        ("no-new-privileges=maybe", 'invalid --security-opt 2: "no-new-privileges=maybe"'),
    ],
)
def test_security_opt_errors(opt: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        parse_security_opts([opt])
    assert err.value.message == message


def test_no_seccomp_when_unconfined_or_privileged() -> None:
    assert seccomp_for(SecurityOptions(seccomp="unconfined"), DEFAULT, False) is None
    assert seccomp_for(SecurityOptions(), DEFAULT, True) is None
    assert seccomp_for(SecurityOptions(), DEFAULT, False) is not None
