"""``pynerd info`` (also ``pynerd system info``)."""

from __future__ import annotations

import sys

import typer
from pynerd_cli.context import config_of
from pynerd_cli.output import write


def info(
    ctx: typer.Context,
    format: str | None = typer.Option(
        None, "-f", "--format", help="Format output using a custom template"
    ),
) -> None:
    """Display system-wide information."""
    from pynerd.system import info as i

    cfg = config_of(ctx)
    result = i.info(cfg)
    if format:
        from pynerd.format.inspect import render_inspect

        write(render_inspect([result], format))
        return
    write(i.render_plain(result, cfg.debug))
    for warning in result["Warnings"]:
        sys.stderr.write(warning + "\n")
