"""``pynerd history`` (also ``pynerd image history``)."""

from __future__ import annotations

import typer
from pynerd_cli.context import config_of
from pynerd_cli.output import write


def history(
    ctx: typer.Context,
    image: str = typer.Argument(..., metavar="IMAGE"),
    format: str | None = typer.Option(
        None, "--format", help="Format output using a custom template"
    ),
    human: bool = typer.Option(
        True,
        "-H",
        "--human/--no-human",
        show_default=False,
        help="Print sizes and dates in human readable format",
    ),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Don't truncate output"),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only show image IDs"),
) -> None:
    """Show the history of an image."""
    from pynerd.format.listing import render_listing
    from pynerd.images.history import HISTORY_SPEC, history_rows

    rows = history_rows(config_of(ctx), image, no_trunc=no_trunc, human=human)
    write(render_listing(rows, HISTORY_SPEC, format, quiet))
