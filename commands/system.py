"""``pynerd system``: management group for system-wide commands."""

from __future__ import annotations

import typer
from pynerd_cli.compat import DockerCommand
from pynerd_cli.info import info
from pynerd_cli.main import CONTEXT

app = typer.Typer(
    rich_markup_mode=None,
    add_completion=False,
    context_settings=CONTEXT,
    no_args_is_help=True,
    help="Manage pynerd",
)


@app.callback()
def _group() -> None:
    """Manage pynerd."""


app.command(
    "info", help="Display system-wide information", context_settings=CONTEXT, cls=DockerCommand
)(info)
