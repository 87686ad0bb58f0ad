"""``pynerd login`` and ``pynerd logout``: shared with Docker's ~/.docker/config.json."""

from __future__ import annotations

import sys

import typer
from pynerd_cli.context import config_of
from pynerd_cli.output import write

DEFAULT_SERVER = "docker.io"


def login(
    ctx: typer.Context,
    server: str | None = typer.Argument(None, metavar="[SERVER]"),
    username: str | None = typer.Option(None, "-u", "--username", help="Username"),
    password: str | None = typer.Option(None, "-p", "--password", help="Password"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Take the password from stdin"
    ),
) -> None:
    """Authenticate to a registry."""
    from pynerd.errors import InvalidArgument
    from pynerd.registry.client import RegistryClient

    if password is not None and password_stdin:
        raise InvalidArgument("--password and --password-stdin are mutually exclusive")
    if password is not None:
        sys.stderr.write(
            "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n"
        )
    if password_stdin:
        if not username:
            raise InvalidArgument("Must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    if not username:
        write("Username: ")
        username = sys.stdin.readline().strip()
    if password is None:
        import getpass

        password = getpass.getpass("Password: ")
    if not username or not password:
        raise InvalidArgument("Username and password are required")
    RegistryClient(config_of(ctx)).login(server or DEFAULT_SERVER, username, password)
    write("Login Succeeded\n")


def logout(
    ctx: typer.Context,
    server: str | None = typer.Argument(None, metavar="[SERVER]"),
) -> None:
    """Log out from a registry."""
    from pynerd.registry.credentials import logout as do_logout

    key, removed = do_logout(server or DEFAULT_SERVER)
    write(f"Removing login credentials for {key}\n" if removed else f"Not logged in to {key}\n")
