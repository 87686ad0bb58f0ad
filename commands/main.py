"""Entry point: the table of commands, the root help and ``main()``.

Subcommand modules are imported only when their command runs (or when its own
help is asked for), so ``pynerd ps`` never pays for the modules of ``pull`` or
``run``. The table below is therefore the single list of commands, with their
one-line help, so ``pynerd --help`` can be printed without importing any.

This module imports no typer: ``main()`` first offers argv to the fast path of
``run``/``create`` (:mod:`pynerd_cli.fastrun`, a hand-written parser of the same
flags), and only when that declines does it import the typer command tree
(:mod:`pynerd_cli.tree`: the root command, its global options, lazy loading).
"""

from __future__ import annotations

import sys
from typing import Any

# name -> (module, attribute, section, short help). Sections follow Docker's --help.
COMMON = "Common Commands"
MANAGEMENT = "Management Commands"
OTHER = "Commands"
COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "run": ("run", "run", COMMON, "Create and run a new container from an image"),
    "exec": ("execlogs", "exec", COMMON, "Execute a command in a running container"),
    "ps": ("ps", "ps", COMMON, "List containers"),
    "pull": ("pull", "pull", COMMON, "Download an image from a registry"),
    "push": ("push", "push", COMMON, "Upload an image to a registry"),
    "images": ("images", "images", COMMON, "List images"),
    "login": ("login", "login", COMMON, "Authenticate to a registry"),
    "logout": ("login", "logout", COMMON, "Log out from a registry"),
    "version": ("version", "version", COMMON, "Show the pynerd version information"),
    "info": ("info", "info", COMMON, "Display system-wide information"),
    "container": ("container", "app", MANAGEMENT, "Manage containers"),
    "image": ("image", "app", MANAGEMENT, "Manage images"),
    "network": ("network", "app", MANAGEMENT, "Manage networks"),
    "system": ("system", "app", MANAGEMENT, "Manage pynerd"),
    "volume": ("volume", "app", MANAGEMENT, "Manage volumes"),
    "attach": (
        "procs",
        "attach",
        OTHER,
        "Attach local standard input, output, and error streams to a running container",
    ),
    "commit": ("fscmds", "commit", OTHER, "Create a new image from a container's changes"),
    "cp": (
        "fscmds",
        "cp",
        OTHER,
        "Copy files/folders between a container and the local filesystem",
    ),
    "create": ("run", "create", OTHER, "Create a new container"),
    "diff": (
        "fscmds",
        "diff",
        OTHER,
        "Inspect changes to files or directories on a container's filesystem",
    ),
    "export": ("fscmds", "export", OTHER, "Export a container's filesystem as a tar archive"),
    "history": ("history", "history", OTHER, "Show the history of an image"),
    "kill": ("lifecycle", "kill", OTHER, "Kill one or more running containers"),
    "logs": ("execlogs", "logs", OTHER, "Fetch the logs of a container"),
    "pause": ("lifecycle", "pause", OTHER, "Pause all processes within one or more containers"),
    "port": ("procs", "port", OTHER, "List port mappings or a specific mapping for the container"),
    "rename": ("lifecycle", "rename", OTHER, "Rename a container"),
    "restart": ("lifecycle", "restart", OTHER, "Restart one or more containers"),
    "rm": ("lifecycle", "rm", OTHER, "Remove one or more containers"),
    "start": ("lifecycle", "start", OTHER, "Start one or more stopped containers"),
    "stats": (
        "procs",
        "stats",
        OTHER,
        "Display a live stream of container(s) resource usage statistics",
    ),
    "stop": ("lifecycle", "stop", OTHER, "Stop one or more running containers"),
    "unpause": (
        "lifecycle",
        "unpause",
        OTHER,
        "Unpause all processes within one or more containers",
    ),
    "wait": (
        "lifecycle",
        "wait",
        OTHER,
        "Block until one or more containers stop, then print their exit codes",
    ),
    "import": (
        "importcmd",
        "import_image",
        OTHER,
        "Import the contents from a tarball to create a filesystem image",
    ),
    "inspect": ("inspect", "inspect", OTHER, "Return low-level information on pynerd objects"),
    "load": ("load", "load", OTHER, "Load an image from a tar archive or STDIN"),
    "rmi": ("rmi", "rmi", OTHER, "Remove one or more images"),
    "save": (
        "save",
        "save",
        OTHER,
        "Save one or more images to a tar archive (streamed to STDOUT by default)",
    ),
    "tag": ("tag", "tag", OTHER, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    "top": ("procs", "top", OTHER, "Display the running processes of a container"),
}
SECTIONS = (COMMON, MANAGEMENT, OTHER)


def root_help() -> str:
    lines = [
        "",
        "Usage:  pynerd [OPTIONS] COMMAND",
        "",
        "A daemonless, Docker-compatible container CLI",
        "",
    ]
    width = max(len(n) for n in COMMANDS) + 2
    for section in SECTIONS:
        names = [n for n, spec in COMMANDS.items() if spec[2] == section]
        if section != COMMON:
            names.sort()
        if not names:
            continue
        lines.append(f"{section}:")
        lines += [f"  {n:<{width}}{COMMANDS[n][3]}" for n in names]
        lines.append("")
    lines.append("Global Options:")
    lines += [f"  {flag:<28}{text}" for flag, text in GLOBAL_OPTION_HELP]
    lines += ["", "Run 'pynerd COMMAND --help' for more information on a command.", ""]
    return "\n".join(lines)


GLOBAL_OPTION_HELP = (
    ("--data-root string", 'Persistent state directory (default "/var/lib/pynerd")'),
    ("--run-root string", 'Runtime state directory (default "/run/pynerd")'),
    ("-n, --namespace string", 'Namespace of containers, images, volumes (default "default")'),
    ("--snapshotter string", 'overlayfs or native (default "overlayfs")'),
    ("--cni-path string", 'CNI plugin directories (default "/usr/lib/cni:/opt/cni/bin")'),
    ("--cni-netconfpath string", 'CNI network config directory (default "/etc/cni/net.d")'),
    ("--insecure-registry list", "Registries to reach over plain HTTP (repeatable)"),
    ("--hosts-dir list", "Registry host config directories (repeatable)"),
    ("-D, --debug", "Enable debug mode (tracebacks on errors)"),
    ("-v, --version", "Print version information and quit"),
)

CONTEXT = {"help_option_names": ["--help"], "max_content_width": 100}


def run_argv(argv: list[str]) -> int:
    """Run one command line (without the program name); returns the exit code."""
    if argv[:1] == ["__complete"]:  # live names for the shell completions: no typer
        from pynerd_cli.complete import main as complete

        return complete(argv[1:])
    if "run" in argv or "create" in argv:
        from pynerd_cli import fastrun

        call = fastrun.plan(argv)
        if call is not None:
            from pynerd_cli.errors import run_call

            return run_call(call, argv)
    from pynerd_cli.errors import run
    from pynerd_cli.tree import app

    return run(app, argv)


def main(argv: list[str] | None = None) -> None:
    import os

    code = run_argv(sys.argv[1:] if argv is None else argv)
    # Every file pynerd writes is closed (and fsync'ed) by now; skipping the
    # interpreter's finalization (module teardown, GC) saves ~20 ms per command.
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, OSError):
        code = code or 141
    os._exit(code)


def __getattr__(name: str) -> Any:
    """``app``, ``root``, ``LazyGroup``, ``load_command``: the typer tree, imported on use."""
    if name in ("app", "root", "LazyGroup", "load_command"):
        from pynerd_cli import tree

        return getattr(tree, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
