"""``pynerd inspect`` and ``pynerd image inspect``."""

from __future__ import annotations

import typer
from pynerd_cli.context import config_of
from pynerd_cli.output import write


def inspect(
    ctx: typer.Context,
    names: list[str] = typer.Argument(..., metavar="NAME|ID..."),
    format: str | None = typer.Option(
        None, "-f", "--format", help="Format output using a custom template"
    ),
    size: bool = typer.Option(
        False, "-s", "--size", help="Display total file sizes if the type is container"
    ),
    type: str | None = typer.Option(None, "--type", help="Only inspect objects of the given type"),
) -> None:
    """Return low-level information on pynerd objects."""
    from pynerd.errors import raise_all
    from pynerd.format.inspect import render_inspect
    from pynerd.system.inspect import inspect_objects

    found, errors = inspect_objects(config_of(ctx), names, type, size)
    write(render_inspect(found, format))
    raise_all(errors)


def image_inspect(
    ctx: typer.Context,
    names: list[str] = typer.Argument(..., metavar="IMAGE..."),
    format: str | None = typer.Option(
        None, "-f", "--format", help="Format output using a custom template"
    ),
) -> None:
    """Display detailed information on one or more images."""
    from pynerd.errors import raise_all
    from pynerd.format.inspect import render_inspect
    from pynerd.system.inspect import inspect_images

    found, errors = inspect_images(config_of(ctx), names)
    write(render_inspect(found, format))
    raise_all(errors)
