"""``pynerd images`` (also ``pynerd image ls``)."""

from __future__ import annotations

import typer
from pynerd_cli.context import config_of
from pynerd_cli.output import write


def images(
    ctx: typer.Context,
    repository: str | None = typer.Argument(None, metavar="[REPOSITORY[:TAG]]"),
    all: bool = typer.Option(False, "-a", "--all", help="Show all images"),
    digests: bool = typer.Option(False, "--digests", help="Show digests"),
    filter: list[str] = typer.Option(
        [], "-f", "--filter", help="Filter output based on conditions provided"
    ),
    format: str | None = typer.Option(
        None, "--format", help="Format output using a custom template"
    ),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Don't truncate output"),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only show image IDs"),
) -> None:
    """List images."""
    from dataclasses import replace

    from pynerd.format.listing import render_listing
    from pynerd.images.listing import IMAGES_DIGEST_TABLE, IMAGES_SPEC, ImagesOptions, list_images

    opts = ImagesOptions(repository, all, digests, no_trunc, filter)
    rows = list_images(config_of(ctx), opts)
    spec = replace(IMAGES_SPEC, default_table=IMAGES_DIGEST_TABLE) if digests else IMAGES_SPEC
    if quiet and not format:
        seen: set[str] = set()
        unique = [r for r in rows if not (r.ID in seen or seen.add(r.ID))]  # type: ignore[func-returns-value]
        write(render_listing(unique, spec, None, True))
        return
    write(render_listing(rows, spec, format, quiet))
