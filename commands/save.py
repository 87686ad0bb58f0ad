"""``pynerd save`` (also ``pynerd image save``)."""

from __future__ import annotations

import typer
from pynerd_cli.context import config_of


def save(
    ctx: typer.Context,
    images: list[str] = typer.Argument(..., metavar="IMAGE..."),
    output: str | None = typer.Option(
        None, "-o", "--output", help="Write to a file, instead of STDOUT"
    ),
) -> None:
    """Save one or more images to a tar archive (streamed to STDOUT by default)."""
    import sys
    from pathlib import Path

    from pynerd.images.archive import save as do_save
    from pynerd.images.archive import save_file

    if output:
        save_file(config_of(ctx), images, Path(output))
    else:
        do_save(config_of(ctx), images, sys.stdout.buffer)
