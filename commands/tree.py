"""The typer command tree: the root command, its global options, lazy subcommands.

Only the typer path imports this module (see :mod:`pynerd_cli.main`); the table of
commands, the root help and ``main()`` live in ``main`` so that the fast path of
``run`` (:mod:`pynerd_cli.fastrun`) never imports typer or click.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from pynerd_cli.context import GlobalOptions
from pynerd_cli.errors import USAGE_EXIT
from pynerd_cli.main import COMMANDS, CONTEXT, root_help
from typer.core import TyperGroup

# Typer vendors click; its UsageError is reached through the public BadParameter's
# ancestry rather than a private module path.
_UsageError: Any = {c.__name__: c for c in typer.BadParameter.__mro__}["UsageError"]


class UnknownCommand(_UsageError):  # type: ignore[misc]
    """``pynerd nosuch``: a usage error (exit 125, as every usage error)."""

    exit_code = USAGE_EXIT

    def __init__(self, name: str) -> None:
        super().__init__(f"'{name}' is not a pynerd command. See 'pynerd --help'")
        self.name = name


def load_command(name: str) -> Any:
    """Import the module behind ``name`` and return its click command."""
    import importlib

    module_name, attr, _, _ = COMMANDS[name]
    module = importlib.import_module(f"pynerd_cli.{module_name}")
    obj = getattr(module, attr)
    if isinstance(obj, typer.Typer):
        return typer.main.get_command(obj)
    from pynerd_cli.compat import DockerCommand

    single = typer.Typer(rich_markup_mode=None, add_completion=False)
    # COMMAND_CONTEXTS names the commands of a module that need their own settings
    # (exec, top: what follows the container is the process's, flags included).
    context = getattr(module, "COMMAND_CONTEXTS", {}).get(
        name, getattr(module, "COMMAND_CONTEXT", CONTEXT)
    )
    single.command(name, help=COMMANDS[name][3], context_settings=context, cls=DockerCommand)(obj)
    return typer.main.get_command(single)


class LazyGroup(TyperGroup):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        return load_command(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0]
        if name not in COMMANDS:
            raise UnknownCommand(name)
        return name, self.get_command(ctx, name), args[1:]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        formatter.write(root_help())


app = typer.Typer(
    cls=LazyGroup,
    rich_markup_mode=None,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT,
    no_args_is_help=True,
)


def _print_version(value: bool) -> None:
    if value:
        from pynerd import __version__

        sys.stdout.write(f"pynerd version {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    data_root: str | None = typer.Option(None, "--data-root", metavar="PATH"),
    run_root: str | None = typer.Option(None, "--run-root", metavar="PATH"),
    namespace: str | None = typer.Option(None, "-n", "--namespace"),
    snapshotter: str | None = typer.Option(None, "--snapshotter"),
    cni_path: str | None = typer.Option(None, "--cni-path"),
    cni_netconfpath: str | None = typer.Option(None, "--cni-netconfpath"),
    insecure_registry: list[str] | None = typer.Option(None, "--insecure-registry"),
    hosts_dir: list[str] | None = typer.Option(None, "--hosts-dir"),
    debug: bool = typer.Option(False, "-D", "--debug"),
    version: bool = typer.Option(False, "-v", "--version", callback=_print_version, is_eager=True),
) -> None:
    """A daemonless, Docker-compatible container CLI."""
    ctx.obj = GlobalOptions(
        flags={
            "data_root": data_root,
            "run_root": run_root,
            "namespace": namespace,
            "snapshotter": snapshotter,
            "cni_path": cni_path,
            "cni_netconfpath": cni_netconfpath,
            "insecure_registries": insecure_registry or None,
            "hosts_dir": hosts_dir or None,
            "debug": True if debug else None,
        }
    )
