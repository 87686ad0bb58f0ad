"""Linux capabilities: Docker's default set and ``--cap-add``/``--cap-drop``/``--privileged``."""

from __future__ import annotations

from collections.abc import Iterable

from pynerd.errors import InvalidArgument

# Index = capability number (linux/capability.h).
CAP_NAMES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)

# moby oci/caps DefaultCapabilities(), in moby's order.
DEFAULT_CAPS = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)


def last_cap() -> int:
    """The running kernel's highest capability number (Docker offers only those)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return min(int(f.read()), len(CAP_NAMES) - 1)
    except (OSError, ValueError):
        return len(CAP_NAMES) - 1


def current_caps() -> int:
    """This process's effective capability mask (0 if unknown or unprivileged)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return 0


def all_caps() -> list[str]:
    """What ``--privileged`` grants: the kernel's capabilities that we hold ourselves.

    As moby (containerd's cap.Current): runc cannot hand out a capability missing from
    our own set, so a restricted host (no CAP_SYS_RESOURCE, say) still runs privileged.
    """
    known = CAP_NAMES[: last_cap() + 1]
    mask = current_caps()
    if not mask:
        return list(known)
    return [name for bit, name in enumerate(known) if mask >> bit & 1]


def normalize(names: Iterable[str], flag: str) -> list[str]:
    """Upper-case, add ``CAP_``, keep ``ALL``; unknown → Docker's ``invalid CapAdd: …``.

    A known capability this host cannot grant is skipped, as moby does.
    """
    available = set(all_caps())
    out = []
    for name in names:
        cap = name.upper()
        if cap != "ALL":
            cap = cap if cap.startswith("CAP_") else "CAP_" + cap
            if cap not in CAP_NAMES:
                raise InvalidArgument(f'invalid {flag}: unknown capability: "{cap}"')
            if cap not in available:
                continue
        out.append(cap)
    return out


def tweak_caps(
    add: Iterable[str], drop: Iterable[str], privileged: bool, base: Iterable[str] = DEFAULT_CAPS
) -> list[str]:
    """moby's TweakCapabilities: privileged → all; add ALL → all minus drops; drop ALL → adds."""
    adds, drops = normalize(add, "CapAdd"), normalize(drop, "CapDrop")
    if privileged:
        return all_caps()
    if "ALL" in adds:
        caps = [c for c in all_caps() if c not in drops]
    elif "ALL" in drops:
        caps = adds
    else:
        caps = [c for c in base if c not in drops] + adds
    return list(dict.fromkeys(caps))  # runc does not mind duplicates; people reading do


def cap_mask(caps: Iterable[str]) -> int:
    """The bit mask /proc/PID/status shows for ``caps`` (CapEff: 00000000a80425fb)."""
    return sum(1 << CAP_NAMES.index(c) for c in caps)
