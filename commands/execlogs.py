"""``pynerd exec`` and ``pynerd logs``."""

# ruff: noqa: E501 - flag help texts read best on one line
from __future__ import annotations

import sys

import typer
from pynerd_cli.context import config_of

# exec: everything after the container is the command's, flags included. logs keeps the
# default context, so `logs web --tail 1` parses as in Docker.
EXEC_CONTEXT = {"help_option_names": ["--help"], "allow_interspersed_args": False}
COMMAND_CONTEXTS = {"exec": EXEC_CONTEXT}


def exec(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER"),
    command: list[str] = typer.Argument(..., metavar="COMMAND [ARG...]"),
    detach: bool = typer.Option(
        False, "-d", "--detach", help="Detached mode: run command in the background"
    ),
    env: list[str] = typer.Option([], "-e", "--env", help="Set environment variables"),
    env_file: list[str] = typer.Option(
        [], "--env-file", help="Read in a file of environment variables"
    ),
    interactive: bool = typer.Option(
        False, "-i", "--interactive", help="Keep STDIN open even if not attached"
    ),
    privileged: bool = typer.Option(
        False, "--privileged", help="Give extended privileges to the command"
    ),
    tty: bool = typer.Option(False, "-t", "--tty", help="Allocate a pseudo-TTY"),
    user: str | None = typer.Option(
        None, "-u", "--user", help="Username or UID (format: <name|uid>[:<group|gid>])"
    ),
    workdir: str | None = typer.Option(
        None, "-w", "--workdir", help="Working directory inside the container"
    ),
) -> None:
    """Execute a command in a running container."""
    from pynerd.containers.execute import exec_in
    from pynerd.containers.spec_process import ExecOptions

    opts = ExecOptions(
        cmd=tuple(command),
        env=tuple(env),
        env_files=tuple(env_file),
        user=user,
        workdir=workdir,
        tty=tty,
        privileged=privileged,
        interactive=interactive,
    )
    raise typer.Exit(exec_in(config_of(ctx), container, opts, detach))


def logs(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER"),
    details: bool = typer.Option(False, "--details", help="Show extra details provided to logs"),
    follow: bool = typer.Option(False, "-f", "--follow", help="Follow log output"),
    since: str | None = typer.Option(
        None,
        "--since",
        help='Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
    ),
    tail: str = typer.Option(
        "all", "-n", "--tail", help="Number of lines to show from the end of the logs"
    ),
    timestamps: bool = typer.Option(False, "-t", "--timestamps", help="Show timestamps"),
    until: str | None = typer.Option(
        None, "--until", help="Show logs before a timestamp or relative"
    ),
) -> None:
    """Fetch the logs of a container."""
    from pynerd.containers.execute import LogsOptions
    from pynerd.containers.execute import logs as read

    out, err = sys.stdout.buffer, sys.stderr.buffer
    for stream, data in read(
        config_of(ctx), container, LogsOptions(follow, since, until, tail, timestamps)
    ):
        target = err if stream == "stderr" else out
        target.write(data)
        target.flush()
