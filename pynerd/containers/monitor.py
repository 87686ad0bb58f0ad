"""The per-container monitor: stdio, json-file log, exit code, restarts, health, attach.

There is no daemon, so something must own a detached container's stdio and wait for
its exit. That is this module, run as a small process of its own per container
(``python -S -E -c … pynerd.containers.monitor``), started by the CLI and outliving it.

**Process model.** ``start_detached`` writes ``<run_dir>/monitor.json`` and starts a
fresh interpreter (never a ``fork`` of the CLI: the CLI may hold threads and locks, and
a fresh ``-S -E`` interpreter is smaller). Its first stage imports ctypes only to set
``PR_SET_CHILD_SUBREAPER``, forks (so the monitor is nobody's child and the CLI need
not reap it) and ``execv``s the second stage: the subreaper flag survives ``execve``
while ctypes (~0.7 MB) does not. The monitor then runs ``runc run -d`` (``runc
create`` and, once the pty's size is set or the first attach client is there, ``runc
start`` with -t or ``attach_first``); runc exits and the container's init is reparented
to the monitor, which therefore gets its real exit status from ``waitpid``. It reports
``{"ok": true, "pid": …}`` (or runc's error) on a pipe, so ``run -d`` returns only
once the container runs, or fails with 125/126/127.

**Memory** (the target: ≤ 5 MB PSS per detached container; containerd's shim 12.2 MB,
conmon 1.1 MB). The monitor imports only builtin or tiny C modules: ``os``, ``time``,
``select``, ``fcntl``, ``_signal``, ``_socket``, ``_json`` (+ ``termios`` with -t).
Measured in a ``-S -E`` interpreter with /proc/PID/smaps_rollup (private dirty):
``json`` +1.1 MB (it pulls in ``re``), ``socket`` +1.2 MB and ``signal`` +0.9 MB
(``enum``), ``subprocess`` +2.2 MB, ``ctypes`` +0.5 MB, ``array`` +0.5 MB
(``collections``), ``contextlib`` +0.8 MB – so none of them is imported: processes
start with ``os.posix_spawn``, JSON goes through :mod:`pynerd.containers.monitor_state`,
fds are received with ``recvmsg``. A running monitor (measured by the integration
test, 2 vCPU dev VM): private dirty 3.3 MB (a bare interpreter: 2.6 MB; after
logging 130 MB of output: 3.8 MB), PSS 4.4 MB while other processes of the same
Python share its ~4 MB of interpreter text (every further monitor does), 7.7 MB for
a lone one. Start-up: ``start_detached`` returns after ~66 ms, of which ~22 ms are
the two interpreter starts and ~36 ms runc create + start; a foreground ``true``
runs in ~35 ms.

**Event loop.** One thread, one ``poll``: the container's stdout/stderr pipes (or the
pty master for -t), the attach socket and its clients, a pidfd per tracked child, the
signal wakeup pipe, and timers (health probes, restart back-off). Output is written
live to attach clients (or the caller's fds in the foreground) and, split into lines,
to Docker's json-file log ``{"log": …, "stream": …, "time": …}`` with Docker's
escaping; a line longer than 16 KiB is cut into 16 KiB partial entries (no ``\\n``),
as Docker's copier does, and a trailing partial line is written when the stream ends.

**Files** in ``run_dir``: ``monitor.json`` (the config), ``monitor.log`` (the
monitor's stderr: tracebacks, the cleanup's output), ``monitor.pid`` (``"PID
STARTTIME"``, removed on a clean exit), ``init.pid`` (runc's), ``runc.log`` (runc's
JSON log: errors are read from it, so they never mix with the container's stderr),
``attach.sock``, ``console.sock`` (only during ``runc create -t``),
``health-process.json`` and ``health.pid`` (the probe's ``runc exec``).

**Records.** The monitor updates the container record itself (running → exited,
restarting, health) with the same locked read-modify-write as ``pynerd.state.kv``
(see :mod:`pynerd.containers.monitor_state`). A create/start failure leaves the
status "created" with ``ExitCode`` 125/126/127 and ``Error`` set, as Docker does.

**Restart policies** (no, always, unless-stopped, on-failure[:N]): Docker's back-off,
100 ms doubling to at most 1 min, reset once a run lasted ≥ 10 s. A manual stop is
never restarted: the CLI sets ``Pynerd.StopRequested`` in the record before it
signals the container (and the lead's ``start`` clears it); the monitor reads it
when the container exits and again when a back-off ends; SIGUSR1 makes the monitor
re-read it at once (``stop`` of a container waiting to restart). ``always`` and
``unless-stopped`` behave alike: without a daemon nothing restarts containers at boot.

**Auto-remove.** With ``auto_remove``, after the exit is recorded the monitor runs
the argv ``on_exit_remove`` (set by the lifecycle code: unmount, release the name,
delete the record) and waits for it, then tells attach clients the exit code, so
``run --rm -t`` returns once the container is gone.

**Health checks.** Docker's ``Healthcheck`` (Test ``["CMD", …]``/``["CMD-SHELL", s]``/
``["NONE"]``, Interval, Timeout, StartPeriod in ns, Retries; defaults 30 s/30 s/0/3):
``runc exec`` of the test every Interval after the previous probe ended; stdout and
stderr (first 4096 bytes) go into ``State.Health.Log`` (last 5). A probe beyond
Timeout is killed and logged with ExitCode -1. Failures inside StartPeriod do not
count while the status is "starting".

**Attach protocol** (``<run_dir>/attach.sock``, reached through a short
``/proc/self/fd/N/attach.sock`` path because unix socket paths are limited to 108
bytes). Every message, both ways, is a frame as in Docker's stdcopy: an 8-byte
header ``[kind, 0, 0, 0, size: u32 big-endian]`` and ``size`` bytes. Kinds: 0 stdin
data (client → monitor), 1 stdout, 2 stderr (monitor → client; with -t everything is
stdout), 3 exit (``{"ExitCode": n, "Error": "…"}``, the last frame), 4 hello (client →
monitor, optional first frame: ``{"stdin": bool, "size": [rows, cols]}``), 5 stdin
EOF (closes the container's stdin when it is a pipe and ``stdin_once``), 6 resize
(``[rows, cols]`` → ``TIOCSWINSZ`` on the pty), 7 signal (``[signum]`` → the init).
Clients receive live output only (no replay; that is ``logs``); detaching just closes
the client. A client that stops reading (> 4 MiB queued) is dropped, never the
container blocked.

**Foreground.** ``run_foreground`` runs the same :class:`Monitor` inside the CLI
process when the container has no tty and no restart policy: no extra interpreter,
stdout and stderr go live and separately to the caller's fds (and the log), stdin is
forwarded (EOF closes the container's stdin), signals are proxied to the init with
``kill(2)``. With -t (or a restart policy) it starts a detached monitor and attaches
to it instead, so detaching (``ctrl-p,ctrl-q``) only closes the client and the
container keeps its monitor; detach keys therefore work with -t only (as in Docker).

**When the monitor dies** (SIGKILL, OOM killer) the container keeps running: it is a
separate process tree. ``monitor_alive`` and ``container_truth`` tell the lead what is
real; ``reconcile`` records a container whose init is gone as exited with code 255
(exit status unknown: what Docker reports when it lost a container's exit while the
daemon was down; 137 would wrongly claim a SIGKILL).
"""

from __future__ import annotations

import os
import select
import sys
import time

from pynerd.containers import monitor_state as ms

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    import signal as _sig
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any, TypedDict

    class HealthcheckConfig(TypedDict, total=False):
        Test: list[str]
        Interval: int
        Timeout: int
        StartPeriod: int
        Retries: int

    class MonitorConfig(TypedDict, total=False):
        """What the lifecycle code passes to the monitor (all paths absolute)."""

        id: str  # the 64-hex container id (runc's id too)
        bundle: str  # the OCI bundle dir (config.json, rootfs)
        runc: str  # absolute path of the runc binary
        runc_root: str  # runc --root (<run_root>/runc/<ns>)
        run_dir: str  # <run_root>/<ns>/containers/<id>: pid files, sockets
        namespace_root: str  # for record updates; "" = no record
        log_path: str  # json-file log; "" = no log
        tty: bool
        stdin: bool  # -i
        stdin_once: bool  # close the container's stdin when the attached client ends it
        restart: str | dict[str, Any]  # "on-failure:3" or {"Name": …, "MaximumRetryCount": n}
        healthcheck: HealthcheckConfig | None
        auto_remove: bool
        on_exit_remove: list[str]  # argv run after the exit is recorded (auto_remove)
        attach_first: bool  # create, then start only once a client attached (≤ 30 s)
        console_size: list[int]  # [rows, cols] for -t
        network: dict[str, Any] | None  # release the sandbox after the last exit
        defer_delete: bool  # foreground: the caller's deferred teardown runs `runc delete`

else:
    import _signal as _sig
    import _socket

# Attach protocol frame kinds.
STDIN, STDOUT, STDERR, EXIT, HELLO, EOF, RESIZE, SIGNAL = range(8)
HEADER = 8
MAX_FRAME = 1 << 20
MAX_CLIENT_BACKLOG = 4 << 20

LOG_LINE_MAX = 16 * 1024  # Docker's copier buffer: longer lines become partial entries
HEALTH_OUTPUT_MAX = 4096
HEALTH_LOG_MAX = 5
DEFAULT_INTERVAL = 30_000_000_000
DEFAULT_TIMEOUT = 30_000_000_000
DEFAULT_RETRIES = 3

BACKOFF_START = 0.1
BACKOFF_MAX = 60.0
BACKOFF_RESET_AFTER = 10.0

UNKNOWN_EXIT_CODE = 255  # the init is gone and nobody saw its exit status
DETACHED = -1  # run_foreground/attach: the user detached, the container runs on
ATTACH_WAIT = 30.0  # attach_first: start anyway if no client came by then

_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37
_RESET_SIGNALS = (
    _sig.SIGPIPE,
    _sig.SIGXFSZ,
    _sig.SIGHUP,
    _sig.SIGINT,
    _sig.SIGQUIT,
    _sig.SIGTERM,
    _sig.SIGUSR1,
    _sig.SIGUSR2,
    _sig.SIGCHLD,
    _sig.SIGTTIN,
    _sig.SIGTTOU,
    _sig.SIGTSTP,
    _sig.SIGWINCH,
)
PROXIED_SIGNALS = (
    _sig.SIGINT,
    _sig.SIGTERM,
    _sig.SIGHUP,
    _sig.SIGQUIT,
    _sig.SIGUSR1,
    _sig.SIGUSR2,
)
_POLLIN = select.POLLIN | select.POLLPRI
_POLLERR = select.POLLERR | select.POLLHUP | select.POLLNVAL


# -- pure helpers (unit-tested) -----------------------------------------------------------


def exit_code_from_status(status: int) -> int:
    """A ``waitpid`` status as Docker reports it: the exit code, or 128+N for signal N."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def parse_restart_policy(value: str | Mapping[str, Any] | None) -> tuple[str, int]:
    """``"on-failure:3"`` or Docker's ``{"Name", "MaximumRetryCount"}`` → (name, max)."""
    if not value:
        return "no", 0
    if not isinstance(value, str):
        name = str(value.get("Name") or "no")
        return name, int(value.get("MaximumRetryCount") or 0)
    name, _, count = value.partition(":")
    if name not in ("no", "always", "unless-stopped", "on-failure"):
        raise ValueError(f"invalid restart policy {value!r}")
    if count and name != "on-failure":
        raise ValueError(f"maximum retry count cannot be used with restart policy '{name}'")
    return name, int(count) if count else 0


def should_restart(
    policy: str, max_retries: int, restarts: int, exit_code: int, stopped: bool
) -> bool:
    """Docker's restart manager: a manual stop cancels every policy."""
    if stopped or policy in ("", "no"):
        return False
    if policy in ("always", "unless-stopped"):
        return True
    if policy == "on-failure":
        return exit_code != 0 and (max_retries == 0 or restarts < max_retries)
    return False


def next_backoff(previous: float, ran_for: float) -> float:
    """Delay before the next restart: 100 ms, doubling, ≤ 1 min; reset after a 10 s run."""
    if ran_for >= BACKOFF_RESET_AFTER:
        previous = 0.0
    delay = BACKOFF_START if previous <= 0 else previous * 2
    return min(delay, BACKOFF_MAX)


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String`` (``30s``, ``1m30s``, ``1.5s``, ``500ms``)."""
    if ns == 0:
        return "0s"
    sign, u = ("-", -ns) if ns < 0 else ("", ns)

    def frac(v: int, unit: int) -> str:
        whole, rest = divmod(v, unit)
        digits = f"{rest:0{len(str(unit)) - 1}d}".rstrip("0")
        return f"{whole}.{digits}" if digits else str(whole)

    if u < 1_000:
        text = f"{u}ns"
    elif u < 1_000_000:
        text = frac(u, 1_000) + "µs"
    elif u < 1_000_000_000:
        text = frac(u, 1_000_000) + "ms"
    else:
        h, rest = divmod(u, 3600 * 1_000_000_000)
        m, rest = divmod(rest, 60 * 1_000_000_000)
        text = f"{h}h{m}m" if h else (f"{m}m" if m else "")
        text += frac(rest, 1_000_000_000) + "s"
    return sign + text


def rfc3339nano(t_ns: int) -> str:
    """Go's RFC3339Nano in UTC: trailing zeros of the fraction trimmed (Docker's log times)."""
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t_ns // 1_000_000_000))
    frac = f"{t_ns % 1_000_000_000:09d}".rstrip("0")
    return f"{text}.{frac}Z" if frac else text + "Z"


def _escape_table() -> dict[int, str]:
    table = {c: f"\\u{c:04x}" for c in range(0x20)}
    table.update({0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x22: '\\"', 0x5C: "\\\\"})
    for c in "<>&\u2028\u2029":
        table[ord(c)] = f"\\u{ord(c):04x}"
    return table


_ESCAPES = _escape_table()


def encode_log_entry(data: bytes, stream: str, t_ns: int) -> bytes:
    """One json-file line exactly as Docker's jsonlog writes it (HTML-safe escaping)."""
    return _log_entry(data, f'","stream":"{stream}","time":"{rfc3339nano(t_ns)}"}}\n')


def _log_entry(data: bytes, tail: str) -> bytes:
    return ('{"log":"' + data.decode("utf-8", "replace").translate(_ESCAPES) + tail).encode()


def split_log_lines(pending: bytes, data: bytes) -> tuple[list[bytes], bytes]:
    """Cut ``pending + data`` into log messages; return them and the new partial tail.

    A message is a line with its ``\\n``; a line that does not fit Docker's 16 KiB buffer
    comes out as 16 KiB partial pieces first. The tail is kept until more data comes.
    """
    buf = pending + data if pending else data
    out: list[bytes] = []
    start = 0
    while True:
        nl = buf.find(b"\n", start)
        if nl < 0:
            break
        line = buf[start : nl + 1]
        while len(line) > LOG_LINE_MAX:
            out.append(line[:LOG_LINE_MAX])
            line = line[LOG_LINE_MAX:]
        out.append(line)
        start = nl + 1
    rest = buf[start:]
    while len(rest) >= LOG_LINE_MAX:
        out.append(rest[:LOG_LINE_MAX])
        rest = rest[LOG_LINE_MAX:]
    return out, rest


def frame(kind: int, payload: bytes = b"") -> bytes:
    return bytes((kind, 0, 0, 0)) + len(payload).to_bytes(4, "big") + payload


class FrameReader:
    """Incremental parser of attach frames."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buf += data
        out: list[tuple[int, bytes]] = []
        while len(self.buf) >= HEADER:
            size = int.from_bytes(self.buf[4:8], "big")
            if size > MAX_FRAME:
                raise ValueError(f"attach frame too large ({size} bytes)")
            if len(self.buf) < HEADER + size:
                break
            out.append((self.buf[0], bytes(self.buf[HEADER : HEADER + size])))
            del self.buf[: HEADER + size]
        return out


_CTRL_NAMES = "@abcdefghijklmnopqrstuvwxyz[\\]^_"


def parse_detach_keys(keys: str | None) -> bytes:
    """Docker's ``--detach-keys`` (``ctrl-p,ctrl-q``, ``ctrl-a,x``) → the byte sequence."""
    if not keys:
        keys = "ctrl-p,ctrl-q"
    out = bytearray()
    for key in keys.split(","):
        if len(key) == 1:
            out.append(ord(key))
            continue
        name = key.lower()
        if name.startswith("ctrl-") and len(name) == 6 and name[5] in _CTRL_NAMES:
            out.append(_CTRL_NAMES.index(name[5]))
            continue
        raise ValueError(f"Unknown character: '{key}'")
    return bytes(out)


class DetachMatcher:
    """Watches stdin for the detach sequence, holding back bytes that may start it."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes to forward, detach?)."""
        if not self.keys:
            return data, False
        out = bytearray()
        for b in data:
            candidate = self.held + bytes((b,))
            if self.keys.startswith(candidate):
                if len(candidate) == len(self.keys):
                    self.held = b""
                    return bytes(out), True
                self.held = candidate
                continue
            out += self.held
            self.held = b""
            if self.keys[:1] == bytes((b,)):
                self.held = bytes((b,))
            else:
                out.append(b)
        return bytes(out), False


def health_settings(hc: Mapping[str, Any] | None) -> tuple[list[str], int, int, int, int] | None:
    """(argv, interval, timeout, start_period, retries) or None when there is no check."""
    if not hc:
        return None
    test = list(hc.get("Test") or [])
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD-SHELL":
        argv = ["/bin/sh", "-c", " ".join(test[1:])]
    elif test[0] == "CMD":
        argv = test[1:]
    else:
        argv = test
    if not argv:
        return None
    return (
        argv,
        int(hc.get("Interval") or 0) or DEFAULT_INTERVAL,
        int(hc.get("Timeout") or 0) or DEFAULT_TIMEOUT,
        int(hc.get("StartPeriod") or 0),
        int(hc.get("Retries") or 0) or DEFAULT_RETRIES,
    )


def health_apply(
    health: dict[str, Any], result: dict[str, Any], retries: int, in_start_period: bool
) -> dict[str, Any]:
    """Docker's ``handleProbeResult``: fold one probe result into ``State.Health``."""
    log = [*list(health.get("Log") or []), result][-HEALTH_LOG_MAX:]
    status = health.get("Status") or "starting"
    streak = int(health.get("FailingStreak") or 0)
    if result["ExitCode"] == 0:
        status, streak = "healthy", 0
    elif not (status == "starting" and in_start_period):
        streak += 1
        if streak >= retries:
            status = "unhealthy"
    return {"Status": status, "FailingStreak": streak, "Log": log}


_NOT_FOUND = ("executable file not found", "no such file or directory")
_NOT_EXECUTABLE = ("permission denied", "exec format error", "is a directory")
_PREFIX = {
    "create": "failed to create task for container: failed to create shim task: "
    "OCI runtime create failed: ",
    "start": "failed to start task for container: OCI runtime start failed: ",
    "exec": "OCI runtime exec failed: ",
}


def failure(message: str, action: str) -> tuple[int, str]:
    """(exit code, Docker's text) for a runc failure; agrees with runc.classify_error."""
    lower = message.lower()
    code = 125
    if "exec: " in lower:
        part = lower.rsplit("exec: ", 1)[1]
        if any(m in part for m in _NOT_FOUND):
            code = 127
        elif any(m in part for m in _NOT_EXECUTABLE):
            code = 126
    return code, f"{_PREFIX.get(action, '')}{message}: unknown"


def runc_log_error(text: str) -> str:
    """The last error of a ``--log-format json`` runc log (lean: no ``json`` import)."""
    best = ""
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            entry = ms.loads(line)
        except ValueError:
            continue
        level = entry.get("level") if isinstance(entry, dict) else None
        if level in ("error", "fatal", "panic") and (level == "error" or not best):
            best = str(entry.get("msg", ""))
    return best


def oom_kills(cgroup_files: Iterable[str]) -> int:
    """``oom_kill N`` from memory.oom_control (v1) or memory.events (v2); 0 if unknown."""
    for path in cgroup_files:
        try:
            with open(path) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return 0


def memory_cgroup_files(pid: int) -> list[str]:
    """The memory accounting files of ``pid``'s cgroup (v1 and v2 layouts)."""
    out: list[str] = []
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            out.append(f"/sys/fs/cgroup/{controllers}{path}/memory.oom_control")
        elif controllers == "":
            out.append(f"/sys/fs/cgroup{path}/memory.events")
    return out


def proc_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (guards pid files against pid reuse); None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()
    if fields[0] == b"Z":
        return None
    return int(fields[19])


# -- process plumbing -------------------------------------------------------------------------


def _spawn(
    argv: list[str],
    stdin: int,
    stdout: int,
    stderr: int,
    *,
    setsid: bool = False,
    keep: tuple[int, ...] = (),
) -> int:
    """posix_spawn with the given stdio (``keep``: fds inherited at their numbers)."""
    for fd in keep:
        os.set_inheritable(fd, True)
    try:
        return os.posix_spawn(
            argv[0],
            argv,
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, stdin, 0),
                (os.POSIX_SPAWN_DUP2, stdout, 1),
                (os.POSIX_SPAWN_DUP2, stderr, 2),
            ],
            setsid=setsid,
            setsigmask=(),
            setsigdef=_RESET_SIGNALS,
        )
    finally:
        for fd in keep:
            os.set_inheritable(fd, False)


def _wait(pid: int) -> int:
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except InterruptedError:  # pragma: no cover (PEP 475 retries)
            continue


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            select.select([], [fd], [], 1.0)


def _read_file(path: str, offset: int = 0) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _set_winsize(fd: int, rows: int, cols: int) -> None:
    import fcntl
    import termios

    packed = b"".join(v.to_bytes(2, sys.byteorder) for v in (rows, cols, 0, 0))
    with ms.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, packed)


def _get_winsize(fd: int) -> list[int] | None:
    import fcntl
    import termios

    try:
        raw = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None
    rows = int.from_bytes(raw[0:2], sys.byteorder)
    cols = int.from_bytes(raw[2:4], sys.byteorder)
    return [rows, cols] if rows and cols else None


def _unlink(path: str) -> None:
    with ms.suppress(OSError):
        os.unlink(path)


def _close(fd: int) -> None:
    if fd >= 0:
        with ms.suppress(OSError):
            os.close(fd)


class StartFailure(Exception):
    def __init__(self, code: int, message: str, action: str, runc_message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.action = action
        self.runc_message = runc_message


class JsonLog:
    """Docker's json-file log of one container (appends; partial lines kept per stream)."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.pending = {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes) -> None:
        lines, self.pending[stream] = split_log_lines(self.pending[stream], data)
        if lines:  # one read, one time stamp (Docker stamps each read too)
            tail = f'","stream":"{stream}","time":"{rfc3339nano(time.time_ns())}"}}\n'
            _write_all(self.fd, b"".join([_log_entry(x, tail) for x in lines]))

    def flush(self) -> None:
        """The stream ended: write what is left of a partial line."""
        now = time.time_ns()
        for stream, rest in self.pending.items():
            if rest:
                _write_all(self.fd, encode_log_entry(rest, stream, now))
                self.pending[stream] = b""

    def close(self) -> None:
        self.flush()
        _close(self.fd)
        self.fd = -1


class Client:
    """One attach connection."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.reader = FrameReader()
        self.out = bytearray()
        self.wants_stdin = True


# -- the monitor -------------------------------------------------------------------------------


class Monitor:
    """Runs one container and keeps it company until it is gone (see the module docstring).

    ``foreground``: inside the CLI (no attach socket, no restarts, output to the given
    fds, pidfds instead of SIGCHLD so the CLI's other children are left alone).
    """

    def __init__(
        self,
        cfg: MonitorConfig,
        *,
        foreground: bool = False,
        out_fd: int = -1,
        err_fd: int = -1,
        in_fd: int = -1,
        report_fd: int = -1,
    ) -> None:
        self.cfg = cfg
        self.id = cfg["id"]
        self.run_dir = cfg["run_dir"]
        self.ns_root = cfg.get("namespace_root") or ""
        self.tty = bool(cfg.get("tty"))
        self.interactive = bool(cfg.get("stdin"))
        self.foreground = foreground
        self.out_fd, self.err_fd, self.in_fd = out_fd, err_fd, in_fd
        self.report_fd = report_fd
        self.policy, self.max_retries = parse_restart_policy(cfg.get("restart"))
        self.health = health_settings(cfg.get("healthcheck"))
        self.log = JsonLog(cfg["log_path"]) if cfg.get("log_path") else None
        self.runc_log = os.path.join(self.run_dir, "runc.log")
        self.pid_file = os.path.join(self.run_dir, "init.pid")
        self.dirfd = os.open(self.run_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

        self.poller = select.poll()
        self.handlers: dict[int, Callable[[int, int], None]] = {}
        self.masks: dict[int, int] = {}
        self.timers: dict[str, tuple[float, Callable[[], None]]] = {}
        self.children: dict[int, tuple[int, Callable[[int], None]]] = {}  # pid → (pidfd, cb)
        self.clients: list[Client] = []
        self.listener: _socket.socket | None = None
        self.wake_r = self.wake_w = -1

        # Per run of the container.
        self.init_pid = 0
        self.started = 0.0
        self.outputs: dict[int, str] = {}  # fd → "stdout"/"stderr"
        self.stdin_w = -1  # container stdin: pipe write end, or the pty master
        self.master = -1
        self.stdin_pending = bytearray()
        self.stdin_eof = False
        self.cgroup_files: list[str] = []
        self.exit_status: int | None = None

        self.restarts = 0
        self.backoff = 0.0
        self.last = (0, False)  # (exit code, OOM) of the run before a restart
        self.stdin_paused = False
        self.waiting_attach = False
        self.health_state: dict[str, Any] = {}
        self.probe: dict[str, Any] | None = None
        self.result: int | None = None
        self.result_error = ""
        self.done = False
        self.winsize = list(cfg.get("console_size") or []) or None

    # -- fds and timers --------------------------------------------------------------

    def watch(self, fd: int, mask: int, handler: Callable[[int, int], None]) -> None:
        self.handlers[fd] = handler
        self.masks[fd] = mask
        self.poller.register(fd, mask)

    def modify(self, fd: int, mask: int) -> None:
        if fd in self.handlers and self.masks.get(fd) != mask:
            self.masks[fd] = mask
            self.poller.modify(fd, mask)

    def unwatch(self, fd: int) -> None:
        if self.handlers.pop(fd, None) is not None:
            self.masks.pop(fd, None)
            with ms.suppress(KeyError, ValueError):
                self.poller.unregister(fd)

    def at(self, name: str, delay: float, fn: Callable[[], None]) -> None:
        self.timers[name] = (time.monotonic() + delay, fn)

    def cancel(self, name: str) -> None:
        self.timers.pop(name, None)

    def track(self, pid: int, callback: Callable[[int], None]) -> None:
        """Call ``callback(status)`` when child ``pid`` exits (pidfd readable or SIGCHLD)."""
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            pidfd = -1
        self.children[pid] = (pidfd, callback)
        if pidfd >= 0:
            self.watch(pidfd, select.POLLIN, lambda fd, ev: self.reap(pid))
        elif self.foreground:  # no pidfds (kernel < 5.3) and no SIGCHLD here: poll
            self.poll_child(pid)

    def poll_child(self, pid: int) -> None:
        if pid in self.children:
            self.reap(pid)
            self.at(f"reap-{pid}", 0.05, lambda: self.poll_child(pid))

    def reap(self, pid: int) -> None:
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            # Not our child (no subreaper): it is gone, its status unknowable.
            got, status = pid, UNKNOWN_EXIT_CODE << 8
        if got == pid:
            self.child_exited(pid, status)

    def reap_all(self) -> None:
        """SIGCHLD (detached monitor only): reap every child, strays included."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.child_exited(pid, status)

    def child_exited(self, pid: int, status: int) -> None:
        entry = self.children.pop(pid, None)
        if entry is None:
            return
        pidfd, callback = entry
        if pidfd >= 0:
            self.unwatch(pidfd)
            _close(pidfd)
        callback(status)

    # -- entry points ------------------------------------------------------------------

    def serve(self) -> int:
        """Detached: start the container, report to the CLI, then run until it is gone."""
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)
        _sig.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        for signum in (_sig.SIGCHLD, _sig.SIGUSR1):
            _sig.signal(signum, _noop)
        self.watch(self.wake_r, select.POLLIN, self.on_wakeup)
        self.write_pid()
        self.listen()
        try:
            self.start_container(first=True)
        except StartFailure as e:
            self.record(ms.failed_fn(e.code, e.message))
            self.report({"ok": False, "error": e.runc_message, "action": e.action})
            self.shutdown()
            return 1
        self.loop()
        self.shutdown()
        return 0

    def run(self) -> int:
        """Foreground (in the CLI): returns the exit code; StartFailure if it never ran."""
        try:
            self.start_container(first=True)
        except StartFailure as e:
            self.record(ms.failed_fn(e.code, e.message))
            self.shutdown()
            raise
        if self.in_fd >= 0:
            self.watch(self.in_fd, _POLLIN, self.on_caller_stdin)
        try:
            self.loop()
        finally:
            self.shutdown()
        return UNKNOWN_EXIT_CODE if self.result is None else self.result

    def loop(self) -> None:
        while not self.done:
            timeout = -1
            if self.timers:
                first = min(t for t, _ in self.timers.values())
                timeout = max(0, int((first - time.monotonic()) * 1000) + 1)
            for fd, events in self.poller.poll(timeout):
                handler = self.handlers.get(fd)
                if handler is not None:
                    self.guard(handler, fd, events)
            now = time.monotonic()
            for name, (when, fn) in list(self.timers.items()):
                if when <= now and self.timers.get(name) == (when, fn):
                    del self.timers[name]
                    self.guard(fn)

    def guard(self, fn: Callable[..., None], *args: Any) -> None:
        """A bug in one handler must not take the container's monitor down."""
        try:
            fn(*args)
        except StartFailure:
            raise
        except Exception:
            if self.foreground:
                raise
            sys.excepthook(*sys.exc_info())

    # -- starting ----------------------------------------------------------------------

    def runc(self, *args: str) -> list[str]:
        base = [self.cfg["runc"]]
        if self.cfg.get("runc_root"):
            base += ["--root", self.cfg["runc_root"]]
        return [*base, "--log", self.runc_log, "--log-format", "json", *args]

    def runc_quiet(self, *args: str) -> int:
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            return os.waitstatus_to_exitcode(_wait(_spawn(self.runc(*args), null, null, null)))
        finally:
            os.close(null)

    def start_container(self, first: bool = False) -> None:
        """Start the container: ``runc run -d``, one runc process; with a tty, or when
        the first attach client must be waited for, ``runc create`` now and ``runc start``
        later (a tty's size is set between the two, before the command starts)."""
        wait_attach = first and self.cfg.get("attach_first") and not self.foreground
        at_once = not self.tty and not wait_attach
        if os.path.exists(os.path.join(self.cfg.get("runc_root") or "/run/runc", self.id)):
            self.runc_quiet("delete", self.id)  # a stopped leftover (e.g. a killed monitor)
        _unlink(self.pid_file)
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        child_fds: list[int] = []
        console = None
        try:
            if self.tty:
                console = self.console_listener()
                stdio = (null, null, null)
            else:
                if self.interactive:
                    r, w = os.pipe()
                    child_fds.append(r)
                    self.stdin_w = w
                    stdin = r
                else:
                    stdin = null
                out_r, out_w = os.pipe()
                err_r, err_w = os.pipe()
                child_fds += [out_w, err_w]
                self.outputs = {out_r: "stdout", err_r: "stderr"}
                stdio = (stdin, out_w, err_w)
            verb = ["run", "--detach"] if at_once else ["create"]
            args = [*verb, "--bundle", self.cfg["bundle"], "--pid-file", self.pid_file]
            if console is not None:
                args += ["--console-socket", f"/proc/self/fd/{self.dirfd}/console.sock"]
            offset = _file_size(self.runc_log)
            keep = (self.dirfd,) if console is not None else ()
            status = _wait(_spawn(self.runc(*args, self.id), *stdio, setsid=True, keep=keep))
            for fd in child_fds:
                os.close(fd)
            child_fds = []
            if os.waitstatus_to_exitcode(status) != 0:
                self.discard_outputs()
                self.fail("create", _read_file(self.runc_log, offset))
            if console is not None:
                try:
                    self.master = self.receive_master(console)
                except OSError as e:
                    self.kill_created()
                    self.fail("create", ms.dumps({"level": "error", "msg": f"console: {e}"}))
                os.set_blocking(self.master, False)
                self.stdin_w = self.master if self.interactive else -1
                self.outputs = {self.master: "stdout"}
                if self.winsize:
                    _set_winsize(self.master, self.winsize[0], self.winsize[1])
            with open(self.pid_file) as f:
                self.init_pid = int(f.read().strip())
        finally:
            os.close(null)
            for fd in child_fds:
                os.close(fd)
            if console is not None:
                console.close()
                _unlink(os.path.join(self.run_dir, "console.sock"))
        self.cgroup_files = memory_cgroup_files(self.init_pid)
        self.track(self.init_pid, self.on_init_exit)
        if self.stdin_w >= 0 and self.stdin_w != self.master:
            os.set_blocking(self.stdin_w, False)
        for fd in self.outputs:
            if fd != self.master:
                os.set_blocking(fd, False)
            self.watch(fd, _POLLIN, self.on_output)
        if at_once:
            self.process_started()
        elif wait_attach:
            self.waiting_attach = True
            self.report({"ok": True, "created": True, "pid": self.init_pid})
            self.at("attach-wait", ATTACH_WAIT, self.start_process)
        else:
            self.start_process()

    def start_process(self) -> None:
        """``runc start`` of a created container: its command begins."""
        self.waiting_attach = False
        self.cancel("attach-wait")
        offset = _file_size(self.runc_log)
        if self.runc_quiet("start", self.id) != 0:
            message = _read_file(self.runc_log, offset)
            if self.foreground or self.report_fd >= 0:
                self.kill_created()
                self.fail("start", message)
            # attach_first (the CLI is attached by now: the exit frame tells it) or a
            # restart (the container ran before: it ends exited).
            code, text = failure(runc_log_error(message) or "runc start failed", "start")
            self.kill_created()
            self.finish(
                code, error=text, record=None if self.restarts else ms.failed_fn(code, text)
            )
            return
        self.process_started()

    def process_started(self) -> None:
        """The container's command runs: record and report it, schedule health probes."""
        self.started = time.monotonic()
        self.exit_status = None
        # Not fsync'ed: after a power loss the container does not run whatever the record
        # says (the next look reconciles it); its exit is recorded durably.
        self.record(ms.running_fn(self.init_pid, health=self.health is not None), durable=False)
        self.report({"ok": True, "pid": self.init_pid})
        if self.health is not None:
            self.health_state = {"Status": "starting", "FailingStreak": 0, "Log": []}
            self.at("health", self.health[1] / 1e9, self.health_probe)

    def fail(self, action: str, log_text: str) -> None:
        message = runc_log_error(log_text) or f"runc {action} failed"
        # `runc run -d` fails where `runc create` would, with the same text but this
        # prefix; Docker's message (containerd creates, then starts) names create.
        if message.startswith("runc run failed: "):
            message = "runc create failed: " + message[len("runc run failed: ") :]
        code, text = failure(message, action)
        self.close_run()
        raise StartFailure(code, text, action, message)

    def kill_created(self) -> None:
        self.runc_quiet("delete", "--force", self.id)

    def console_listener(self) -> _socket.socket:
        _unlink(os.path.join(self.run_dir, "console.sock"))
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        sock.bind(f"/proc/self/fd/{self.dirfd}/console.sock")
        sock.listen(1)
        return sock

    def receive_master(self, listener: _socket.socket) -> int:
        """runc connected and sent the pty master with SCM_RIGHTS before it exited."""
        listener.settimeout(10)
        fd, _ = listener._accept()  # type: ignore[attr-defined]
        conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, fd)
        try:
            conn.settimeout(10)
            _, ancdata, _, _ = conn.recvmsg(
                4096, _socket.CMSG_SPACE(4 * 4), _socket.MSG_CMSG_CLOEXEC
            )
        finally:
            conn.close()
        fds: list[int] = []
        for level, kind, data in ancdata:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                fds += [
                    int.from_bytes(data[i : i + 4], sys.byteorder)
                    for i in range(0, len(data) - 3, 4)
                ]
        if not fds:
            raise OSError("runc sent no console file descriptor")
        for extra in fds[1:]:
            os.close(extra)
        return fds[0]

    # -- output ------------------------------------------------------------------------

    def on_output(self, fd: int, events: int) -> None:
        if events & select.POLLOUT:
            self.flush_stdin()
        stream = self.outputs.get(fd)
        if stream is None or not events & (_POLLIN | _POLLERR):
            return
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: the pty's last slave fd closed
            data = b""
        if not data:
            self.close_output(fd)
            return
        self.deliver(stream, data)

    def deliver(self, stream: str, data: bytes) -> None:
        if self.log is not None:
            self.log.write(stream, data)
        if self.foreground:
            fd = self.out_fd if stream == "stdout" else self.err_fd
            if fd >= 0:
                try:
                    _write_all(fd, data)
                except BrokenPipeError:  # `run … | head`: the log still gets everything
                    if stream == "stdout":
                        self.out_fd = -1
                    else:
                        self.err_fd = -1
        elif self.clients:
            self.broadcast(frame(STDOUT if stream == "stdout" else STDERR, data))

    def close_output(self, fd: int) -> None:
        self.unwatch(fd)
        self.outputs.pop(fd, None)
        if fd == self.master:
            return  # closed with the run (it is the stdin too)
        _close(fd)
        if not self.outputs and self.exit_status is not None:
            self.exit_done()

    def drain_outputs(self) -> None:
        for fd in list(self.outputs):
            while fd in self.outputs:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    data = b""
                if not data:
                    self.close_output(fd)
                    break
                self.deliver(self.outputs[fd], data)

    def discard_outputs(self) -> None:
        """After a failed create: runc's own error text is in the pipes, not container output."""
        for fd in list(self.outputs):
            self.unwatch(fd)
            _close(fd)
        self.outputs = {}

    # -- stdin -------------------------------------------------------------------------

    def on_caller_stdin(self, fd: int, events: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.unwatch(fd)
            self.close_stdin()
            return
        self.to_stdin(data)
        if len(self.stdin_pending) > (1 << 20):  # the container is not reading: wait
            self.unwatch(fd)
            self.stdin_paused = True

    def to_stdin(self, data: bytes) -> None:
        if self.stdin_w < 0 or self.stdin_eof:
            return
        self.stdin_pending += data
        self.flush_stdin()

    def flush_stdin(self, fd: int = -1, events: int = 0) -> None:
        w = self.stdin_w
        if w < 0:
            return
        while self.stdin_pending:
            try:
                n = os.write(w, self.stdin_pending)
            except BlockingIOError:
                break
            except OSError:  # the container closed its stdin: stop feeding it
                self.stdin_pending.clear()
                if w != self.master:
                    self.stdin_eof = True
                    if self.in_fd >= 0:
                        self.unwatch(self.in_fd)
                break
            del self.stdin_pending[:n]
        want_out = bool(self.stdin_pending)
        if w == self.master:
            self.modify(w, _POLLIN | (select.POLLOUT if want_out else 0))
            return
        if want_out:
            if w not in self.handlers:
                self.watch(w, select.POLLOUT, self.flush_stdin)
            return
        self.unwatch(w)
        if self.stdin_eof:
            self.close_stdin()
        elif self.stdin_paused and self.in_fd >= 0:
            self.stdin_paused = False
            self.watch(self.in_fd, _POLLIN, self.on_caller_stdin)

    def close_stdin(self) -> None:
        """EOF from the caller: the container's stdin pipe closes once everything is written."""
        self.stdin_eof = True
        w = self.stdin_w
        if w < 0 or w == self.master:
            return
        if self.stdin_pending:
            return  # flush_stdin closes it when done
        self.unwatch(w)
        _close(w)
        self.stdin_w = -1

    # -- exit --------------------------------------------------------------------------

    def on_init_exit(self, status: int) -> None:
        self.exit_status = status
        self.init_pid = 0
        self.drain_outputs()
        # The pid namespace is gone with its init, so its processes wrote their last
        # bytes already; give a straggler (e.g. --pid=host) a moment to close the pipes.
        if self.outputs and not (len(self.outputs) == 1 and self.master in self.outputs):
            self.at("exit-grace", 0.2, self.exit_done)
        else:
            self.exit_done()

    def exit_done(self) -> None:
        if self.exit_status is None:
            return
        status, self.exit_status = self.exit_status, None
        self.cancel("exit-grace")
        self.drain_outputs()
        code = exit_code_from_status(status)
        oom = oom_kills(self.cgroup_files) > 0
        self.close_run()
        self.stop_health()
        if not (self.foreground and self.cfg.get("defer_delete")):
            self.runc_quiet("delete", "--force", self.id)  # ~6 ms: a runc process
        ran = time.monotonic() - self.started
        if self.foreground:
            self.finish(code, oom=oom)
            return
        stopped = (
            ms.stop_requested(ms.read_record(self.ns_root, self.id)) if self.ns_root else False
        )
        if should_restart(self.policy, self.max_retries, self.restarts, code, stopped):
            self.restarts += 1
            self.backoff = next_backoff(self.backoff, ran)
            self.record(ms.restarting_fn(code, oom))
            self.notify_exit(code, "")
            self.last = (code, oom)
            self.at("restart", self.backoff, self.restart)
            return
        self.finish(code, oom=oom)

    def restart(self) -> None:
        code, oom = self.last
        if self.ns_root and ms.stop_requested(ms.read_record(self.ns_root, self.id)):
            self.finish(code, oom=oom)
            return
        try:
            self.start_container()
        except StartFailure as e:
            self.finish(e.code, error=e.message)

    def recheck(self) -> None:
        """SIGUSR1: a stop was requested while waiting to restart: give up now."""
        if "restart" in self.timers and ms.stop_requested(ms.read_record(self.ns_root, self.id)):
            self.cancel("restart")
            code, oom = self.last
            self.finish(code, oom=oom)

    def close_run(self) -> None:
        """Release the fds of one run of the container."""
        for fd in list(self.outputs):
            self.unwatch(fd)
            if fd != self.master:
                _close(fd)
        self.outputs = {}
        if self.stdin_w >= 0 and self.stdin_w != self.master:
            self.unwatch(self.stdin_w)
            _close(self.stdin_w)
        self.stdin_w = -1
        self.stdin_pending.clear()
        self.stdin_eof = False
        if self.master >= 0:
            self.unwatch(self.master)
            _close(self.master)
            self.master = -1
        if self.log is not None:
            self.log.flush()

    def finish(
        self,
        code: int,
        *,
        oom: bool = False,
        error: str = "",
        record: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.result, self.result_error = code, error
        self.record(record or ms.exited_fn(code, oom, error))
        if not self.foreground and self.cfg.get("auto_remove") and self.cfg.get("on_exit_remove"):
            null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            try:
                _wait(_spawn(list(self.cfg.get("on_exit_remove") or []), null, null, 2))
            finally:
                os.close(null)
        elif not self.foreground and (net := self.cfg.get("network")):
            release_network(self.id, net)
        self.notify_exit(code, error)
        self.done = True

    def record(self, fn: Callable[[dict[str, Any]], None], durable: bool = True) -> None:
        if self.ns_root:
            ms.update_record(self.ns_root, self.id, fn, durable)

    def report(self, message: dict[str, Any]) -> None:
        """Tell the CLI that started us (once): then stdout becomes /dev/null."""
        if self.report_fd < 0:
            return
        with ms.suppress(OSError):
            _write_all(self.report_fd, (ms.dumps(message) + "\n").encode())
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, self.report_fd)
        os.close(null)
        self.report_fd = -1

    def write_pid(self) -> None:
        path = os.path.join(self.run_dir, "monitor.pid")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{os.getpid()} {proc_start_time(os.getpid())}\n")
        os.replace(tmp, path)

    def shutdown(self) -> None:
        self.close_run()
        self.stop_health()
        for client in list(self.clients):
            self.drop(client)
        if self.listener is not None:
            self.listener.close()
            self.listener = None
            _unlink(os.path.join(self.run_dir, "attach.sock"))
        if not self.foreground:
            _unlink(os.path.join(self.run_dir, "monitor.pid"))
            _sig.set_wakeup_fd(-1)
        for pid, (pidfd, _) in list(self.children.items()):
            _close(pidfd)
            del self.children[pid]
        for fd in (self.wake_r, self.wake_w):
            _close(fd)
        if self.log is not None:
            self.log.close()
            self.log = None
        _close(self.dirfd)
        self.dirfd = -1

    def on_wakeup(self, fd: int, events: int) -> None:
        try:
            signals = os.read(fd, 256)
        except BlockingIOError:
            return
        if _sig.SIGUSR1 in signals:
            self.recheck()
        self.reap_all()

    # -- attach server -----------------------------------------------------------------

    def listen(self) -> None:
        _unlink(os.path.join(self.run_dir, "attach.sock"))
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        sock.bind(f"/proc/self/fd/{self.dirfd}/attach.sock")
        sock.listen(16)
        sock.setblocking(False)
        self.listener = sock
        self.watch(sock.fileno(), select.POLLIN, self.on_accept)

    def on_accept(self, fd: int, events: int) -> None:
        assert self.listener is not None
        try:
            cfd, _ = self.listener._accept()  # type: ignore[attr-defined]
        except (BlockingIOError, InterruptedError):
            return
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, cfd)
        sock.setblocking(False)
        client = Client(sock)
        self.clients.append(client)
        self.watch(client.fd, select.POLLIN, lambda fd, ev: self.on_client(client, ev))
        if self.done:
            self.send(client, frame(EXIT, ms.dumps({"ExitCode": self.result}).encode()))

    def on_client(self, client: Client, events: int) -> None:
        if events & select.POLLOUT:
            self.send(client, b"")
        if not events & (select.POLLIN | _POLLERR):
            return
        try:
            data = client.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.drop(client)
            return
        try:
            frames = client.reader.feed(data)
        except ValueError:
            self.drop(client)
            return
        for kind, payload in frames:
            self.on_frame(client, kind, payload)

    def on_frame(self, client: Client, kind: int, payload: bytes) -> None:
        if kind == STDIN:
            if client.wants_stdin:
                self.to_stdin(payload)
        elif kind == HELLO:
            hello = ms.loads(payload.decode()) if payload else {}
            client.wants_stdin = bool(hello.get("stdin", True))
            size = hello.get("size")
            if size:
                self.resize(int(size[0]), int(size[1]))
            if self.waiting_attach:
                self.start_process()
        elif kind == EOF:
            if self.cfg.get("stdin_once") and not self.tty:
                self.close_stdin()
        elif kind == RESIZE:
            size = ms.loads(payload.decode())
            self.resize(int(size[0]), int(size[1]))
        elif kind == SIGNAL:
            signum = int(ms.loads(payload.decode())[0])
            if self.init_pid:
                with ms.suppress(ProcessLookupError):
                    os.kill(self.init_pid, signum)

    def resize(self, rows: int, cols: int) -> None:
        self.winsize = [rows, cols]
        if self.master >= 0:
            _set_winsize(self.master, rows, cols)

    def broadcast(self, data: bytes) -> None:
        for client in list(self.clients):
            self.send(client, data)

    def send(self, client: Client, data: bytes) -> None:
        client.out += data
        while client.out:
            try:
                n = client.sock.send(client.out, _socket.MSG_NOSIGNAL)
            except BlockingIOError:
                break
            except OSError:
                self.drop(client)
                return
            del client.out[:n]
        if len(client.out) > MAX_CLIENT_BACKLOG:
            self.drop(client)
            return
        self.modify(client.fd, select.POLLIN | (select.POLLOUT if client.out else 0))

    def notify_exit(self, code: int, error: str) -> None:
        """The exit frame ends every attached session (restarts too, as with docker run)."""
        payload = frame(EXIT, ms.dumps({"ExitCode": code, "Error": error}).encode())
        for client in list(self.clients):
            self.send(client, payload)
            if client in self.clients:
                client.sock.setblocking(True)
                client.sock.settimeout(2)
                with ms.suppress(OSError):
                    client.sock.sendall(bytes(client.out))
                client.out.clear()
                self.drop(client)

    def drop(self, client: Client) -> None:
        if client in self.clients:
            self.clients.remove(client)
        self.unwatch(client.fd)
        client.sock.close()
        if (
            self.cfg.get("stdin_once")
            and client.wants_stdin
            and not self.tty
            and not self.clients
            and self.init_pid
        ):
            self.close_stdin()

    # -- health checks -----------------------------------------------------------------

    def health_probe(self) -> None:
        if self.health is None or not self.init_pid:
            return
        argv, _, timeout, _, _ = self.health
        process_file = os.path.join(self.run_dir, "health-process.json")
        if not os.path.exists(process_file):
            with open(os.path.join(self.cfg["bundle"], "config.json"), encoding="utf-8") as f:
                spec = ms.loads(f.read())
            process = dict(spec.get("process") or {})
            process.update(args=argv, terminal=False)
            process.pop("consoleSize", None)
            with open(process_file, "w", encoding="utf-8") as f:
                f.write(ms.dumps(process))
        r, w = os.pipe()
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        pid_file = os.path.join(self.run_dir, "health.pid")
        _unlink(pid_file)
        offset = _file_size(self.runc_log)
        try:
            args = self.runc("exec", "--process", process_file, "--pid-file", pid_file, self.id)
            pid = _spawn(args, null, w, w)
        finally:
            os.close(w)
            os.close(null)
        os.set_blocking(r, False)
        self.probe = {
            "pid": pid,
            "fd": r,
            "out": bytearray(),
            "start": now_ns(),
            "mono": time.monotonic(),
            "offset": offset,
            "pid_file": pid_file,
        }
        self.watch(r, _POLLIN, self.on_probe_output)
        self.track(pid, self.on_probe_exit)
        self.at("health-timeout", timeout / 1e9, self.on_probe_timeout)

    def on_probe_output(self, fd: int, events: int) -> None:
        probe = self.probe
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if probe is None or probe["fd"] != fd or not data:
            self.unwatch(fd)
            _close(fd)
            if probe is not None and probe["fd"] == fd:
                probe["fd"] = -1
            return
        out = probe["out"]
        if len(out) < HEALTH_OUTPUT_MAX:
            out += data[: HEALTH_OUTPUT_MAX - len(out)]

    def on_probe_exit(self, status: int) -> None:
        probe = self.probe
        if probe is None:
            return
        fd = probe["fd"]
        if fd >= 0:  # collect what is still in the pipe
            while True:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    break
                if not data:
                    break
                probe["out"] += data[: max(0, HEALTH_OUTPUT_MAX - len(probe["out"]))]
        code = exit_code_from_status(status)
        output = bytes(probe["out"]).decode(errors="replace")
        if code == 255:  # runc's own failure (e.g. the test command is missing)?
            error = runc_log_error(_read_file(self.runc_log, probe["offset"]))
            if error:
                code, output = -1, failure(error, "exec")[1]
        self.probe_done(code, output)

    def on_probe_timeout(self) -> None:
        probe = self.probe
        if probe is None:
            return
        with ms.suppress(OSError, ValueError), open(probe["pid_file"]) as f:
            os.kill(int(f.read().strip()), _sig.SIGKILL)
        with ms.suppress(OSError):
            os.kill(probe["pid"], _sig.SIGKILL)
        assert self.health is not None
        self.probe_done(-1, f"Health check exceeded timeout ({go_duration(self.health[2])})")

    def probe_done(self, code: int, output: str) -> None:
        probe, self.probe = self.probe, None
        self.cancel("health-timeout")
        if probe is None or self.health is None:
            return
        if probe["fd"] >= 0:
            self.unwatch(probe["fd"])
            _close(probe["fd"])
        _unlink(probe["pid_file"])
        result = {
            "Start": ms_time(probe["start"]),
            "End": ms_time(now_ns()),
            "ExitCode": code,
            "Output": output,
        }
        _, interval, _, start_period, retries = self.health
        in_start = (probe["mono"] - self.started) * 1e9 < start_period
        self.health_state = health_apply(self.health_state, result, retries, in_start)
        self.record(ms.health_fn(self.health_state))
        if self.init_pid:
            self.at("health", interval / 1e9, self.health_probe)

    def stop_health(self) -> None:
        self.cancel("health")
        if self.probe is not None:
            probe, self.probe = self.probe, None
            self.cancel("health-timeout")
            with ms.suppress(OSError):
                os.kill(probe["pid"], _sig.SIGKILL)
            if probe["fd"] >= 0:
                self.unwatch(probe["fd"])
                _close(probe["fd"])


def now_ns() -> int:
    return time.time_ns()


def ms_time(t_ns: int) -> str:
    return rfc3339nano(t_ns)


def _noop(signum: int, frame: Any) -> None:
    pass


# -- monitor process entry --------------------------------------------------------------------

# Stage 1 (argv: root, stage-2 program, config): become a child subreaper in a forked
# child (the flag is not inherited by fork but survives execve), then exec stage 2.
_STAGE1 = (
    "import os, sys\n"
    "if os.fork():\n"
    "    os._exit(0)\n"
    "try:\n"
    "    import ctypes\n"
    f"    ctypes.CDLL(None, use_errno=True).prctl({_PR_SET_CHILD_SUBREAPER}, 1, 0, 0, 0)\n"
    "except Exception as e:\n"
    "    print('pynerd monitor: cannot become a subreaper:', e, file=sys.stderr)\n"
    "os.execv(sys.executable, [sys.executable, '-S', '-E', '-c', sys.argv[2], sys.argv[1],"
    " sys.argv[3]])\n"
)
_STAGE2 = (
    "import sys\n"
    "sys.path[:0] = [sys.argv[1]]\n"
    "from pynerd.containers.monitor import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def main(argv: list[str]) -> int:
    """The detached monitor: ``argv`` is [config path]; stdout is the report pipe."""
    with open(argv[0], encoding="utf-8") as f:
        cfg: MonitorConfig = ms.loads(f.read())
    os.chdir("/")
    for signum in (_sig.SIGINT, _sig.SIGHUP, _sig.SIGQUIT):  # not the caller's terminal's
        _sig.signal(signum, _sig.SIG_IGN)
    return Monitor(cfg, report_fd=1).serve()


# -- CLI side (these may import freely: they run in the CLI) ------------------------------------


def _import_root() -> str:
    import pynerd

    return os.path.dirname(os.path.dirname(os.path.abspath(pynerd.__file__)))


def start_detached(config: MonitorConfig, *, timeout: float = 120.0) -> dict[str, Any]:
    """Start the container's monitor; return once the container runs (``{"pid": …}``).

    With ``attach_first`` it returns once the container is created (``{"created":
    True}``) and the monitor waits for :func:`attach` to start it. Raises the typed
    error of a runc failure (CommandNotFound 127, CommandNotExecutable 126, else 125).
    """
    import subprocess
    from pathlib import Path

    from pynerd.errors import PynerdError
    from pynerd.state.atomic import atomic_write

    run_dir = config["run_dir"]
    os.makedirs(run_dir, exist_ok=True)
    cfg_path = os.path.join(run_dir, "monitor.json")
    atomic_write(Path(cfg_path), ms.dumps(dict(config)).encode(), durable=False)
    log_path = os.path.join(run_dir, "monitor.log")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-S", "-E", "-c", _STAGE1, _import_root(), _STAGE2, cfg_path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    assert proc.stdout is not None
    try:
        proc.wait(timeout=30)
        line = _read_line(proc.stdout.fileno(), timeout)
    finally:
        proc.stdout.close()
    if not line:
        tail = _read_file(log_path)[-2000:].strip()
        raise PynerdError(f"container monitor failed to start: {tail or 'no report'}")
    report: dict[str, Any] = ms.loads(line)
    if not report.get("ok"):
        from pynerd.runtime.runc import classify_error

        raise classify_error(str(report.get("error", "")), str(report.get("action", "create")))
    return report


def _read_line(fd: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buf += chunk
    return buf.split(b"\n", 1)[0].decode(errors="replace") if b"\n" in buf else ""


def _subreaper(on: bool) -> bool:
    """Set PR_SET_CHILD_SUBREAPER on this process; returns the previous value."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    value = ctypes.c_int(0)
    libc.prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(value), 0, 0, 0)
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0)
    return bool(value.value)


def release_network(container_id: str, net: dict[str, Any]) -> None:
    """Release the container's network sandbox after its last exit, in this process.

    The network code is imported only now, at the end of the monitor's life, so it never
    weighs on a running container's memory. Failures are left for the next command that
    notices (``rm``, ``start``, ``network rm``): the exit is already recorded.
    """
    try:
        from pathlib import Path

        from pynerd.config import Config
        from pynerd.containers.network import down

        cfg = Config(
            data_root=Path(net["data_root"]),
            run_root=Path(net["run_root"]),
            namespace=net["namespace"],
            cni_path=tuple(net["cni_path"]),
            cni_netconfpath=Path(net["cni_netconfpath"]),
        )
        down(cfg, container_id, net.get("generation"))
    except Exception as e:
        with ms.suppress(OSError):
            os.write(2, f"pynerd monitor: releasing the network failed: {e}\n".encode())


def run_foreground(
    config: MonitorConfig,
    stdin_fd: int | None,
    stdout_fd: int,
    stderr_fd: int,
    tty: bool,
    sig_proxy: bool = True,
    detach_keys: str | None = None,
    remove: Callable[[], None] | None = None,
) -> int:
    """``run`` without -d: the container's exit code (or :data:`DETACHED`).

    Without a tty and without a restart policy the monitor runs here, in the calling
    process (which is a child subreaper meanwhile), and ``remove`` is called after the
    exit when ``auto_remove`` is set. Otherwise a detached monitor is started and this
    process attaches to it (the monitor runs ``on_exit_remove``). ``stdin_fd`` None
    means no -i. Raises the typed error of a create/start failure.
    """
    cfg = config.copy()
    cfg["tty"] = tty
    cfg["stdin"] = stdin_fd is not None
    policy, _ = parse_restart_policy(cfg.get("restart"))
    if tty or policy != "no":
        cfg["attach_first"] = True
        cfg["stdin_once"] = stdin_fd is not None
        if tty and stdin_fd is not None and not cfg.get("console_size"):
            size = _get_winsize(stdout_fd) or _get_winsize(stdin_fd)
            if size:
                cfg["console_size"] = size
        start_detached(cfg)
        return attach(
            cfg["run_dir"],
            stdin_fd,
            stdout_fd,
            stderr_fd,
            tty=tty,
            detach_keys=detach_keys,
            sig_proxy=sig_proxy and not tty,
        )
    os.makedirs(cfg["run_dir"], exist_ok=True)
    monitor = Monitor(
        cfg,
        foreground=True,
        out_fd=stdout_fd,
        err_fd=stderr_fd,
        in_fd=-1 if stdin_fd is None else stdin_fd,
    )
    was_subreaper = _subreaper(True)
    previous: dict[int, Any] = {}
    try:
        if sig_proxy:
            with ms.suppress(ValueError):  # not the main thread: no proxy
                for signum in PROXIED_SIGNALS:
                    previous[signum] = _sig.signal(signum, _proxy(monitor))
        try:
            code = monitor.run()
        except StartFailure as e:
            from pynerd.runtime.runc import classify_error

            raise classify_error(e.runc_message, e.action) from None
    finally:
        for sig, handler in previous.items():
            _sig.signal(sig, handler)
        if not was_subreaper:
            _subreaper(False)
    if cfg.get("auto_remove") and remove is not None:
        remove()
    return code


def _proxy(monitor: Monitor) -> Callable[[int, Any], None]:
    def handler(signum: int, frame: Any) -> None:
        if monitor.init_pid:
            with ms.suppress(ProcessLookupError):
                os.kill(monitor.init_pid, signum)

    return handler


def connect_attach(run_dir: str) -> _socket.socket:
    """A connection to the monitor's attach socket (short path through a directory fd)."""
    dirfd = os.open(run_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        try:
            sock.connect(f"/proc/self/fd/{dirfd}/attach.sock")
        except OSError:
            sock.close()
            raise
        return sock
    finally:
        os.close(dirfd)


def attach(
    run_dir: str,
    stdin_fd: int | None,
    stdout_fd: int,
    stderr_fd: int,
    *,
    tty: bool,
    detach_keys: str | None = None,
    sig_proxy: bool = False,
) -> int:
    """Attach to a container's monitor until the container exits (its code) or we detach.

    With a tty, the caller's terminal (``stdin_fd``) is put in raw mode (restored on
    any exit) and window size changes are forwarded; the detach keys (default
    ``ctrl-p,ctrl-q``) return :data:`DETACHED`. ``sig_proxy`` forwards the usual signals
    to the container's init. Raises Unavailable if the monitor is not reachable or goes
    away without reporting an exit.
    """
    from pynerd.errors import Unavailable

    try:
        sock = connect_attach(run_dir)
    except OSError as e:
        raise Unavailable(f"cannot attach to the container's monitor: {e}") from None
    matcher = DetachMatcher(parse_detach_keys(detach_keys) if tty and stdin_fd is not None else b"")
    reader = FrameReader()
    pending = bytearray()  # frames queued by signal handlers
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    restore: list[tuple[int, Any]] = []
    handlers: dict[int, Any] = {}

    def winsize() -> list[int] | None:
        size = _get_winsize(stdout_fd)
        if size is None and stdin_fd is not None:
            size = _get_winsize(stdin_fd)
        return size

    def queue(data: bytes) -> None:
        pending.extend(data)
        with ms.suppress(OSError):
            os.write(wake_w, b"\0")

    def on_winch(signum: int, frm: Any) -> None:
        size = winsize()
        if size:
            queue(frame(RESIZE, ms.dumps(size).encode()))

    def on_signal(signum: int, frm: Any) -> None:
        queue(frame(SIGNAL, ms.dumps([signum]).encode()))

    try:
        hello = {"stdin": stdin_fd is not None, "size": winsize() if tty else None}
        sock.sendall(frame(HELLO, ms.dumps(hello).encode()))
        if tty and stdin_fd is not None and os.isatty(stdin_fd):
            import termios
            import tty as ttymod

            restore.append((stdin_fd, termios.tcgetattr(stdin_fd)))
            ttymod.setraw(stdin_fd, termios.TCSANOW)
        try:
            if tty:
                handlers[_sig.SIGWINCH] = _sig.signal(_sig.SIGWINCH, on_winch)
            if sig_proxy:
                for sig in PROXIED_SIGNALS:
                    handlers[sig] = _sig.signal(sig, on_signal)
        except ValueError:  # not the main thread: no signal forwarding
            pass
        poller = select.poll()
        sfd = sock.fileno()
        poller.register(sfd, select.POLLIN)
        poller.register(wake_r, select.POLLIN)
        if stdin_fd is not None:
            poller.register(stdin_fd, _POLLIN)
        while True:
            for fd, _events in poller.poll():
                if fd == wake_r:
                    os.read(wake_r, 512)
                elif fd == sfd:
                    data = sock.recv(65536)
                    if not data:
                        raise Unavailable("lost the connection to the container's monitor")
                    for kind, payload in reader.feed(data):
                        if kind == STDOUT:
                            _write_all(stdout_fd, payload)
                        elif kind == STDERR:
                            _write_all(stderr_fd, payload)
                        elif kind == EXIT:
                            code = ms.loads(payload.decode()).get("ExitCode")
                            return UNKNOWN_EXIT_CODE if code is None else int(code)
                elif fd == stdin_fd:
                    try:
                        data = os.read(fd, 65536)
                    except OSError:
                        data = b""
                    if not data:
                        poller.unregister(fd)
                        pending.extend(frame(EOF))
                        continue
                    data, detach = matcher.feed(data)
                    if data:
                        pending.extend(frame(STDIN, data))
                    if detach:
                        sock.sendall(bytes(pending))
                        return DETACHED
            if pending:
                data = bytes(pending)
                pending.clear()
                sock.sendall(data)
    finally:
        for signum, handler in handlers.items():
            _sig.signal(signum, handler)
        for fd, attrs in restore:
            import termios

            termios.tcsetattr(fd, termios.TCSADRAIN, attrs)
        sock.close()
        os.close(wake_r)
        os.close(wake_w)


# -- probes for the lifecycle code ----------------------------------------------------------------


def monitor_pid(run_dir: str) -> int:
    """The live monitor's pid, or 0 (no pid file, process gone, or pid reused)."""
    try:
        with open(os.path.join(run_dir, "monitor.pid")) as f:
            pid_text, _, start_text = f.read().strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return 0
    start = proc_start_time(pid)
    if start is None or (start_text not in ("", "None") and str(start) != start_text):
        return 0
    return pid


def monitor_alive(run_dir: str) -> bool:
    return monitor_pid(run_dir) > 0


def notify_monitor(run_dir: str) -> bool:
    """SIGUSR1 the monitor: re-read the record now (``stop`` during a restart back-off)."""
    pid = monitor_pid(run_dir)
    if not pid:
        return False
    try:
        os.kill(pid, _sig.SIGUSR1)
    except ProcessLookupError:
        return False
    return True


def container_truth(runc: Any, container_id: str) -> tuple[str, int]:
    """What runc sees: ("running"|"paused"|"created", pid) or ("exited", 0).

    ``runc`` is a :class:`pynerd.runtime.runc.Runc`. A container runc does not know or
    whose init is gone is "exited".
    """
    state = runc.state(container_id)
    if not state:
        return "exited", 0
    status = str(state.get("status", ""))
    pid = int(state.get("pid") or 0)
    if status in ("running", "paused", "created") and pid:
        return status, pid
    return "exited", 0


def reconcile(
    namespace_root: str, run_dir: str, runc: Any, container_id: str
) -> dict[str, Any] | None:
    """Fix a record whose monitor died: the truth from runc wins.

    A "running"/"restarting" record without a live monitor becomes exited with
    :data:`UNKNOWN_EXIT_CODE` once runc shows the init gone (runc's state is then
    deleted); while the init still runs the record is left as it is (running).
    Returns the record as it is afterwards.
    """
    record = ms.read_record(namespace_root, container_id)
    if record is None:
        return None
    state = record.get("State") or {}
    if not (state.get("Running") or state.get("Restarting")) or monitor_alive(run_dir):
        return record
    status, _ = container_truth(runc, container_id)
    if status != "exited":
        return record
    if state.get("Restarting"):
        code = int(state.get("ExitCode") or 0)
        error = ""
    else:
        code, error = UNKNOWN_EXIT_CODE, "container monitor exited; exit status unknown"
    runc.delete(container_id, force=True)
    return ms.update_record(namespace_root, container_id, ms.exited_fn(code, False, error))
