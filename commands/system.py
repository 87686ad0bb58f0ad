"""``pynerd system``: management group for system-wide commands."""

from __future__ import annotations

import typer
from pynerd_cli.compat import DockerCommand
from pynerd_cli.context import config_of
from pynerd_cli.info import info
from pynerd_cli.main import CONTEXT
from pynerd_cli.output import write

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


def prune(
    ctx: typer.Context,
    all: bool = typer.Option(
        False, "-a", "--all", help="Remove all unused images not just dangling ones"
    ),
    filter: list[str] = typer.Option(
        [], "--filter", help='Provide filter values (e.g. "label=<key>=<value>")'
    ),
    force: bool = typer.Option(False, "-f", "--force", help="Do not prompt for confirmation"),
    volumes: bool = typer.Option(False, "--volumes", help="Prune anonymous volumes"),
) -> None:
    """Remove unused data."""
    from pynerd_cli.confirm import confirm

    from pynerd.format.units import human_size
    from pynerd.system.prune import system_prune

    items = ["all stopped containers", "all networks not used by at least one container"]
    if volumes:
        items.append("all anonymous volumes not used by at least one container")
    items.append(
        "all images without at least one container associated to them"
        if all
        else "all dangling images"
    )
    warning = "WARNING! This will remove:\n" + "\n".join(f"  - {i}" for i in items)
    if not force and not confirm(warning):
        return
    r = system_prune(config_of(ctx), all, volumes, filter)
    if r.containers:
        write("Deleted Containers:\n" + "".join(c + "\n" for c in r.containers) + "\n")
    if r.networks:
        write("Deleted Networks:\n" + "".join(n + "\n" for n in r.networks) + "\n")
    if r.volumes:
        write("Deleted Volumes:\n" + "".join(v + "\n" for v in r.volumes) + "\n")
    if r.images:
        write("Deleted Images:\n" + "".join(i + "\n" for i in r.images) + "\n")
    write(f"Total reclaimed space: {human_size(r.space)}\n")


app.command(
    "info", help="Display system-wide information", context_settings=CONTEXT, cls=DockerCommand
)(info)
app.command("prune", help="Remove unused data", context_settings=CONTEXT, cls=DockerCommand)(prune)
