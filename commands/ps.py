"""``pynerd ps`` (also ``pynerd container ls``)."""

from __future__ import annotations

import typer
from pynerd_cli.context import config_of
from pynerd_cli.output import write


def ps(
    ctx: typer.Context,
    all: bool = typer.Option(
        False, "-a", "--all", help="Show all containers (default shows just running)"
    ),
    filter: list[str] = typer.Option(
        [], "-f", "--filter", help="Filter output based on conditions provided"
    ),
    format: str | None = typer.Option(
        None, "--format", help="Format output using a custom template"
    ),
    last: int = typer.Option(
        -1, "-n", "--last", help="Show n last created containers (includes all states)"
    ),
    latest: bool = typer.Option(
        False, "-l", "--latest", help="Show the latest created container (includes all states)"
    ),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Don't truncate output"),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only display container IDs"),
    size: bool = typer.Option(False, "-s", "--size", help="Display total file sizes"),
) -> None:
    """List containers."""
    from dataclasses import replace

    from pynerd.containers.listing import PS_SIZE_TABLE, PS_SPEC, PsOptions, list_containers
    from pynerd.format.listing import render_listing

    opts = PsOptions(
        all=all, last=last, latest=latest, filters=filter, no_trunc=no_trunc, size=size
    )
    rows = list_containers(config_of(ctx), opts)
    spec = replace(PS_SPEC, default_table=PS_SIZE_TABLE) if size else PS_SPEC
    write(render_listing(rows, spec, format, quiet))
