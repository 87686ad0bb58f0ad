"""``pynerd pull`` (also ``pynerd image pull``)."""

from __future__ import annotations

import typer
from pynerd_cli.context import config_of
from pynerd_cli.output import write


def pull(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME[:TAG|@DIGEST]"),
    all_platforms: bool = typer.Option(
        False, "-a", "--all-platforms", help="Download all platforms of the image"
    ),
    platform: str | None = typer.Option(
        None, "--platform", help="Set platform (os/arch[/variant])"
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Suppress verbose output"),
) -> None:
    """Download an image from a registry."""
    from pynerd_cli.progress import progress_for

    from pynerd.images.pull import PullOptions
    from pynerd.images.pull import pull as do_pull

    sink = progress_for(quiet)
    try:
        result = do_pull(config_of(ctx), PullOptions(name, platform, all_platforms), sink)
    finally:
        if sink is not None:
            sink.close()
    write(result.name + "\n")
