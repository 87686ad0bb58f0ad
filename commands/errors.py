"""The one place where failures become a line on stderr and Docker's exit code.

* library errors (:class:`pynerd.errors.PynerdError`): ``Error: <message>``, their exit code
  — Docker's: 125 when ``run`` or ``create`` fails, 1 when another command does (126,
  127 and a container's own code pass through);
* usage errors (bad flag, unknown command, bad value): one line, exit 125 (click says 2);
* anything unexpected: one line, exit 125; the traceback only with ``--debug``.

Both ways of running a command end here: :func:`run` (the typer command tree) and
:func:`run_call` (the fast path of ``run``, which never imports typer). This module
imports no typer either: click's exceptions are recognised by their class names.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from typing import Any

USAGE_EXIT = 125
FAILURE_EXIT = 1  # Docker's client when a command other than run/create fails
# global flags that take a value: skipped when looking for the command's name
_VALUED_GLOBALS = (
    "--data-root", "--run-root", "-n", "--namespace", "--snapshotter", "--cni-path",
    "--cni-netconfpath", "--insecure-registry", "--hosts-dir",
)  # fmt: skip


def _command_words(argv: list[str]) -> list[str]:
    """The command (and subcommand) words of ``argv``: its non-flag words, in order."""
    words: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _VALUED_GLOBALS:
            skip = True
        elif not arg.startswith("-"):
            words.append(arg)
            if len(words) == 2:
                break
    return words


def exit_code(e: Any, argv: list[str]) -> int:
    """A library error's exit status, as Docker's client gives it (see the module doc)."""
    code: int = e.exit_code
    if code != USAGE_EXIT:
        return code
    words = _command_words(argv)
    if words[:1] == ["container"]:
        words = words[1:]
    return USAGE_EXIT if words[:1] in (["run"], ["create"]) else FAILURE_EXIT


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


def _is_click(e: BaseException, kind: str) -> bool:
    """Is ``e`` one of click's (typer vendors it) ``kind`` exceptions, e.g. ClickException?"""
    return any(c.__name__ == kind and c.__module__.startswith("typer.") for c in type(e).__mro__)


def run(app: Any, argv: list[str]) -> int:
    """Run the typer command tree on ``argv`` and return the process exit code."""
    import typer

    command = typer.main.get_command(app)
    return _guarded(
        lambda: command.main(args=argv, prog_name="pynerd", standalone_mode=False), argv
    )


def run_call(call: Callable[[], int], argv: list[str]) -> int:
    """Run a command the fast path parsed (``call`` returns the exit code), failing alike.

    What click's ``Command.main`` does around a command is done here too, so the
    two paths cannot differ: ^C exits 130 quietly, EOF aborts, EPIPE exits 1.
    """

    def invoke() -> int:
        try:
            return call()
        except EOFError:
            sys.stderr.write("\n")
            _error("aborted")
            return 130
        except KeyboardInterrupt:
            return 130
        except OSError as e:
            if e.errno != errno.EPIPE:  # click exits 1 with its streams pacified
                raise
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1

    return _guarded(invoke, argv)


def _guarded(invoke: Callable[[], Any], argv: list[str]) -> int:
    from pynerd.errors import PynerdError

    try:
        rv = invoke()
        return rv if isinstance(rv, int) else 0
    except PynerdError as e:
        if _debug_requested(argv):
            import traceback

            traceback.print_exc()
        _error(e.message)
        return exit_code(e, argv)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `pynerd ps | head -1`): quiet, like Docker.
        # Point fd 1 at /dev/null so the interpreter's final flush stays silent.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as e:
        if _is_click(e, "ClickException"):  # click's usage and parameter errors
            _error(_usage_message(e))
            return USAGE_EXIT
        if _is_click(e, "Abort"):
            _error("aborted")
            return 130
        if _debug_requested(argv):
            import traceback

            traceback.print_exc()
        _error(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)
        return USAGE_EXIT


def _error(message: str) -> None:
    sys.stderr.write("".join(f"Error: {line}\n" for line in message.split("\n")))
    sys.stderr.flush()
