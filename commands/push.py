"""``pynerd push`` (also ``pynerd image push``)."""

from __future__ import annotations

import typer
from pynerd_cli.context import config_of
from pynerd_cli.output import write


def push(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME[:TAG]"),
    all_tags: bool = typer.Option(
        False, "-a", "--all-tags", help="Push all tags of an image to the repository"
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Suppress verbose output"),
) -> None:
    """Upload an image to a registry."""
    from pynerd_cli.progress import progress_for

    from pynerd.images.push import PushOptions
    from pynerd.images.push import push as do_push

    sink = progress_for(quiet)
    try:
        results = do_push(config_of(ctx), PushOptions(name, all_tags), sink)
    finally:
        if sink is not None:
            sink.close()
    if quiet:
        write("".join(r.name + "\n" for r in results))
