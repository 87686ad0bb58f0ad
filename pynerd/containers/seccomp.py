"""``--security-opt`` and seccomp: Docker-format profiles turned into the OCI shape.

A Docker profile (``defaultAction``, ``archMap``, ``syscalls[{names, action, args,
includes, excludes}]``) is resolved for one container the way moby's setupSeccomp does it:
the archMap entry of the host's architecture becomes ``architectures``, and a rule is kept
only if its ``includes`` hold (every listed capability is in the bounding set, the arch is
listed, the kernel is at least ``minKernel``) and its ``excludes`` do not. The built-in
profile (:mod:`seccomp_default`) and ``seccomp=FILE`` go through the same code.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from pynerd.errors import InvalidArgument

# uname machine -> Go's GOARCH as moby's goToNative names it (what "arches" filters use)
_GOARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i386": "x86",
    "i686": "x86",
    "s390x": "s390x",
    "ppc64le": "ppc64le",
    "riscv64": "riscv64",
}
_SECCOMP_ARCH = {
    "amd64": "SCMP_ARCH_X86_64",
    "arm64": "SCMP_ARCH_AARCH64",
    "arm": "SCMP_ARCH_ARM",
    "x86": "SCMP_ARCH_X86",
    "s390x": "SCMP_ARCH_S390X",
    "ppc64le": "SCMP_ARCH_PPC64LE",
    "riscv64": "SCMP_ARCH_RISCV64",
}


def host_arch() -> str:
    machine = os.uname().machine
    return _GOARCH.get(machine, "arm" if machine.startswith("arm") else machine)


def kernel_version() -> tuple[int, int]:
    """(major, minor) of the running kernel, e.g. (6, 18) for 6.18.44-fc."""
    nums = []
    for part in os.uname().release.split(".")[:2]:
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        nums.append(int(digits or 0))
    nums += [0, 0]
    return nums[0], nums[1]


class SecurityOptions(NamedTuple):
    """``--security-opt`` resolved. ``seccomp``: "default", "unconfined" or "custom"."""

    seccomp: str = "default"
    seccomp_profile: Mapping[str, Any] | None = None
    no_new_privileges: bool = False
    systempaths_unconfined: bool = False


def parse_security_opts(values: Iterable[str]) -> SecurityOptions:
    """docker/cli's parseSecurityOpts + the daemon's parseSecurityOpt, same wording.

    ``label=…`` and ``apparmor=…`` are accepted and ignored (no LSM support here).
    """
    seccomp, profile, nnp, sys_unconfined = "default", None, False, False
    for opt in values:
        if opt == "systempaths=unconfined":
            sys_unconfined = True
            continue
        if opt == "no-new-privileges":
            nnp = True
            continue
        key, sep, value = opt.partition("=")
        if not sep:
            key, sep, value = opt.partition(":")
        if not sep or not value:
            raise InvalidArgument(f"Invalid --security-opt: {_go_quote(opt)}")
        if key == "seccomp":
            if value == "unconfined":
                seccomp, profile = "unconfined", None
            elif value == "builtin":
                seccomp, profile = "default", None
            else:
                seccomp, profile = "custom", load_profile(value)
        elif key == "no-new-privileges":
            parsed = _parse_bool(value)
            if parsed is None:
                raise InvalidArgument(f"invalid --security-opt 2: {_go_quote(opt)}")
            nnp = parsed
        elif key not in ("label", "apparmor"):
            raise InvalidArgument(f"invalid --security-opt 2: {_go_quote(opt)}")
    return SecurityOptions(seccomp, profile, nnp, sys_unconfined)


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _parse_bool(text: str) -> bool | None:
    """Go's strconv.ParseBool."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


def load_profile(path: str) -> dict[str, Any]:
    """Read a Docker-format profile file; errors worded as docker/cli and dockerd word them."""
    import json

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        reason = (e.strerror or str(e)).lower()
        raise InvalidArgument(
            f"opening seccomp profile ({path}) failed: open {path}: {reason}"
        ) from None
    try:
        profile = json.loads(data)
    except ValueError as e:
        raise InvalidArgument(f"compacting json for seccomp profile ({path}) failed: {e}") from None
    if not isinstance(profile, dict):
        raise InvalidArgument(
            "Decoding seccomp profile failed: json: cannot unmarshal "
            f"{type(profile).__name__} into Go value of type seccomp.Seccomp"
        )
    return profile


def _listed(values: Any, item: str) -> bool:
    return isinstance(values, list) and item in values


def _kernel_at_least(text: Any, kernel: tuple[int, int]) -> bool:
    major, _, minor = str(text).partition(".")
    try:
        want = (int(major), int(minor or 0))
    except ValueError:
        raise InvalidArgument(
            f"Decoding seccomp profile failed: invalid kernel version: {text}"
        ) from None
    return kernel >= want


def _applies(
    rule: Mapping[str, Any], caps: Sequence[str], arch: str, kernel: tuple[int, int]
) -> bool:
    exc = rule.get("excludes") or {}
    if _listed(exc.get("arches"), arch):
        return False
    if any(c in caps for c in exc.get("caps") or ()):
        return False
    if exc.get("minKernel") and _kernel_at_least(exc["minKernel"], kernel):
        return False
    inc = rule.get("includes") or {}
    if inc.get("arches") and not _listed(inc["arches"], arch):
        return False
    if any(c not in caps for c in inc.get("caps") or ()):
        return False
    return not (inc.get("minKernel") and not _kernel_at_least(inc["minKernel"], kernel))


def to_oci(
    profile: Mapping[str, Any],
    caps: Sequence[str],
    arch: str | None = None,
    kernel: tuple[int, int] | None = None,
) -> dict[str, Any] | None:
    """The OCI ``linux.seccomp`` for a container whose bounding set is ``caps``."""
    arch = arch or host_arch()
    kernel = kernel or kernel_version()
    rules = profile.get("syscalls") or []
    if not profile.get("defaultAction") and not rules:
        return None
    if profile.get("architectures") and profile.get("archMap"):
        raise InvalidArgument(
            "both 'architectures' and 'archMap' are specified in the seccomp profile, "
            "use either 'architectures' or 'archMap'"
        )
    out: dict[str, Any] = {"defaultAction": profile.get("defaultAction", "")}
    for key in ("defaultErrnoRet", "flags", "listenerPath", "listenerMetadata"):
        if profile.get(key) is not None:
            out[key] = profile[key]
    arches = list(profile.get("architectures") or [])
    native = _SECCOMP_ARCH.get(arch)
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == native:
            arches = [native, *(entry.get("subArchitectures") or [])]
            break
    out["architectures"] = arches
    syscalls = []
    for rule in rules:
        names = list(rule.get("names") or [])
        if rule.get("name"):
            if names:
                raise InvalidArgument(
                    "'name' and 'names' were specified in the seccomp profile, "
                    "use either 'name' or 'names'"
                )
            names = [rule["name"]]
        if not _applies(rule, caps, arch, kernel):
            continue
        call: dict[str, Any] = {"names": names, "action": rule.get("action", "")}
        if rule.get("errnoRet") is not None:
            call["errnoRet"] = rule["errnoRet"]
        if rule.get("args"):
            call["args"] = [dict(a) for a in rule["args"]]
        syscalls.append(call)
    out["syscalls"] = syscalls
    return out


def seccomp_for(
    sec: SecurityOptions, caps: Sequence[str], privileged: bool
) -> dict[str, Any] | None:
    """What goes in ``linux.seccomp``: nothing when unconfined or privileged (moby)."""
    if sec.seccomp == "unconfined" or privileged:
        return None
    if sec.seccomp == "custom" and sec.seccomp_profile is not None:
        return to_oci(sec.seccomp_profile, caps)
    from pynerd.containers.seccomp_default import default_profile

    return to_oci(default_profile(), caps)
