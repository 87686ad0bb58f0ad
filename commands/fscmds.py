"""Container file-system commands: ``diff``, ``export``, ``commit`` and ``cp``."""

from __future__ import annotations

import typer
from pynerd_cli.context import config_of
from pynerd_cli.output import write


def diff(ctx: typer.Context, container: str = typer.Argument(..., metavar="CONTAINER")) -> None:
    """Inspect changes to files or directories on a container's filesystem."""
    from pynerd.containers.fs import diff as container_diff

    write("".join(f"{kind} {path}\n" for kind, path in container_diff(config_of(ctx), container)))


def export(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER"),
    output: str | None = typer.Option(
        None, "-o", "--output", help="Write to a file, instead of STDOUT"
    ),
) -> None:
    """Export a container's filesystem as a tar archive."""
    import sys
    from pathlib import Path

    from pynerd.containers import fs
    from pynerd.errors import InvalidArgument
    from pynerd.images.archive import TERMINAL_REFUSAL

    cfg = config_of(ctx)
    if output:
        fs.export_file(cfg, container, Path(output))
        return
    if sys.stdout.isatty():
        raise InvalidArgument(TERMINAL_REFUSAL)
    fs.export(cfg, container, sys.stdout.buffer)
    sys.stdout.buffer.flush()


def commit(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER"),
    repository: str | None = typer.Argument(None, metavar="[REPOSITORY[:TAG]]"),
    author: str = typer.Option(
        "", "-a", "--author", help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")'
    ),
    change: list[str] = typer.Option(
        [], "-c", "--change", help="Apply Dockerfile instruction to the created image"
    ),
    message: str = typer.Option("", "-m", "--message", help="Commit message"),
    pause: bool = typer.Option(
        True,
        "-p",
        "--pause/--no-pause",
        show_default=False,
        help="Pause container during commit (default true)",
    ),
) -> None:
    """Create a new image from a container's changes."""
    from pynerd.containers.fs import commit as do_commit

    write(do_commit(config_of(ctx), container, repository, change, message, author, pause) + "\n")


def cp(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="SRC_PATH"),
    destination: str = typer.Argument(..., metavar="DEST_PATH"),
    archive: bool = typer.Option(
        False, "-a", "--archive", help="Archive mode (copy all uid/gid information)"
    ),
    follow_link: bool = typer.Option(
        False, "-L", "--follow-link", help="Always follow symbol link in SRC_PATH"
    ),
    quiet: bool = typer.Option(
        False,
        "-q",
        "--quiet",
        help="Suppress progress output during copy. Progress output is automatically "
        "suppressed if no terminal is attached",
    ),
) -> None:
    """Copy files/folders between a container and the local filesystem

    Use '-' as the source to read a tar archive from stdin
    and extract it to a directory destination in a container.
    Use '-' as the destination to stream a tar archive of a
    container source to stdout.
    """
    import sys

    from pynerd.containers.fs import copy_from, copy_to
    from pynerd.containers.fs_paths import split_cp_arg
    from pynerd.errors import InvalidArgument
    from pynerd.format.units import human_size

    if not source:
        raise InvalidArgument("source can not be empty")
    if not destination:
        raise InvalidArgument("destination can not be empty")
    src_ctr, src_path = split_cp_arg(source)
    dst_ctr, dst_path = split_cp_arg(destination)
    if src_ctr and dst_ctr:
        raise InvalidArgument("copying between containers is not supported")
    if not src_ctr and not dst_ctr:
        raise InvalidArgument("must specify at least one container source")
    cfg = config_of(ctx)
    source_of_quiet = ctx.get_parameter_source("quiet")
    if source_of_quiet is None or source_of_quiet.name == "DEFAULT":
        quiet = not sys.stdout.isatty()  # as Docker: no progress when stdout is no terminal
    if src_ctr:
        if dst_path == "-":
            copy_from(cfg, src_ctr, src_path, sys.stdout.buffer, follow_link)
            sys.stdout.buffer.flush()
            return
        result = copy_from(cfg, src_ctr, src_path, dst_path, follow_link)
    else:
        src = sys.stdin.buffer if src_path == "-" else src_path
        result = copy_to(cfg, dst_ctr, src, dst_path, archive, follow_link)
    if not quiet:
        size = human_size(result.size)
        if result.size != result.transferred:
            size += f" (transferred {human_size(result.transferred)})"
        sys.stderr.write(f"Successfully copied {size} to {result.destination}\n")
