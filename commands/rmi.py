"""``pynerd rmi`` (also ``pynerd image rm``)."""

from __future__ import annotations

import typer
from pynerd_cli.context import config_of
from pynerd_cli.output import write


def rmi(
    ctx: typer.Context,
    images: list[str] = typer.Argument(..., metavar="IMAGE..."),
    force: bool = typer.Option(False, "-f", "--force", help="Force removal of the image"),
    no_prune: bool = typer.Option(False, "--no-prune", help="Do not delete untagged parents"),
) -> None:
    """Remove one or more images."""
    from pynerd.errors import raise_all
    from pynerd.images.manage import remove

    result = remove(config_of(ctx), images, force)
    if result.lines:
        write("".join(line + "\n" for line in result.lines))
    raise_all(result.errors)
