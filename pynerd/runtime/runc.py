"""runc, driven as a subprocess through a swappable :class:`pynerd.procs.Runner`.

Short commands (state, start, kill, delete, pause, resume, ps, list, update, events)
go through the Runner with ``--log-format json``: runc then writes its errors to
stderr as JSON lines (``{"level":"error","msg":…}``), which :func:`runc_error_message`
reads back. ``create`` and ``exec`` differ: the container process inherits runc's
stdio, so runc's stderr *is* the container's stderr. Those two run with
``--log <memfd>`` instead (an anonymous file passed as ``/proc/self/fd/N``), so the
error text never mixes with the container's output, and go through a separate
``spawn`` seam that hands file descriptors over.

Errors become typed: a command that cannot be found in the container exits 127
(:class:`CommandNotFound`), one that cannot be executed 126
(:class:`CommandNotExecutable`), anything else 125, each with Docker's wording
(``failed to create task for container: failed to create shim task: OCI runtime
create failed: runc create failed: …: unknown``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from pynerd.errors import (
    CommandNotExecutable,
    CommandNotFound,
    Conflict,
    NotFound,
    PynerdError,
    Unavailable,
)
from pynerd.procs import Runner, SubprocessRunner, find_executable
from pynerd.structs import frozen_record

Stdio = int | IO[Any] | None


@frozen_record
class RuncVersion:
    version: str
    commit: str
    spec: str
    path: str


class RuncError(PynerdError):
    """runc failed; ``runc_message`` is runc's own text, ``message`` Docker's wording."""

    def __init__(self, message: str, runc_message: str = "") -> None:
        super().__init__(message)
        self.runc_message = runc_message


class Spawn:
    """The seam for runc commands that hand file descriptors to the container.

    ``__call__`` runs ``args`` with the given stdio and extra fds (kept at their numbers)
    and returns the exit status; ``popen`` returns the running process.
    """

    def __call__(
        self,
        args: Sequence[str],
        *,
        stdin: Stdio = None,
        stdout: Stdio = None,
        stderr: Stdio = None,
        cwd: str | None = None,
        pass_fds: Sequence[int] = (),
        timeout: float | None = None,
    ) -> int:
        proc = self.popen(
            args, stdin=stdin, stdout=stdout, stderr=stderr, cwd=cwd, pass_fds=pass_fds
        )
        return int(proc.wait(timeout))

    def popen(
        self,
        args: Sequence[str],
        *,
        stdin: Stdio = None,
        stdout: Stdio = None,
        stderr: Stdio = None,
        cwd: str | None = None,
        pass_fds: Sequence[int] = (),
        new_session: bool = True,
    ) -> Any:
        import subprocess

        null = subprocess.DEVNULL
        return subprocess.Popen(
            list(args),
            stdin=null if stdin is None else stdin,
            stdout=null if stdout is None else stdout,
            stderr=null if stderr is None else stderr,
            cwd=cwd,
            pass_fds=tuple(pass_fds),
            # Its own session: a Ctrl-C at the caller's terminal must not reach the
            # container through the process group (signals are proxied on purpose).
            # Not for ``exec -t``: runc relays the terminal and needs its SIGWINCH.
            start_new_session=new_session,
        )


class Runc:
    def __init__(
        self,
        binary: str = "runc",
        root: Path | None = None,
        runner: Runner | None = None,
        spawn: Spawn | None = None,
    ) -> None:
        self.binary = binary
        self.root = root
        self.runner: Runner = runner or SubprocessRunner()
        self.spawn = spawn or Spawn()

    def path(self) -> str:
        found = find_executable(self.binary) if "/" not in self.binary else self.binary
        if not found:
            raise Unavailable(f"OCI runtime {self.binary!r} not found in $PATH (install runc)")
        return found

    def version(self) -> RuncVersion:
        path = self.path()
        out = self.runner.run([path, "--version"], timeout=10)
        if out.returncode != 0:
            raise Unavailable(f"{path} --version failed: {out.stderr.decode(errors='replace')}")
        return parse_version(out.stdout.decode(errors="replace"), path)

    # -- plumbing -----------------------------------------------------------------------

    def base_args(self, log: str | None = None) -> list[str]:
        """``runc [--root R] [--log L] --log-format json``: what every command starts with."""
        args = [self.path()]
        if self.root is not None:
            args += ["--root", os.fspath(self.root)]
        if log is not None:
            args += ["--log", log]
        return [*args, "--log-format", "json"]

    def _run(
        self,
        args: Sequence[str],
        action: str,
        timeout: float | None = 60,
        input: bytes | None = None,
    ) -> bytes:
        out = self.runner.run([*self.base_args(), *args], input=input, timeout=timeout)
        if out.returncode != 0:
            raise classify_error(runc_error_message(out.stderr), action)
        return out.stdout

    # -- lifecycle ----------------------------------------------------------------------

    def create(
        self,
        id: str,
        bundle: Path,
        pid_file: Path,
        console_socket: str | None = None,
        stdin: Stdio = None,
        stdout: Stdio = None,
        stderr: Stdio = None,
        cwd: str | None = None,
        pass_fds: Sequence[int] = (),
    ) -> None:
        """``runc create``; the container's init inherits the given stdio (None: /dev/null).

        ``console_socket`` may be relative to ``cwd`` (or ``/proc/self/fd/N/…`` with N in
        ``pass_fds``): unix socket paths are limited to 108 bytes.
        """
        args = ["create", "--bundle", os.fspath(bundle), "--pid-file", os.fspath(pid_file)]
        if console_socket is not None:
            args += ["--console-socket", console_socket]
        self._spawn_logged([*args, id], "create", stdin, stdout, stderr, cwd=cwd, pass_fds=pass_fds)

    def start(self, id: str) -> None:
        self._run(["start", id], "start")

    def state(self, id: str) -> dict[str, Any] | None:
        """runc's view (``status``: created, running, paused, stopped); None if unknown."""
        import json

        try:
            out = self._run(["state", id], "state")
        except NotFound:
            return None
        value: dict[str, Any] = json.loads(out)
        return value

    def kill(self, id: str, signal: int | str, all: bool = False) -> None:
        args = ["kill", *(["--all"] if all else []), id, str(signal)]
        self._run(args, "kill")

    def delete(self, id: str, force: bool = False) -> None:
        """Idempotent: a container runc does not know is already deleted."""
        with contextlib.suppress(NotFound):
            self._run(["delete", *(["--force"] if force else []), id], "delete")

    def pause(self, id: str) -> None:
        self._run(["pause", id], "pause")

    def resume(self, id: str) -> None:
        self._run(["resume", id], "resume")

    def ps(self, id: str) -> list[int]:
        import json

        out = self._run(["ps", "--format", "json", id], "ps")
        return [int(p) for p in (json.loads(out) or [])]

    def list(self) -> list[dict[str, Any]]:
        import json

        out = self._run(["list", "--format", "json"], "list")
        value: list[dict[str, Any]] = json.loads(out) if out.strip() else []
        return value or []

    def stats(self, id: str) -> dict[str, Any]:
        """One ``runc events --stats`` sample: ``{"cpu": …, "memory": …, "pids": …, …}``."""
        import json

        out = self._run(["events", "--stats", id], "events", timeout=30)
        for line in out.splitlines():
            if line.strip():
                event: dict[str, Any] = json.loads(line)
                data: dict[str, Any] = event.get("data") or {}
                return data
        return {}

    def update(self, id: str, resources: Mapping[str, Any]) -> None:
        """``runc update --resources -``: ``resources`` is an OCI ``linux.resources`` object."""
        import json

        self._run(
            ["update", "--resources", "-", id], "update", input=json.dumps(resources).encode()
        )

    def exec(
        self,
        id: str,
        process: Mapping[str, Any],
        *,
        tty: bool,
        console_socket: str | None = None,
        detach: bool = False,
        pid_file: Path | None = None,
        stdin: Stdio = None,
        stdout: Stdio = None,
        stderr: Stdio = None,
        cwd: str | None = None,
        pass_fds: Sequence[int] = (),
    ) -> Any:
        """``runc exec --process``: the process JSON goes through an anonymous file.

        ``detach``: returns 0 once the process runs (or raises). Otherwise returns the
        running ``subprocess.Popen`` (runc stays its parent and exits with its status);
        call :func:`exec_error` on it after ``wait()`` to tell runc's own failure apart.
        """
        import json

        spec = dict(process)
        spec["terminal"] = tty
        pfd = _memfd("runc-process", json.dumps(spec).encode())
        args = ["exec", "--process", f"/proc/self/fd/{pfd}"]
        if detach:
            args.append("--detach")
        if console_socket is not None:
            args += ["--console-socket", console_socket]
        if pid_file is not None:
            args += ["--pid-file", os.fspath(pid_file)]
        try:
            if detach:
                self._spawn_logged(
                    [*args, id], "exec", stdin, stdout, stderr, cwd, (*pass_fds, pfd)
                )
                return 0
            log = _memfd("runc-log")
            try:
                proc = self.spawn.popen(
                    [*self.base_args(f"/proc/self/fd/{log}"), *args, id],
                    stdin=stdin,
                    stdout=stdout,
                    stderr=stderr,
                    cwd=cwd,
                    pass_fds=(*pass_fds, pfd, log),
                    new_session=not (tty and console_socket is None),
                )
            except BaseException:
                os.close(log)
                raise
            proc.runc_log_fd = log
            return proc
        finally:
            os.close(pfd)

    def _spawn_logged(
        self,
        args: Sequence[str],
        action: str,
        stdin: Stdio,
        stdout: Stdio,
        stderr: Stdio,
        cwd: str | None = None,
        pass_fds: Sequence[int] = (),
    ) -> None:
        log = _memfd("runc-log")
        try:
            rc = self.spawn(
                [*self.base_args(f"/proc/self/fd/{log}"), *args],
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                cwd=cwd,
                pass_fds=(*pass_fds, log),
                timeout=300,
            )
            if rc != 0:
                raise classify_error(runc_error_message(_read_fd(log)), action)
        finally:
            os.close(log)


def exec_error(proc: Any) -> PynerdError | None:
    """After a non-detached :meth:`Runc.exec` ended: runc's own failure, or None.

    Exit status 255 with an error in runc's log means runc could not start the process;
    any other status is the process's own. Closes the log.
    """
    log = getattr(proc, "runc_log_fd", None)
    if log is None:
        return None
    try:
        text = _read_fd(log)
    finally:
        os.close(log)
        proc.runc_log_fd = None
    message = runc_error_message(text)
    if proc.returncode not in (0, None) and message:
        return classify_error(message, "exec")
    return None


def _memfd(name: str, data: bytes = b"") -> int:
    """An anonymous file, inheritable by a child as ``/proc/self/fd/N``."""
    fd = os.memfd_create(name, 0)  # no MFD_CLOEXEC: runc must see it
    if data:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _read_fd(fd: int) -> bytes:
    chunks: list[bytes] = []
    offset = 0
    while True:
        chunk = os.pread(fd, 65536, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


# -- error text -------------------------------------------------------------------------


def runc_error_message(stderr: bytes | str) -> str:
    """runc's last error from its log: JSON lines (``--log-format json``), logfmt or plain.

    Prefers the last ``error``/``fatal`` entry; plain text lines are taken as they are.
    """
    import json

    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    best = ""
    plain = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                entry = json.loads(line)
            except ValueError:
                plain = line
                continue
            if isinstance(entry, dict) and entry.get("level") in ("error", "fatal", "panic"):
                msg = str(entry.get("msg", ""))
                if entry.get("level") == "error" or not best:
                    best = msg
            continue
        logfmt = _logfmt_msg(line)
        if logfmt is not None:
            level, msg = logfmt
            if level in ("error", "fatal", "panic"):
                best = msg
            continue
        plain = line
    return best or plain


def _logfmt_msg(line: str) -> tuple[str, str] | None:
    """``time="…" level=error msg="…"`` (runc's default text log) → (level, msg)."""
    if "level=" not in line or "msg=" not in line:
        return None
    level = line.split("level=", 1)[1].split(" ", 1)[0].strip('"')
    rest = line.split("msg=", 1)[1]
    if not rest.startswith('"'):
        return level, rest.split(" ", 1)[0]
    out = []
    i = 1
    while i < len(rest):
        ch = rest[i]
        if ch == "\\" and i + 1 < len(rest):
            out.append({"n": "\n", "t": "\t"}.get(rest[i + 1], rest[i + 1]))
            i += 2
            continue
        if ch == '"':
            break
        out.append(ch)
        i += 1
    return level, "".join(out)


_PREFIX = {
    "create": "failed to create task for container: failed to create shim task: "
    "OCI runtime create failed: ",
    "start": "failed to start task for container: OCI runtime start failed: ",
    "exec": "OCI runtime exec failed: ",
}
_NOT_FOUND_MARKERS = ("executable file not found", "no such file or directory")
_NOT_EXECUTABLE_MARKERS = ("permission denied", "exec format error", "is a directory")


def classify_error(message: str, action: str = "create") -> PynerdError:
    """runc's message → the typed error the CLI exits with (127, 126 or 125).

    Only a failure to exec the container's command (runc says ``exec: "cmd": …``) maps to
    126/127; a missing bind-mount source ("no such file or directory" elsewhere) stays 125.
    """
    message = message.strip() or f"runc {action} failed"
    lower = message.lower()
    if "does not exist" in lower and "container" in lower:
        return NotFound(message)
    if lower.startswith("container not running") or "cannot start a container that has" in lower:
        return Conflict(message)
    if action in _PREFIX:
        text = f"{_PREFIX[action]}{message}: unknown"
        exec_part = lower.rsplit("exec: ", 1)[-1] if "exec: " in lower else ""
        if exec_part:
            if any(m in exec_part for m in _NOT_FOUND_MARKERS):
                return CommandNotFound(text)
            if any(m in exec_part for m in _NOT_EXECUTABLE_MARKERS):
                return CommandNotExecutable(text)
        return RuncError(text, message)
    return RuncError(message, message)


def parse_version(text: str, path: str = "runc") -> RuncVersion:
    """Parse ``runc --version``: 'runc version 1.1.5', 'commit: …', 'spec: 1.0.2-dev'."""
    version = commit = spec = ""
    for line in text.splitlines():
        if line.startswith("runc version "):
            version = line.split(" ", 2)[2].strip()
        elif line.startswith("commit:"):
            commit = line.split(":", 1)[1].strip()
        elif line.startswith("spec:"):
            spec = line.split(":", 1)[1].strip()
    return RuncVersion(version or "unknown", commit, spec, path)
