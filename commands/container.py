"""``pynerd container``: management group for containers."""

from __future__ import annotations

import typer
from pynerd_cli.compat import DockerCommand
from pynerd_cli.main import CONTEXT
from pynerd_cli.ps import ps

app = typer.Typer(
    rich_markup_mode=None,
    add_completion=False,
    context_settings=CONTEXT,
    no_args_is_help=True,
    help="Manage containers",
)
for _name in ("ls", "list", "ps"):
    app.command(_name, help="List containers", context_settings=CONTEXT, cls=DockerCommand)(ps)
