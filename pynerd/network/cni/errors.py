"""Errors of the CNI runtime: a plugin's own failure, and an invalid network configuration."""

from __future__ import annotations

from pathlib import Path

from pynerd.errors import ConfigError, PynerdError


class CNIError(PynerdError):
    """A CNI plugin failed (or could not be run).

    ``code``, ``msg`` and ``details`` are the fields of the plugin's JSON error (spec
    "Error" object) when it printed one; ``message`` is what the user reads, e.g.
    ``plugin type="bridge" failed (add): failed to allocate for range 0: …``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        msg: str | None = None,
        details: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.msg = message if msg is None else msg
        self.details = details

    def wrapped(self, prefix: str) -> CNIError:
        """The same plugin error with ``prefix: `` in front of the message."""
        return CNIError(
            f"{prefix}: {self.message}", code=self.code, msg=self.msg, details=self.details
        )


class NetworkConfigError(ConfigError):
    """A file in the CNI config directory is not a valid network configuration."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"invalid CNI network configuration {path}: {problem}")
        self.path = Path(path)
        self.problem = problem
