"""The plugin executor seam: how the CNI runtime runs one plugin binary.

A plugin reads its config on stdin and the CNI_* variables from its environment, prints
a result (ADD) or nothing (DEL, CHECK) on stdout and exits 0; on failure it exits
non-zero and prints the spec's error object ``{"cniVersion", "code", "msg", "details"}``
on stdout. :class:`SubprocessExecutor` does that for real (through the
:class:`pynerd.procs.Runner` seam); :class:`FakeExecutor` answers from a table so unit
tests need neither root nor plugins.
"""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pynerd.network.cni.errors import CNIError
from pynerd.procs import Runner, SubprocessRunner
from pynerd.structs import frozen_record

# Plugins such as portmap and firewall run iptables, found on PATH.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class PluginExecutor(Protocol):
    def exec(self, plugin_path: str, env: Mapping[str, str], stdin: bytes) -> bytes:
        """Run the plugin with the CNI_* variables ``env``; its stdout, or raise CNIError."""
        ...


def plugin_error(stdout: bytes, stderr: bytes, status: str) -> CNIError:
    """The CNIError for a failed plugin run (libcni's RawExec.pluginErr).

    The message is the plugin's ``msg`` (plus ``; details``), so the user reads what the
    plugin said rather than an exit status.
    """
    if not stdout.strip():
        text = stderr.decode(errors="replace").strip()
        if text:
            return CNIError(f"netplugin failed: {text!r}")
        return CNIError(f"netplugin failed with no error message: {status}")
    try:
        obj = json.loads(stdout)
        if not isinstance(obj, dict):
            raise ValueError("not an object")
    except ValueError as e:
        return CNIError(
            "netplugin failed but error parsing its diagnostic message "
            f"{stdout.decode(errors='replace')!r}: {e}"
        )
    msg = str(obj.get("msg") or "")
    details = str(obj.get("details") or "")
    code = obj.get("code")
    message = f"{msg}; {details}" if details else msg
    return CNIError(
        message or f"netplugin failed: {status}",
        code=code if isinstance(code, int) else None,
        msg=msg,
        details=details or None,
    )


class SubprocessExecutor:
    """Runs plugins as child processes, with the caller's environment plus the CNI_* variables.

    Like libcni, a plugin binary being replaced right now (ETXTBSY) is retried for a few
    seconds; unlike libcni, a hung plugin is killed after ``timeout`` seconds.
    """

    def __init__(self, runner: Runner | None = None, timeout: float | None = 120.0) -> None:
        self.runner = runner or SubprocessRunner()
        self.timeout = timeout

    def exec(self, plugin_path: str, env: Mapping[str, str], stdin: bytes) -> bytes:
        import subprocess

        full = dict(os.environ)
        full.setdefault("PATH", DEFAULT_PATH)
        full.update(env)
        for attempt in range(6):
            try:
                done = self.runner.run([plugin_path], env=full, input=stdin, timeout=self.timeout)
                break
            except subprocess.TimeoutExpired:
                raise CNIError(
                    f"netplugin {plugin_path} timed out after {self.timeout:g}s"
                ) from None
            except OSError as e:
                if e.errno == errno.ETXTBSY and attempt < 5:
                    time.sleep(1)
                    continue
                raise CNIError(f"cannot execute {plugin_path}: {e.strerror}") from None
        if done.returncode != 0:
            status = (
                f"killed by signal {-done.returncode}"
                if done.returncode < 0
                else f"exit status {done.returncode}"
            )
            raise plugin_error(done.stdout, done.stderr, status)
        return done.stdout


@frozen_record
class FakeCall:
    """One recorded plugin run."""

    plugin: str  # the binary's file name, i.e. the plugin type
    command: str  # CNI_COMMAND
    env: dict[str, str]
    config: dict[str, Any]  # the JSON the plugin got on stdin


Answer = dict[str, Any] | Callable[[FakeCall], dict[str, Any]]


class FakeExecutor:
    """Records calls and answers like a well-behaved plugin chain, for unit tests.

    ADD answers ``results[plugin]`` (a result dict, or a function of the call), else echoes
    ``prevResult`` as a pass-through plugin would, else an empty result. ``errors`` maps
    ``(plugin, command)`` to the JSON error object the plugin "prints" when it fails.
    """

    def __init__(
        self,
        results: Mapping[str, Answer] | None = None,
        errors: Mapping[tuple[str, str], dict[str, Any]] | None = None,
    ) -> None:
        self.results = dict(results or {})
        self.errors = dict(errors or {})
        self.calls: list[FakeCall] = []

    def exec(self, plugin_path: str, env: Mapping[str, str], stdin: bytes) -> bytes:
        call = FakeCall(
            os.path.basename(plugin_path), env.get("CNI_COMMAND", ""), dict(env), json.loads(stdin)
        )
        self.calls.append(call)
        failure = self.errors.get((call.plugin, call.command))
        if failure is not None:
            raise plugin_error(json.dumps(failure).encode(), b"", "exit status 1")
        if call.command != "ADD":
            return b""
        answer = self.results.get(call.plugin)
        if callable(answer):
            answer = answer(call)
        if answer is None:
            answer = call.config.get("prevResult") or {"cniVersion": call.config["cniVersion"]}
        return json.dumps(answer).encode()

    def commands(self) -> list[tuple[str, str]]:
        """``(plugin, command)`` of every call so far, in order."""
        return [(c.plugin, c.command) for c in self.calls]
