"""``pynerd container``: management group for containers."""

from __future__ import annotations

import typer
from pynerd_cli import execlogs, fscmds, procs
from pynerd_cli import lifecycle as lc
from pynerd_cli.compat import DockerCommand
from pynerd_cli.main import CONTEXT
from pynerd_cli.ps import ps
from pynerd_cli.run import COMMAND_CONTEXT, create, run

app = typer.Typer(
    rich_markup_mode=None,
    add_completion=False,
    context_settings=CONTEXT,
    no_args_is_help=True,
    help="Manage containers",
)


def inspect(
    ctx: typer.Context,
    names: list[str] = typer.Argument(..., metavar="CONTAINER..."),
    format: str | None = typer.Option(
        None, "-f", "--format", help="Format output using a custom template"
    ),
    size: bool = typer.Option(False, "-s", "--size", help="Display total file sizes"),
) -> None:
    """Display detailed information on one or more containers."""
    from pynerd_cli.inspect import inspect as inspect_any

    inspect_any(ctx, names, format, size, "container")


for _name, _fn, _help in (
    ("ls", ps, "List containers"),
    ("list", ps, "List containers"),
    ("ps", ps, "List containers"),
    ("inspect", inspect, "Display detailed information on one or more containers"),
    ("start", lc.start, "Start one or more stopped containers"),
    ("stop", lc.stop, "Stop one or more running containers"),
    ("kill", lc.kill, "Kill one or more running containers"),
    ("restart", lc.restart, "Restart one or more containers"),
    ("rm", lc.rm, "Remove one or more containers"),
    ("remove", lc.rm, "Remove one or more containers"),
    ("pause", lc.pause, "Pause all processes within one or more containers"),
    ("unpause", lc.unpause, "Unpause all processes within one or more containers"),
    ("wait", lc.wait, "Block until one or more containers stop, then print their exit codes"),
    ("rename", lc.rename, "Rename a container"),
    ("prune", lc.prune, "Remove all stopped containers"),
    ("logs", execlogs.logs, "Fetch the logs of a container"),
    ("port", procs.port, "List port mappings or a specific mapping for the container"),
    ("diff", fscmds.diff, "Inspect changes to files or directories on a container's filesystem"),
    ("export", fscmds.export, "Export a container's filesystem as a tar archive"),
    ("commit", fscmds.commit, "Create a new image from a container's changes"),
    ("cp", fscmds.cp, "Copy files/folders between a container and the local filesystem"),
    ("stats", procs.stats, "Display a live stream of container(s) resource usage statistics"),
    (
        "attach",
        procs.attach,
        "Attach local standard input, output, and error streams to a running container",
    ),
):
    app.command(_name, help=_help, context_settings=CONTEXT, cls=DockerCommand)(_fn)
# Like run/create, these pass everything after the container on to the process.
app.command(
    "exec",
    help="Execute a command in a running container",
    context_settings=execlogs.EXEC_CONTEXT,
    cls=DockerCommand,
)(execlogs.exec)
app.command(
    "top",
    help="Display the running processes of a container",
    context_settings=procs.TOP_CONTEXT,
    cls=DockerCommand,
)(procs.top)
app.command(
    "create", help="Create a new container", context_settings=COMMAND_CONTEXT, cls=DockerCommand
)(create)
app.command(
    "run",
    help="Create and run a new container from an image",
    context_settings=COMMAND_CONTEXT,
    cls=DockerCommand,
)(run)
