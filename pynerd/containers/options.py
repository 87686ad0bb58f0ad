"""What ``create``/``run`` were asked for: the options object every container subsystem shares.

The CLI fills :class:`CreateOptions` from Docker's flags (values kept as the user
typed them, e.g. ``memory="512m"``); the library parses and validates them.
The spec builder (``containers.spec``), the volume resolver (``volumes``), the
network set-up and the lifecycle code all read the same object.
"""

from __future__ import annotations

from pynerd.structs import frozen_record


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
