"""Container lifecycle commands: start, stop, kill, restart, rm, pause, unpause, wait, rename.

Each acts on every target, reports each failure on its own line, and exits
non-zero if any failed, like Docker; successful targets are echoed as typed.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from pynerd_cli.context import config_of
from pynerd_cli.output import write

_L = list[str]


def _finish(result: Any) -> None:
    from pynerd.errors import raise_all

    if result.ok:
        write("".join(ref + "\n" for ref in result.ok))
    raise_all(result.errors)


def start(
    ctx: typer.Context,
    containers: _L = typer.Argument(..., metavar="CONTAINER..."),
    attach: bool = typer.Option(
        False, "-a", "--attach", help="Attach STDOUT/STDERR and forward signals"
    ),
    interactive: bool = typer.Option(False, "-i", "--interactive", help="Attach container's STDIN"),
) -> None:
    """Start one or more stopped containers."""
    from pynerd.containers import lifecycle

    cfg = config_of(ctx)
    if attach or interactive:
        from pynerd.containers.control import find
        from pynerd.errors import InvalidArgument

        if len(containers) > 1:
            raise InvalidArgument("you cannot start and attach multiple containers at once")
        code = lifecycle.start_attached(cfg, find(cfg, containers[0]), interactive)
        raise typer.Exit(code)
    _finish(lifecycle.start_many(cfg, containers))


def stop(
    ctx: typer.Context,
    containers: _L = typer.Argument(..., metavar="CONTAINER..."),
    time: int | None = typer.Option(
        None, "-t", "--time", "--timeout", help="Seconds to wait before killing the container"
    ),
    signal: str | None = typer.Option(
        None, "-s", "--signal", help="Signal to send to the container"
    ),
) -> None:
    """Stop one or more running containers."""
    from pynerd.containers import control

    cfg = config_of(ctx)

    def act(record: dict[str, Any]) -> None:
        if signal:
            record = {**record, "Config": {**record["Config"], "StopSignal": signal}}
        control.stop(cfg, record, time)

    _finish(control.for_each(cfg, containers, act))


def kill(
    ctx: typer.Context,
    containers: _L = typer.Argument(..., metavar="CONTAINER..."),
    signal: str = typer.Option("KILL", "-s", "--signal", help="Signal to send to the container"),
) -> None:
    """Kill one or more running containers."""
    from pynerd.containers import control

    cfg = config_of(ctx)
    sig = control.parse_signal(signal)
    _finish(control.for_each(cfg, containers, lambda r: control.signal(cfg, r, sig)))


def restart(
    ctx: typer.Context,
    containers: _L = typer.Argument(..., metavar="CONTAINER..."),
    time: int | None = typer.Option(
        None, "-t", "--time", "--timeout", help="Seconds to wait before killing the container"
    ),
) -> None:
    """Restart one or more containers."""
    from pynerd.containers import control, lifecycle

    cfg = config_of(ctx)
    _finish(control.for_each(cfg, containers, lambda r: lifecycle.restart(cfg, r, time)))


def rm(
    ctx: typer.Context,
    containers: _L = typer.Argument(..., metavar="CONTAINER..."),
    force: bool = typer.Option(
        False, "-f", "--force", help="Force the removal of a running container (uses SIGKILL)"
    ),
    volumes: bool = typer.Option(
        False, "-v", "--volumes", help="Remove anonymous volumes associated with the container"
    ),
) -> None:
    """Remove one or more containers."""
    from pynerd.containers.remove import remove
    from pynerd.errors import raise_all

    result = remove(config_of(ctx), containers, force, volumes)
    if result.removed:
        write("".join(ref + "\n" for ref in result.removed))
    for warning in result.warnings:  # Docker prints them, yet exits 0
        sys.stderr.write(f"Error: {warning.message}\n")
    raise_all(result.errors)


def pause(ctx: typer.Context, containers: _L = typer.Argument(..., metavar="CONTAINER...")) -> None:
    """Pause all processes within one or more containers."""
    from pynerd.containers import control

    cfg = config_of(ctx)
    _finish(control.for_each(cfg, containers, lambda r: control.pause(cfg, r)))


def unpause(
    ctx: typer.Context, containers: _L = typer.Argument(..., metavar="CONTAINER...")
) -> None:
    """Unpause all processes within one or more containers."""
    from pynerd.containers import control

    cfg = config_of(ctx)
    _finish(control.for_each(cfg, containers, lambda r: control.unpause(cfg, r)))


def wait(ctx: typer.Context, containers: _L = typer.Argument(..., metavar="CONTAINER...")) -> None:
    """Block until one or more containers stop, then print their exit codes."""
    from pynerd.containers import control
    from pynerd.errors import PynerdError, raise_all

    cfg = config_of(ctx)
    errors: list[PynerdError] = []
    for ref in containers:
        try:
            record = control.find(cfg, ref)
            done = control.wait_exit(cfg, record["Id"])
            code = done["State"]["ExitCode"] if done else -1
            write(f"{code}\n")
        except PynerdError as e:
            errors.append(e)
    raise_all(errors)


def rename(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER"),
    new_name: str = typer.Argument(..., metavar="NEW_NAME"),
) -> None:
    """Rename a container."""
    from pynerd.containers.control import rename as do_rename

    do_rename(config_of(ctx), container, new_name)


def prune(
    ctx: typer.Context,
    filter: _L = typer.Option(
        [], "--filter", help='Provide filter values (e.g. "until=<timestamp>")'
    ),
    force: bool = typer.Option(False, "-f", "--force", help="Do not prompt for confirmation"),
) -> None:
    """Remove all stopped containers."""
    from pynerd_cli.confirm import confirm

    from pynerd.containers.remove import prune as do_prune
    from pynerd.format.units import human_size

    if not force and not confirm("WARNING! This will remove all stopped containers."):
        return
    removed, space = do_prune(config_of(ctx), filter)
    if removed:
        write("Deleted Containers:\n" + "".join(c + "\n" for c in removed) + "\n")
    write(f"Total reclaimed space: {human_size(space)}\n")
