# ruff: noqa: E501 - one line per Docker flag reads best as a table
"""``pynerd run`` and ``pynerd create`` (also ``container run/create``): Docker's flags."""

from __future__ import annotations

import inspect
import sys
from typing import Any

import typer
from pynerd_cli.context import config_of
from pynerd_cli.output import write

# Docker stops parsing flags at the image: everything after it is the command.
COMMAND_CONTEXT = {"help_option_names": ["--help"], "allow_interspersed_args": False}
_L = list[str]


def _flags(
    ctx: typer.Context,
    image: str = typer.Argument(..., metavar="IMAGE"),
    command: list[str] = typer.Argument(None, metavar="[COMMAND] [ARG...]"),
    add_host: _L = typer.Option([], "--add-host", help="Add a custom host-to-IP mapping (host:ip)"),
    attach: _L = typer.Option([], "-a", "--attach", help="Attach to STDIN, STDOUT or STDERR"),
    cap_add: _L = typer.Option([], "--cap-add", help="Add Linux capabilities"),
    cap_drop: _L = typer.Option([], "--cap-drop", help="Drop Linux capabilities"),
    cidfile: str | None = typer.Option(
        None, "--cidfile", help="Write the container ID to the file"
    ),
    cpu_shares: int | None = typer.Option(
        None, "-c", "--cpu-shares", help="CPU shares (relative weight)"
    ),
    cpus: str | None = typer.Option(None, "--cpus", help="Number of CPUs"),
    cpuset_cpus: str | None = typer.Option(
        None, "--cpuset-cpus", help="CPUs in which to allow execution (0-3, 0,1)"
    ),
    detach: bool = typer.Option(
        False, "-d", "--detach", help="Run container in background and print container ID"
    ),
    detach_keys: str | None = typer.Option(
        None, "--detach-keys", help="Override the key sequence for detaching a container"
    ),
    device: _L = typer.Option([], "--device", help="Add a host device to the container"),
    dns: _L = typer.Option([], "--dns", help="Set custom DNS servers"),
    dns_option: _L = typer.Option([], "--dns-option", help="Set DNS options"),
    dns_search: _L = typer.Option([], "--dns-search", help="Set custom DNS search domains"),
    domainname: str | None = typer.Option(None, "--domainname", help="Container NIS domain name"),
    entrypoint: str | None = typer.Option(
        None, "--entrypoint", help="Overwrite the default ENTRYPOINT of the image"
    ),
    env: _L = typer.Option([], "-e", "--env", help="Set environment variables"),
    env_file: _L = typer.Option([], "--env-file", help="Read in a file of environment variables"),
    expose: _L = typer.Option([], "--expose", help="Expose a port or a range of ports"),
    group_add: _L = typer.Option([], "--group-add", help="Add additional groups to join"),
    health_cmd: str | None = typer.Option(
        None, "--health-cmd", help="Command to run to check health"
    ),
    health_interval: str | None = typer.Option(
        None, "--health-interval", help="Time between running the check (ms|s|m|h)"
    ),
    health_retries: int | None = typer.Option(
        None, "--health-retries", help="Consecutive failures needed to report unhealthy"
    ),
    health_start_period: str | None = typer.Option(
        None, "--health-start-period", help="Start period for the container to initialize"
    ),
    health_timeout: str | None = typer.Option(
        None, "--health-timeout", help="Maximum time to allow one check to run"
    ),
    hostname: str | None = typer.Option(None, "-h", "--hostname", help="Container host name"),
    init: bool = typer.Option(
        False,
        "--init",
        help="Run an init inside the container that forwards signals and reaps processes",
    ),
    interactive: bool = typer.Option(
        False, "-i", "--interactive", help="Keep STDIN open even if not attached"
    ),
    ip: str | None = typer.Option(None, "--ip", help="IPv4 address (e.g., 172.30.100.104)"),
    label: _L = typer.Option([], "-l", "--label", help="Set meta data on a container"),
    label_file: _L = typer.Option(
        [], "--label-file", help="Read in a line delimited file of labels"
    ),
    mac_address: str | None = typer.Option(None, "--mac-address", help="Container MAC address"),
    memory: str | None = typer.Option(None, "-m", "--memory", help="Memory limit"),
    memory_swap: str | None = typer.Option(
        None,
        "--memory-swap",
        help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap",
    ),
    mount: _L = typer.Option([], "--mount", help="Attach a filesystem mount to the container"),
    name: str | None = typer.Option(None, "--name", help="Assign a name to the container"),
    network: _L = typer.Option([], "--network", "--net", help="Connect a container to a network"),
    network_alias: _L = typer.Option(
        [], "--network-alias", help="Add network-scoped alias for the container"
    ),
    no_healthcheck: bool = typer.Option(
        False, "--no-healthcheck", help="Disable any container-specified HEALTHCHECK"
    ),
    pids_limit: int | None = typer.Option(
        None, "--pids-limit", help="Tune container pids limit (set -1 for unlimited)"
    ),
    platform: str | None = typer.Option(
        None, "--platform", help="Set platform if server is multi-platform capable"
    ),
    privileged: bool = typer.Option(
        False, "--privileged", help="Give extended privileges to this container"
    ),
    publish: _L = typer.Option(
        [], "-p", "--publish", help="Publish a container's port(s) to the host"
    ),
    publish_all: bool = typer.Option(
        False, "-P", "--publish-all", help="Publish all exposed ports to random ports"
    ),
    pull: str = typer.Option(
        "missing", "--pull", help='Pull image before running ("always", "missing", "never")'
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Suppress the pull output"),
    read_only: bool = typer.Option(
        False, "--read-only", help="Mount the container's root filesystem as read only"
    ),
    restart: str = typer.Option(
        "no", "--restart", help="Restart policy to apply when a container exits"
    ),
    rm: bool = typer.Option(
        False,
        "--rm",
        help="Automatically remove the container and its associated anonymous volumes when it exits",
    ),
    security_opt: _L = typer.Option([], "--security-opt", help="Security Options"),
    shm_size: str | None = typer.Option(None, "--shm-size", help="Size of /dev/shm"),
    sig_proxy: bool = typer.Option(
        True,
        "--sig-proxy/--no-sig-proxy",
        help="Proxy received signals to the process",
        show_default=False,
    ),
    stop_signal: str | None = typer.Option(
        None, "--stop-signal", help="Signal to stop the container"
    ),
    stop_timeout: int | None = typer.Option(
        None, "--stop-timeout", help="Timeout (in seconds) to stop a container"
    ),
    sysctl: _L = typer.Option([], "--sysctl", help="Sysctl options"),
    tmpfs: _L = typer.Option([], "--tmpfs", help="Mount a tmpfs directory"),
    tty: bool = typer.Option(False, "-t", "--tty", help="Allocate a pseudo-TTY"),
    ulimit: _L = typer.Option([], "--ulimit", help="Ulimit options"),
    user: str | None = typer.Option(
        None, "-u", "--user", help="Username or UID (format: <name|uid>[:<group|gid>])"
    ),
    volume: _L = typer.Option([], "-v", "--volume", help="Bind mount a volume"),
    volumes_from: _L = typer.Option(
        [], "--volumes-from", help="Mount volumes from the specified container(s)"
    ),
    workdir: str | None = typer.Option(
        None, "-w", "--workdir", help="Working directory inside the container"
    ),
) -> None:
    """The shared flag set; ``run`` and ``create`` take their signature from it."""


def build_options(kw: dict[str, Any], detach_default: bool) -> Any:
    """Docker's flags → :class:`CreateOptions` (mount flags parsed by the volumes library)."""
    from pynerd.containers.options import CreateOptions

    mounts: list[Any] = []
    if kw["volume"] or kw["mount"] or kw["tmpfs"]:
        from pynerd.volumes.mounts import parse_mount_flag, parse_tmpfs_flag, parse_volume_flag

        mounts = [parse_volume_flag(v) for v in kw["volume"]]
        mounts += [parse_mount_flag(m) for m in kw["mount"]]
        mounts += [parse_tmpfs_flag(t) for t in kw["tmpfs"]]
    t = tuple
    return CreateOptions(
        image=kw["image"],
        command=t(kw["command"] or ()),
        name=kw["name"],
        entrypoint=kw["entrypoint"],
        env=t(kw["env"]),
        env_files=t(kw["env_file"]),
        workdir=kw["workdir"],
        user=kw["user"],
        group_add=t(kw["group_add"]),
        hostname=kw["hostname"],
        domainname=kw["domainname"],
        labels=t(kw["label"]),
        label_files=t(kw["label_file"]),
        tty=kw["tty"],
        interactive=kw["interactive"],
        detach=kw["detach"] or detach_default,
        rm=kw["rm"],
        init=kw["init"],
        privileged=kw["privileged"],
        read_only=kw["read_only"],
        cap_add=t(kw["cap_add"]),
        cap_drop=t(kw["cap_drop"]),
        security_opt=t(kw["security_opt"]),
        devices=t(kw["device"]),
        sysctls=t(kw["sysctl"]),
        ulimits=t(kw["ulimit"]),
        memory=kw["memory"],
        memory_swap=kw["memory_swap"],
        cpus=kw["cpus"],
        cpu_shares=kw["cpu_shares"],
        cpuset_cpus=kw["cpuset_cpus"],
        pids_limit=kw["pids_limit"],
        shm_size=kw["shm_size"],
        mounts=t(mounts),
        volumes_from=t(kw["volumes_from"]),
        stop_signal=kw["stop_signal"],
        stop_timeout=kw["stop_timeout"],
        restart=kw["restart"],
        health_cmd=kw["health_cmd"],
        health_interval=kw["health_interval"],
        health_timeout=kw["health_timeout"],
        health_retries=kw["health_retries"],
        health_start_period=kw["health_start_period"],
        no_healthcheck=kw["no_healthcheck"],
        platform=kw["platform"],
        pull=kw["pull"],
        cidfile=kw["cidfile"],
        network=t(kw["network"]),
        network_aliases=t(kw["network_alias"]),
        ip=kw["ip"],
        mac_address=kw["mac_address"],
        dns=t(kw["dns"]),
        dns_search=t(kw["dns_search"]),
        dns_options=t(kw["dns_option"]),
        add_hosts=t(kw["add_host"]),
        publish=t(kw["publish"]),
        publish_all=kw["publish_all"],
        expose=t(kw["expose"]),
        sig_proxy=kw["sig_proxy"],
        detach_keys=kw["detach_keys"],
        attach=t(kw["attach"]),
    )


def _progress(quiet: bool) -> Any:
    """Pull progress goes to stderr for run/create, so stdout stays the container's."""
    if quiet:
        return None
    from pynerd_cli.progress import LineProgress

    return LineProgress(sys.stderr)


def create(**kw: Any) -> None:
    """Create a new container."""
    from pynerd.containers.create import create as do_create

    opts = build_options(kw, detach_default=True)
    cid = do_create(config_of(kw["ctx"]), opts, _progress(kw["quiet"]))
    write(cid + "\n")


def run(**kw: Any) -> None:
    """Create and run a new container from an image."""
    from pynerd.containers.lifecycle import run as do_run

    opts = build_options(kw, detach_default=False)
    result = do_run(config_of(kw["ctx"]), opts, _progress(kw["quiet"]))
    if opts.detach:
        write(result.container_id + "\n")
    raise typer.Exit(result.exit_code)


for _fn in (create, run):
    _fn.__signature__ = inspect.signature(_flags)  # type: ignore[attr-defined]
    _fn.__annotations__ = dict(_flags.__annotations__)
