"""The one place where failures become a line on stderr and Docker's exit code.

* library errors (:class:`pynerd.errors.PynerdError`): ``Error: <message>``, their exit code;
* usage errors (bad flag, unknown command, bad value): one line, exit 125 (click says 2);
* anything unexpected: one line, exit 125; the traceback only with ``--debug``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

USAGE_EXIT = 125

# Typer vendors click; its exception classes are reached through the public
# BadParameter's ancestry rather than a private module path.
_BASES = {c.__name__: c for c in typer.BadParameter.__mro__}
ClickException: type[Exception] = _BASES["ClickException"]
UsageError: type[Exception] = _BASES["UsageError"]


class UnknownCommand(UsageError):  # type: ignore[misc,valid-type]
    exit_code = USAGE_EXIT

    def __init__(self, name: str) -> None:
        super().__init__(f"'{name}' is not a pynerd command. See 'pynerd --help'")
        self.name = name


def _debug_requested(argv: list[str]) -> bool:
    if os.environ.get("PYNERD_DEBUG", "").lower() in ("1", "true", "yes", "on"):
        return True
    from pynerd_cli.main import COMMANDS

    for arg in argv:
        if arg in COMMANDS:
            return False
        if arg in ("-D", "--debug"):
            return True
    return False


def _usage_message(e: Any) -> str:
    kind = type(e).__name__
    if kind == "NoSuchOption":
        return f"unknown flag: {e.option_name}"
    message: str = e.format_message()
    ctx = getattr(e, "ctx", None)
    if ctx is not None and kind != "UnknownCommand":
        message += f"\nSee '{ctx.command_path} --help'."
    return message


def run(app: typer.Typer, argv: list[str]) -> int:
    """Run the command tree on ``argv`` and return the process exit code."""
    from pynerd.errors import PynerdError

    command = typer.main.get_command(app)
    try:
        rv = command.main(args=argv, prog_name="pynerd", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except PynerdError as e:
        if _debug_requested(argv):
            import traceback

            traceback.print_exc()
        _error(e.message)
        return e.exit_code
    except ClickException as e:  # click's usage and parameter errors
        _error(_usage_message(e))
        return USAGE_EXIT
    except typer.Abort:
        _error("aborted")
        return 130
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `pynerd ps | head -1`): quiet, like Docker.
        # Point fd 1 at /dev/null so the interpreter's final flush stays silent.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as e:
        if _debug_requested(argv):
            import traceback

            traceback.print_exc()
        _error(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)
        return USAGE_EXIT


def _error(message: str) -> None:
    sys.stderr.write("".join(f"Error: {line}\n" for line in message.split("\n")))
    sys.stderr.flush()
