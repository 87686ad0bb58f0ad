"""``pynerd network``: create, ls, inspect, rm, prune, connect, disconnect."""

from __future__ import annotations

import typer
from pynerd_cli.compat import DockerCommand, docker_pairs
from pynerd_cli.context import config_of
from pynerd_cli.main import CONTEXT
from pynerd_cli.output import write

app = typer.Typer(
    rich_markup_mode=None,
    add_completion=False,
    context_settings=CONTEXT,
    no_args_is_help=True,
    help="Manage networks",
)


def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NETWORK"),
    driver: str = typer.Option("bridge", "-d", "--driver", help="Driver to manage the Network"),
    subnet: list[str] = typer.Option(
        [], "--subnet", help="Subnet in CIDR format that represents a network segment"
    ),
    gateway: list[str] = typer.Option(
        [], "--gateway", help="IPv4 or IPv6 Gateway for the master subnet"
    ),
    ip_range: list[str] = typer.Option(
        [], "--ip-range", help="Allocate container ip from a sub-range"
    ),
    internal: bool = typer.Option(
        False, "--internal", help="Restrict external access to the network"
    ),
    label: list[str] = typer.Option([], "--label", help="Set metadata on a network"),
    opt: list[str] = typer.Option([], "-o", "--opt", help="Set driver specific options"),
    ipv6: bool = typer.Option(False, "--ipv6", help="Enable IPv6 networking"),
    attachable: bool = typer.Option(
        False, "--attachable", help="Enable manual container attachment (always on)"
    ),
) -> None:
    """Create a network."""
    from pynerd.network.manage import create as create_network
    from pynerd.network.networks import CreateNetworkOptions

    opts = CreateNetworkOptions(
        name=name,
        driver=driver,
        subnets=tuple(subnet),
        gateways=tuple(gateway),
        ip_ranges=tuple(ip_range),
        internal=internal,
        labels=docker_pairs(label),
        options=docker_pairs(opt),
        ipv6=ipv6,
    )
    write(create_network(config_of(ctx), opts).id + "\n")


def ls(
    ctx: typer.Context,
    filter: list[str] = typer.Option(
        [], "-f", "--filter", help='Provide filter values (e.g. "driver=bridge")'
    ),
    format: str | None = typer.Option(
        None, "--format", help="Pretty-print networks using a Go template"
    ),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not truncate the output"),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only display network IDs"),
) -> None:
    """List networks."""
    from pynerd.format.listing import render_listing
    from pynerd.network.manage import NETWORK_SPEC, list_networks

    rows = list_networks(config_of(ctx), filter, no_trunc)
    write(render_listing(rows, NETWORK_SPEC, format, quiet))


def inspect(
    ctx: typer.Context,
    names: list[str] = typer.Argument(..., metavar="NETWORK..."),
    format: str | None = typer.Option(
        None, "-f", "--format", help="Format the output using the given Go template"
    ),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Verbose output for diagnostics"),
) -> None:
    """Display detailed information on one or more networks."""
    from pynerd.containers.network import reaper
    from pynerd.errors import raise_all
    from pynerd.format.inspect import render_inspect
    from pynerd.network.manage import inspect as inspect_networks

    cfg = config_of(ctx)
    found, errors = inspect_networks(cfg, names, reaper(cfg))
    write(render_inspect(found, format))
    raise_all(errors)


def rm(
    ctx: typer.Context,
    names: list[str] = typer.Argument(..., metavar="NETWORK..."),
    force: bool = typer.Option(
        False, "-f", "--force", help="Do not error if the network does not exist"
    ),
) -> None:
    """Remove one or more networks."""
    from pynerd.containers.network import reaper
    from pynerd.errors import raise_all
    from pynerd.network.manage import remove

    cfg = config_of(ctx)
    result = remove(cfg, names, reaper(cfg), force)
    if result.removed:
        write("".join(n + "\n" for n in result.removed))
    raise_all(result.errors)


def prune(
    ctx: typer.Context,
    filter: list[str] = typer.Option(
        [], "--filter", help='Provide filter values (e.g. "until=<timestamp>")'
    ),
    force: bool = typer.Option(False, "-f", "--force", help="Do not prompt for confirmation"),
) -> None:
    """Remove all unused networks."""
    from pynerd_cli.confirm import confirm

    from pynerd.containers.network import reaper
    from pynerd.network.manage import prune as prune_networks

    warning = "WARNING! This will remove all custom networks not used by at least one container."
    if not force and not confirm(warning):
        return
    cfg = config_of(ctx)
    names = prune_networks(cfg, filter, reaper(cfg))
    if names:
        write("Deleted Networks:\n" + "".join(n + "\n" for n in names) + "\n")


def connect(
    ctx: typer.Context,
    network: str = typer.Argument(..., metavar="NETWORK"),
    container: str = typer.Argument(..., metavar="CONTAINER"),
    ip: str | None = typer.Option(None, "--ip", help="IPv4 address (e.g., 172.30.100.104)"),
    alias: list[str] = typer.Option(
        [], "--alias", help="Add network-scoped alias for the container"
    ),
) -> None:
    """Connect a container to a network."""
    from pynerd.containers.network import connect as connect_container

    connect_container(config_of(ctx), network, container, ip, tuple(alias))


def disconnect(
    ctx: typer.Context,
    network: str = typer.Argument(..., metavar="NETWORK"),
    container: str = typer.Argument(..., metavar="CONTAINER"),
    force: bool = typer.Option(
        False, "-f", "--force", help="Force the container to disconnect from a network"
    ),
) -> None:
    """Disconnect a container from a network."""
    from pynerd.containers.network import disconnect as disconnect_container

    disconnect_container(config_of(ctx), network, container, force)


for _name, _fn, _help in (
    ("connect", connect, "Connect a container to a network"),
    ("create", create, "Create a network"),
    ("disconnect", disconnect, "Disconnect a container from a network"),
    ("inspect", inspect, "Display detailed information on one or more networks"),
    ("ls", ls, "List networks"),
    ("list", ls, "List networks"),
    ("prune", prune, "Remove all unused networks"),
    ("rm", rm, "Remove one or more networks"),
    ("remove", rm, "Remove one or more networks"),
):
    app.command(_name, help=_help, context_settings=CONTEXT, cls=DockerCommand)(_fn)
