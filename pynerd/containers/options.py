"""What ``create``/``run`` were asked for: the options object every container subsystem shares.

The CLI fills :class:`CreateOptions` from Docker's flags (values kept as the user
typed them, e.g. ``memory="512m"``); the library parses and validates them.
The spec builder (``containers.spec``), the volume resolver (``volumes``), the
network set-up and the lifecycle code all read the same object.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any, TypeVar, dataclass_transform

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True)
def frozen_record(cls: type[_T]) -> type[_T]:
    """``@dataclass(frozen=True)`` for classes of many fields, without its start-up cost.

    ``dataclass`` compiles an ``__init__``, ``__eq__``, ``__hash__`` and ``__repr__`` per
    class with ``exec``: ~3.5 ms for this module's three classes (61 fields in
    :class:`CreateOptions`), paid by every ``run`` before anything else happens. These
    generic methods do the same (keyword or positional arguments, defaults,
    immutability, equality, hashing, repr) and type checkers see a frozen dataclass
    (PEP 681). ``dataclasses.fields`` and ``replace`` do not apply: nothing uses them
    on these classes.
    """
    names = tuple(cls.__annotations__)
    defaults = {n: cls.__dict__[n] for n in names if n in cls.__dict__}
    qualname = cls.__qualname__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(names):
            raise TypeError(f"{qualname}() takes at most {len(names)} positional arguments")
        values = dict(defaults)
        values.update(zip(names, args, strict=False))
        for name, value in kwargs.items():
            if name not in names:
                raise TypeError(f"{qualname}() got an unexpected keyword argument {name!r}")
            if name in names[: len(args)]:
                raise TypeError(f"{qualname}() got multiple values for argument {name!r}")
            values[name] = value
        missing = [n for n in names if n not in values]
        if missing:
            raise TypeError(f"{qualname}() missing required arguments: {', '.join(missing)}")
        for name in names:
            object.__setattr__(self, name, values[name])

    def _values(self: Any) -> tuple[Any, ...]:
        return tuple(getattr(self, n) for n in names)

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(_values(self) == _values(other))

    def __hash__(self: Any) -> int:
        return hash(_values(self))

    def __repr__(self: Any) -> str:
        return f"{qualname}({', '.join(f'{n}={getattr(self, n)!r}' for n in names)})"

    def __setattr__(self: Any, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self: Any, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    for fn in (__init__, __eq__, __hash__, __repr__, __setattr__, __delattr__):
        fn.__qualname__ = f"{qualname}.{fn.__name__}"
        setattr(cls, fn.__name__, fn)
    return cls


@frozen_record
class MountRequest:
    """One ``-v``/``--mount``/``--tmpfs`` as parsed, before volumes are created or resolved.

    ``type`` is "bind", "volume" or "tmpfs". ``source`` is a host path (bind), a
    volume name (volume; "" for an anonymous volume) or "" (tmpfs).
    """

    type: str
    source: str
    target: str
    readonly: bool = False
    propagation: str = ""  # rprivate (default), private, rshared, shared, rslave, slave
    tmpfs_size: int | None = None  # bytes
    tmpfs_mode: int | None = None
    volume_nocopy: bool = False
    bind_create_host_path: bool = True  # -v creates a missing host dir; --mount does not
    selinux_label: str = ""  # "z"/"Z": accepted, ignored (no SELinux here)
    mode: str = ""  # the -v mode text as typed ("ro,z"): inspect's Mounts[].Mode
    bind_nonrecursive: bool = False  # --mount bind-nonrecursive: "bind" instead of "rbind"
    tmpfs_options: tuple[str, ...] = ()  # other tmpfs options: exec, uid=1000, nr_inodes=…
    volume_driver: str = ""  # --mount volume-driver (only "local" exists)
    volume_labels: tuple[str, ...] = ()  # --mount volume-label=k=v, for a volume created on demand
    volume_options: tuple[str, ...] = ()  # --mount volume-opt=k=v, likewise
    origin: str = ""  # "volume" (-v), "mount" (--mount), "tmpfs" (--tmpfs)


@frozen_record
class ResolvedMount:
    """A mount ready for the OCI spec: ``source`` exists on the host."""

    type: str  # "bind", "volume", "tmpfs"
    source: str  # host path ("" for tmpfs)
    destination: str
    options: tuple[str, ...] = ()  # OCI mount options, e.g. ("rbind", "ro", "rprivate")
    name: str = ""  # volume name (named or anonymous), for inspect's Mounts and `rm -v`
    anonymous: bool = False
    rw: bool = True
    propagation: str = "rprivate"
    mode: str = ""  # Docker's Mounts[].Mode: the -v mode text, "z" for a -v named volume
    driver: str = ""  # "local" for volumes
    listed: bool = True  # False for --tmpfs: Docker keeps those out of inspect's Mounts


@frozen_record
class CreateOptions:
    """Every ``docker create``/``docker run`` flag pynerd supports, as typed."""

    image: str
    command: tuple[str, ...] = ()  # args after the image; () means the image's Cmd
    name: str | None = None
    entrypoint: str | None = None  # None: image's; "": none (clears the image's)
    env: tuple[str, ...] = ()  # -e K=V or -e K (take from the caller's environment)
    env_files: tuple[str, ...] = ()
    workdir: str | None = None
    user: str | None = None  # name, uid, name:group, uid:gid
    group_add: tuple[str, ...] = ()
    hostname: str | None = None
    domainname: str | None = None
    labels: tuple[str, ...] = ()  # K=V
    label_files: tuple[str, ...] = ()
    tty: bool = False
    interactive: bool = False
    detach: bool = False
    rm: bool = False
    init: bool = False
    privileged: bool = False
    read_only: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()  # seccomp=unconfined|FILE, no-new-privileges[:true]
    devices: tuple[str, ...] = ()  # /dev/x[:/dev/y[:rwm]]
    sysctls: tuple[str, ...] = ()  # k=v
    ulimits: tuple[str, ...] = ()  # nofile=1024:2048
    memory: str | None = None  # 512m
    memory_swap: str | None = None  # -1 for unlimited
    cpus: str | None = None  # 1.5
    cpu_shares: int | None = None
    cpuset_cpus: str | None = None
    pids_limit: int | None = None
    shm_size: str | None = None  # default 64m
    mounts: tuple[MountRequest, ...] = ()  # from -v, --mount and --tmpfs, in order
    volumes_from: tuple[str, ...] = ()
    stop_signal: str | None = None
    stop_timeout: int | None = None
    restart: str = "no"  # no, always, on-failure[:N], unless-stopped
    health_cmd: str | None = None
    health_interval: str | None = None  # Go durations: 30s, 1m
    health_timeout: str | None = None
    health_retries: int | None = None
    health_start_period: str | None = None
    no_healthcheck: bool = False
    platform: str | None = None
    pull: str = "missing"  # always, missing, never
    cidfile: str | None = None
    network: tuple[str, ...] = ()  # none, host, container:NAME, or network names
    network_aliases: tuple[str, ...] = ()
    ip: str | None = None
    mac_address: str | None = None
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    add_hosts: tuple[str, ...] = ()  # name:ip, name:host-gateway
    publish: tuple[str, ...] = ()  # -p specs
    publish_all: bool = False
    expose: tuple[str, ...] = ()
    sig_proxy: bool = True
    detach_keys: str | None = None
    attach: tuple[str, ...] = ()  # -a stdin/stdout/stderr
