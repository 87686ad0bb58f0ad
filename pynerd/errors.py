"""Typed errors raised by the library.

The CLI turns every :class:`PynerdError` into one line on stderr and an exit
code in a single place (``pynerd_cli.errors``). The message of each error is
already the text a Docker user expects to read, without the ``Error: `` prefix.
"""

from __future__ import annotations


class PynerdError(Exception):
    """Base of every error the library raises on purpose.

    ``exit_code`` is the process exit status the CLI uses; 125 is Docker's code
    for a failure of the tool itself (as opposed to the container's command).
    """

    exit_code: int = 125

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(PynerdError):
    """An object (container, image, volume, network, ...) does not exist."""


class AlreadyExists(PynerdError):
    """An object with that name or key exists already."""


class InvalidArgument(PynerdError):
    """The caller's input is malformed: a bad flag value, reference, template..."""


class Conflict(PynerdError):
    """The operation conflicts with the current state (e.g. removing an image in use)."""


class Unavailable(PynerdError):
    """A resource the operation needs is missing or unreachable (runc, a registry, ...)."""


class ConfigError(InvalidArgument):
    """The configuration file or environment holds an invalid or unknown setting."""


class CommandNotFound(PynerdError):
    """The container's command does not exist (Docker exits 127)."""

    exit_code = 127


class CommandNotExecutable(PynerdError):
    """The container's command exists but cannot be invoked (Docker exits 126)."""

    exit_code = 126


class ContainerExit(PynerdError):
    """Not a failure of pynerd: the container exited with ``code`` and the CLI passes it on."""

    def __init__(self, code: int) -> None:
        super().__init__(f"container exited with code {code}")
        self.exit_code = code


def no_such_container(name: str) -> NotFound:
    return NotFound(f"No such container: {name}")


def no_such_image(ref: str) -> NotFound:
    return NotFound(f"No such image: {ref}")


def no_such_volume(name: str) -> NotFound:
    return NotFound(f"No such volume: {name}")


def network_not_found(name: str) -> NotFound:
    return NotFound(f"network {name} not found")


class MultiError(PynerdError):
    """Several targets of one command failed; each error is reported on its own line."""

    def __init__(self, errors: list[PynerdError]) -> None:
        super().__init__("\n".join(e.message for e in errors))
        self.errors = errors
        self.exit_code = errors[0].exit_code if errors else 125


def raise_all(errors: list[PynerdError]) -> None:
    """Raise nothing, the one error, or a :class:`MultiError`."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MultiError(errors)
