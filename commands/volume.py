"""``pynerd volume``: management group for volumes (create, ls, inspect, rm, prune)."""

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
    help="Manage volumes",
)


def create(
    ctx: typer.Context,
    volume: str | None = typer.Argument(None, metavar="[VOLUME]"),
    driver: str = typer.Option("local", "-d", "--driver", help="Specify volume driver name"),
    label: list[str] = typer.Option([], "--label", help="Set metadata for a volume"),
    opt: list[str] = typer.Option([], "-o", "--opt", help="Set driver specific options"),
    name: str | None = typer.Option(None, "--name", hidden=True, help="Specify volume name"),
) -> None:
    """Create a volume."""
    from pynerd.errors import InvalidArgument
    from pynerd.volumes.store import VolumeStore

    if name is not None and volume is not None and name != volume:
        raise InvalidArgument(
            "conflicting options: either specify --name or provide positional arg, not both"
        )
    store = VolumeStore(config_of(ctx).namespace_root)
    # Docker's client omits empty maps, so inspect shows null, not {}.
    record = store.create(
        volume or name, docker_pairs(label) or None, docker_pairs(opt) or None, driver
    )
    write(record["Name"] + "\n")


def ls(
    ctx: typer.Context,
    filter: list[str] = typer.Option(
        [], "-f", "--filter", help='Provide filter values (e.g. "dangling=true")'
    ),
    format: str | None = typer.Option(
        None, "--format", help="Format output using a custom template"
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only display volume names"),
) -> None:
    """List volumes."""
    from pynerd.format.listing import render_listing
    from pynerd.volumes.store import VOLUME_SPEC, list_volumes

    rows = list_volumes(config_of(ctx).namespace_root, filter)
    write(render_listing(rows, VOLUME_SPEC, format, quiet))


def inspect(
    ctx: typer.Context,
    names: list[str] = typer.Argument(..., metavar="VOLUME..."),
    format: str | None = typer.Option(
        None, "-f", "--format", help="Format output using a custom template"
    ),
) -> None:
    """Display detailed information on one or more volumes."""
    from pynerd.errors import NotFound, PynerdError, raise_all
    from pynerd.format.inspect import render_inspect
    from pynerd.volumes.store import VolumeStore

    store = VolumeStore(config_of(ctx).namespace_root)
    found = []
    errors: list[PynerdError] = []
    for name in names:
        try:
            found.append(store.get(name))
        except NotFound as e:
            errors.append(e)
    write(render_inspect(found, format))
    raise_all(errors)


def rm(
    ctx: typer.Context,
    names: list[str] = typer.Argument(..., metavar="VOLUME..."),
    force: bool = typer.Option(
        False, "-f", "--force", help="Force the removal of one or more volumes"
    ),
) -> None:
    """Remove one or more volumes."""
    from pynerd.errors import raise_all
    from pynerd.volumes.store import VolumeStore

    result = VolumeStore(config_of(ctx).namespace_root).remove(names, force)
    if result.removed:
        write("".join(name + "\n" for name in result.removed))
    raise_all(result.errors)


def prune(
    ctx: typer.Context,
    all: bool = typer.Option(
        False, "-a", "--all", help="Remove all unused volumes, not just anonymous ones"
    ),
    filter: list[str] = typer.Option(
        [], "--filter", help='Provide filter values (e.g. "label=<label>")'
    ),
    force: bool = typer.Option(False, "-f", "--force", help="Do not prompt for confirmation"),
) -> None:
    """Remove unused local volumes."""
    from pynerd_cli.confirm import confirm

    from pynerd.format.units import human_size
    from pynerd.volumes.store import VolumeStore

    warning = (
        "WARNING! This will remove all local volumes not used by at least one container."
        if all
        else "WARNING! This will remove anonymous local volumes not used by at least one container."
    )
    if not force and not confirm(warning):
        return
    names, space = VolumeStore(config_of(ctx).namespace_root).prune(filter, all)
    if names:
        write("Deleted Volumes:\n" + "".join(n + "\n" for n in names) + "\n")
    write(f"Total reclaimed space: {human_size(space)}\n")


for _name, _fn, _help in (
    ("create", create, "Create a volume"),
    ("inspect", inspect, "Display detailed information on one or more volumes"),
    ("ls", ls, "List volumes"),
    ("list", ls, "List volumes"),
    ("prune", prune, "Remove unused local volumes"),
    ("rm", rm, "Remove one or more volumes"),
    ("remove", rm, "Remove one or more volumes"),
):
    app.command(_name, help=_help, context_settings=CONTEXT, cls=DockerCommand)(_fn)
