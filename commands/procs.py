"""``pynerd top``, ``pynerd stats`` and ``pynerd attach``."""


from __future__ import annotations

import typer
from pynerd_cli.context import config_of
from pynerd_cli.output import write

# top: everything after the container is ps's options. stats, attach and port keep the
# default context, so their flags may follow the container and unknown flags are errors.
TOP_CONTEXT = {
    "help_option_names": ["--help"],
    "allow_interspersed_args": False,
    "ignore_unknown_options": True,
}
COMMAND_CONTEXTS = {"top": TOP_CONTEXT}


def top(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER"),
    ps_options: list[str] = typer.Argument(None, metavar="[ps OPTIONS]"),
) -> None:
    """Display the running processes of a container."""
    from pynerd.containers.inspectproc import top as do_top
    from pynerd.format.table import tabwrite

    titles, rows = do_top(config_of(ctx), container, list(ps_options or []))
    write(tabwrite("".join("\t".join(r) + "\n" for r in [titles, *rows])))


def stats(
    ctx: typer.Context,
    containers: list[str] = typer.Argument(None, metavar="[CONTAINER...]"),
    all: bool = typer.Option(
        False, "-a", "--all", help="Show all containers (default shows just running)"
    ),
    format: str | None = typer.Option(
        None, "--format", help="Format output using a custom template"
    ),
    no_stream: bool = typer.Option(
        False, "--no-stream", help="Disable streaming stats and only pull the first result"
    ),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Do not truncate output"),
) -> None:
    """Display a live stream of container(s) resource usage statistics."""
    import sys

    from pynerd.containers.inspectproc import STATS_SPEC
    from pynerd.containers.inspectproc import stats as sample
    from pynerd.format.listing import render_listing

    cfg = config_of(ctx)
    refs = list(containers or [])
    while True:
        text = render_listing(sample(cfg, refs, all, no_trunc), STATS_SPEC, format)
        if no_stream:
            write(text)
            return
        if sys.stdout.isatty():
            write("\x1b[2J\x1b[H")  # clear the screen, like Docker's live view
        write(text)


def attach(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER"),
    detach_keys: str | None = typer.Option(
        None, "--detach-keys", help="Override the key sequence for detaching a container"
    ),
    no_stdin: bool = typer.Option(False, "--no-stdin", help="Do not attach STDIN"),
    sig_proxy: bool = typer.Option(
        True,
        "--sig-proxy/--no-sig-proxy",
        help="Proxy all received signals to the process",
        show_default=False,
    ),
) -> None:
    """Attach local standard input, output, and error streams to a running container."""
    from pynerd.containers.execute import attach_to

    raise typer.Exit(attach_to(config_of(ctx), container, not no_stdin, detach_keys, sig_proxy))


def port(
    ctx: typer.Context,
    container: str = typer.Argument(..., metavar="CONTAINER"),
    private_port: str | None = typer.Argument(None, metavar="[PRIVATE_PORT[/PROTO]]"),
) -> None:
    """List port mappings or a specific mapping for the container."""
    from pynerd.containers.inspectproc import ports

    write("".join(line + "\n" for line in ports(config_of(ctx), container, private_port)))
