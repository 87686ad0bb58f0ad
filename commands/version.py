"""``pynerd version``."""

from __future__ import annotations

import typer
from pynerd_cli.context import config_of
from pynerd_cli.output import write


def version(
    ctx: typer.Context,
    format: str | None = typer.Option(
        None, "-f", "--format", help="Format output using a custom template"
    ),
) -> None:
    """Show the pynerd version information."""
    from pynerd.system import version as v

    result = v.version(config_of(ctx))
    if format:
        from pynerd.format.inspect import render_inspect

        write(render_inspect([result], format))
    else:
        write(v.render_plain(result))
