# ruff: noqa: E501 - one line per Docker flag reads best as a table
"""``run`` and ``create``: Docker's flags as one table, the options they build, the call.

Two parsers read :data:`FLAGS`: typer's (:mod:`pynerd_cli.run` builds the commands'
signature from it) and the fast path's (:mod:`pynerd_cli.fastrun`, which parses a
common ``run`` without importing typer or click). Both hand the parsed values, keyed
by parameter name, to :func:`run_container`/:func:`create_container`: one
:class:`~pynerd.containers.options.CreateOptions`, one library call, one rendering.
This module imports neither typer nor the library at import time.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from pynerd_cli.output import write

if TYPE_CHECKING:
    from pynerd_cli.context import GlobalOptions

    from pynerd.containers.options import CreateOptions

STR, INT, LIST, BOOL = "str", "int", "list", "bool"

# (parameter, option names, kind, default, help), in --help order. A BOOL flag with
# "--x/--no-x" has an off switch; one that is on by default does not show its default.
Flag = tuple[str, tuple[str, ...], str, Any, str]
# fmt: off
FLAGS: tuple[Flag, ...] = (
    ("add_host", ("--add-host",), LIST, [], "Add a custom host-to-IP mapping (host:ip)"),
    ("attach", ("-a", "--attach"), LIST, [], "Attach to STDIN, STDOUT or STDERR"),
    ("cap_add", ("--cap-add",), LIST, [], "Add Linux capabilities"),
    ("cap_drop", ("--cap-drop",), LIST, [], "Drop Linux capabilities"),
    ("cidfile", ("--cidfile",), STR, None, "Write the container ID to the file"),
    ("cpu_shares", ("-c", "--cpu-shares"), INT, None, "CPU shares (relative weight)"),
    ("cpus", ("--cpus",), STR, None, "Number of CPUs"),
    ("cpuset_cpus", ("--cpuset-cpus",), STR, None, "CPUs in which to allow execution (0-3, 0,1)"),
    ("detach", ("-d", "--detach"), BOOL, False, "Run container in background and print container ID"),
    ("detach_keys", ("--detach-keys",), STR, None, "Override the key sequence for detaching a container"),
    ("device", ("--device",), LIST, [], "Add a host device to the container"),
    ("dns", ("--dns",), LIST, [], "Set custom DNS servers"),
    ("dns_option", ("--dns-option",), LIST, [], "Set DNS options"),
    ("dns_search", ("--dns-search",), LIST, [], "Set custom DNS search domains"),
    ("domainname", ("--domainname",), STR, None, "Container NIS domain name"),
    ("entrypoint", ("--entrypoint",), STR, None, "Overwrite the default ENTRYPOINT of the image"),
    ("env", ("-e", "--env"), LIST, [], "Set environment variables"),
    ("env_file", ("--env-file",), LIST, [], "Read in a file of environment variables"),
    ("expose", ("--expose",), LIST, [], "Expose a port or a range of ports"),
    ("group_add", ("--group-add",), LIST, [], "Add additional groups to join"),
    ("health_cmd", ("--health-cmd",), STR, None, "Command to run to check health"),
    ("health_interval", ("--health-interval",), STR, None, "Time between running the check (ms|s|m|h)"),
    ("health_retries", ("--health-retries",), INT, None, "Consecutive failures needed to report unhealthy"),
    ("health_start_period", ("--health-start-period",), STR, None, "Start period for the container to initialize"),
    ("health_timeout", ("--health-timeout",), STR, None, "Maximum time to allow one check to run"),
    ("hostname", ("-h", "--hostname"), STR, None, "Container host name"),
    ("init", ("--init",), BOOL, False, "Run an init inside the container that forwards signals and reaps processes"),
    ("interactive", ("-i", "--interactive"), BOOL, False, "Keep STDIN open even if not attached"),
    ("ip", ("--ip",), STR, None, "IPv4 address (e.g., 172.30.100.104)"),
    ("label", ("-l", "--label"), LIST, [], "Set meta data on a container"),
    ("label_file", ("--label-file",), LIST, [], "Read in a line delimited file of labels"),
    ("mac_address", ("--mac-address",), STR, None, "Container MAC address"),
    ("memory", ("-m", "--memory"), STR, None, "Memory limit"),
    ("memory_swap", ("--memory-swap",), STR, None, "Swap limit equal to memory plus swap: '-1' to enable unlimited swap"),
    ("mount", ("--mount",), LIST, [], "Attach a filesystem mount to the container"),
    ("name", ("--name",), STR, None, "Assign a name to the container"),
    ("network", ("--network", "--net"), LIST, [], "Connect a container to a network"),
    ("network_alias", ("--network-alias",), LIST, [], "Add network-scoped alias for the container"),
    ("no_healthcheck", ("--no-healthcheck",), BOOL, False, "Disable any container-specified HEALTHCHECK"),
    ("pids_limit", ("--pids-limit",), INT, None, "Tune container pids limit (set -1 for unlimited)"),
    ("platform", ("--platform",), STR, None, "Set platform if server is multi-platform capable"),
    ("privileged", ("--privileged",), BOOL, False, "Give extended privileges to this container"),
    ("publish", ("-p", "--publish"), LIST, [], "Publish a container's port(s) to the host"),
    ("publish_all", ("-P", "--publish-all"), BOOL, False, "Publish all exposed ports to random ports"),
    ("pull", ("--pull",), STR, "missing", 'Pull image before running ("always", "missing", "never")'),
    ("quiet", ("-q", "--quiet"), BOOL, False, "Suppress the pull output"),
    ("read_only", ("--read-only",), BOOL, False, "Mount the container's root filesystem as read only"),
    ("restart", ("--restart",), STR, "no", "Restart policy to apply when a container exits"),
    ("rm", ("--rm",), BOOL, False, "Automatically remove the container and its associated anonymous volumes when it exits"),
    ("security_opt", ("--security-opt",), LIST, [], "Security Options"),
    ("shm_size", ("--shm-size",), STR, None, "Size of /dev/shm"),
    ("sig_proxy", ("--sig-proxy/--no-sig-proxy",), BOOL, True, "Proxy received signals to the process"),
    ("stop_signal", ("--stop-signal",), STR, None, "Signal to stop the container"),
    ("stop_timeout", ("--stop-timeout",), INT, None, "Timeout (in seconds) to stop a container"),
    ("sysctl", ("--sysctl",), LIST, [], "Sysctl options"),
    ("tmpfs", ("--tmpfs",), LIST, [], "Mount a tmpfs directory"),
    ("tty", ("-t", "--tty"), BOOL, False, "Allocate a pseudo-TTY"),
    ("ulimit", ("--ulimit",), LIST, [], "Ulimit options"),
    ("user", ("-u", "--user"), STR, None, "Username or UID (format: <name|uid>[:<group|gid>])"),
    ("volume", ("-v", "--volume"), LIST, [], "Bind mount a volume"),
    ("volumes_from", ("--volumes-from",), LIST, [], "Mount volumes from the specified container(s)"),
    ("workdir", ("-w", "--workdir"), STR, None, "Working directory inside the container"),
)
# fmt: on


def defaults() -> dict[str, Any]:
    """Every parameter at its default (fresh lists), as a parser starts from."""
    return {name: list(d) if kind == LIST else d for name, _, kind, d, _ in FLAGS}


def build_options(kw: dict[str, Any], detach_default: bool) -> CreateOptions:
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


def create_container(kw: dict[str, Any], options: GlobalOptions) -> int:
    """``create``: print the new container's ID."""
    from pynerd.containers.create import create

    opts = build_options(kw, detach_default=True)
    cid = create(options.config(), opts, _progress(kw["quiet"]))
    write(cid + "\n")
    return 0


def run_container(kw: dict[str, Any], options: GlobalOptions) -> int:
    """``run``: the container's exit code (0 and its ID printed when detached)."""
    from pynerd.containers.lifecycle import run

    opts = build_options(kw, detach_default=False)
    result = run(options.config(), opts, _progress(kw["quiet"]))
    if opts.detach:
        write(result.container_id + "\n")
    return result.exit_code
