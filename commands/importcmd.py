"""``pynerd import`` (also ``pynerd image import``); ``import`` is a keyword, hence the name."""

from __future__ import annotations

import typer
from pynerd_cli.context import config_of
from pynerd_cli.output import write


def import_image(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="file|URL|-"),
    repository: str | None = typer.Argument(None, metavar="[REPOSITORY[:TAG]]"),
    change: list[str] = typer.Option(
        [], "-c", "--change", help="Apply Dockerfile instruction to the created image"
    ),
    message: str = typer.Option(
        "", "-m", "--message", help="Set commit message for imported image"
    ),
    platform: str | None = typer.Option(
        None, "--platform", help="Set platform if server is multi-platform capable"
    ),
) -> None:
    """Import the contents from a tarball to create a filesystem image."""
    import sys

    from pynerd.images.importer import import_rootfs, is_url, open_source

    cfg = config_of(ctx)
    with open_source(source, sys.stdin.buffer) as stream:
        image_id = import_rootfs(
            cfg,
            stream,
            repository,
            change,
            message,
            platform,
            origin=source if is_url(source) else "-",
        )
    write(image_id + "\n")
