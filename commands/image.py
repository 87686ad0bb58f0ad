"""``pynerd image``: management group for images."""

from __future__ import annotations

import typer
from pynerd_cli.compat import DockerCommand
from pynerd_cli.context import config_of
from pynerd_cli.history import history
from pynerd_cli.images import images
from pynerd_cli.importcmd import import_image
from pynerd_cli.inspect import image_inspect
from pynerd_cli.load import load
from pynerd_cli.main import CONTEXT
from pynerd_cli.output import write
from pynerd_cli.pull import pull
from pynerd_cli.push import push
from pynerd_cli.rmi import rmi
from pynerd_cli.save import save
from pynerd_cli.tag import tag

app = typer.Typer(
    rich_markup_mode=None,
    add_completion=False,
    context_settings=CONTEXT,
    no_args_is_help=True,
    help="Manage images",
)


def prune(
    ctx: typer.Context,
    all: bool = typer.Option(
        False, "-a", "--all", help="Remove all unused images, not just dangling ones"
    ),
    filter: list[str] = typer.Option(
        [], "--filter", help='Provide filter values (e.g. "until=<timestamp>")'
    ),
    force: bool = typer.Option(False, "-f", "--force", help="Do not prompt for confirmation"),
) -> None:
    """Remove unused images."""
    from pynerd_cli.confirm import confirm

    from pynerd.format.units import human_size
    from pynerd.images.manage import prune as do_prune

    warning = (
        "WARNING! This will remove all images without at least one container associated to them."
        if all
        else "WARNING! This will remove all dangling images."
    )
    if not force and not confirm(warning):
        return
    result = do_prune(config_of(ctx), all, filter)
    if result.deleted:
        write("Deleted Images:\n" + "".join(line + "\n" for line in result.deleted) + "\n")
    write(f"Total reclaimed space: {human_size(result.space)}\n")


for _name, _fn, _help in (
    ("ls", images, "List images"),
    ("list", images, "List images"),
    ("pull", pull, "Download an image from a registry"),
    ("push", push, "Upload an image to a registry"),
    ("tag", tag, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    ("inspect", image_inspect, "Display detailed information on one or more images"),
    ("rm", rmi, "Remove one or more images"),
    ("remove", rmi, "Remove one or more images"),
    ("history", history, "Show the history of an image"),
    ("prune", prune, "Remove unused images"),
    ("save", save, "Save one or more images to a tar archive (streamed to STDOUT by default)"),
    ("load", load, "Load an image from a tar archive or STDIN"),
    ("import", import_image, "Import the contents from a tarball to create a filesystem image"),
):
    app.command(_name, help=_help, context_settings=CONTEXT, cls=DockerCommand)(_fn)
