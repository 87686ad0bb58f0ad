"""``pynerd tag`` (also ``pynerd image tag``)."""

from __future__ import annotations

import typer
from pynerd_cli.context import config_of


def tag(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="SOURCE_IMAGE[:TAG]"),
    target: str = typer.Argument(..., metavar="TARGET_IMAGE[:TAG]"),
) -> None:
    """Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE."""
    from pynerd.images.manage import tag as do_tag

    do_tag(config_of(ctx), source, target)
