"""``pynerd load`` (also ``pynerd image load``)."""

from __future__ import annotations

import re

import typer
from pynerd_cli.context import config_of
from pynerd_cli.output import write

_IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}")


def load(
    ctx: typer.Context,
    input: str | None = typer.Option(
        None, "-i", "--input", help="Read from tar archive file, instead of STDIN"
    ),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Suppress the load output"),
) -> None:
    """Load an image from a tar archive or STDIN."""
    import sys
    from pathlib import Path

    from pynerd.images.archive import load as do_load
    from pynerd.images.archive import load_file

    sink = None
    if not quiet and sys.stdout.isatty():  # Docker draws bars on a terminal, else nothing
        from pynerd_cli.progress import BarProgress

        sink = BarProgress()
    try:
        if input:
            loaded = load_file(config_of(ctx), Path(input), sink)
        else:
            loaded = do_load(config_of(ctx), sys.stdin.buffer, sink)
    finally:
        if sink is not None:
            sink.close()
    write(
        "".join(
            f"Loaded image ID: {item}\n" if _IMAGE_ID.fullmatch(item) else f"Loaded image: {item}\n"
            for item in loaded
        )
    )
