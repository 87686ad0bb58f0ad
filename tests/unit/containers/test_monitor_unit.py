"""The monitor's pure parts, its lean record writer, and the runc wrapper with fake runners."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from pynerd.containers import monitor as mon
from pynerd.containers import monitor_state as ms
from pynerd.containers import state
from pynerd.containers.store import ContainerStore
from pynerd.errors import CommandNotExecutable, CommandNotFound, Conflict, NotFound, PynerdError
from pynerd.procs import Completed
from pynerd.runtime.runc import Runc, Spawn, classify_error, exec_error, runc_error_message
from pynerd.state.kv import encode_key

# -- attach protocol --------------------------------------------------------------------------


def test_frame_layout_is_docker_stdcopy() -> None:
    assert mon.frame(mon.STDERR, b"hi") == b"\x02\x00\x00\x00\x00\x00\x00\x02hi"
    assert mon.frame(mon.EOF) == b"\x05" + b"\x00" * 7


def test_frame_reader_reassembles_split_frames() -> None:
    data = mon.frame(mon.STDOUT, b"hello") + mon.frame(mon.STDIN, b"") + mon.frame(2, b"x" * 300)
    reader = mon.FrameReader()
    got: list[tuple[int, bytes]] = []
    for i in range(0, len(data), 3):
        got += reader.feed(data[i : i + 3])
    assert got == [(1, b"hello"), (0, b""), (2, b"x" * 300)]
    assert reader.buf == bytearray()


def test_frame_reader_rejects_huge_frames() -> None:
    with pytest.raises(ValueError):
        mon.FrameReader().feed(bytes((1, 0, 0, 0)) + (mon.MAX_FRAME + 1).to_bytes(4, "big"))


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (None, b"\x10\x11"),
        ("ctrl-p,ctrl-q", b"\x10\x11"),
        ("ctrl-a,x", b"\x01x"),
        ("ctrl-@,ctrl-_", b"\x00\x1f"),
        ("ctrl-[", b"\x1b"),
    ],
)
def test_detach_keys(keys: str | None, expected: bytes) -> None:
    assert mon.parse_detach_keys(keys) == expected


def test_bad_detach_keys() -> None:
    with pytest.raises(ValueError, match="Unknown character"):
        mon.parse_detach_keys("ctrl-1")


def test_detach_matcher_holds_back_a_possible_sequence() -> None:
    m = mon.DetachMatcher(b"\x10\x11")
    assert m.feed(b"ab\x10") == (b"ab", False)
    assert m.feed(b"c") == (b"\x10c", False)  # not the sequence: released
    assert m.feed(b"\x10\x10") == (b"\x10", False)
    assert m.feed(b"\x11tail") == (b"", True)
    assert mon.DetachMatcher(b"").feed(b"\x10\x11") == (b"\x10\x11", False)


# -- json-file log ---------------------------------------------------------------------------


def test_log_entry_is_docker_byte_for_byte() -> None:
    t = 1_704_067_200_123_000_000
    line = mon.encode_log_entry(b'a<b>&"c"\\\t\x01\x7f\xe2\x80\xa8\xc3\xa9\n', "stdout", t)
    assert line == (
        b'{"log":"a\\u003cb\\u003e\\u0026\\"c\\"\\\\\\t\\u0001\x7f\\u2028\xc3\xa9\\n",'
        b'"stream":"stdout","time":"2024-01-01T00:00:00.123Z"}\n'
    )
    assert json.loads(line)["log"] == 'a<b>&"c"\\\t\x01\x7f\u2028é\n'
    assert json.loads(mon.encode_log_entry(b"\xff\n", "stderr", t))["log"] == "\ufffd\n"


@pytest.mark.parametrize(
    ("t_ns", "text"),
    [
        (1_704_067_200_000_000_000, "2024-01-01T00:00:00Z"),
        (1_704_067_200_500_000_000, "2024-01-01T00:00:00.5Z"),
        (1_704_067_200_000_000_001, "2024-01-01T00:00:00.000000001Z"),
    ],
)
def test_rfc3339nano_trims_zeros_like_go(t_ns: int, text: str) -> None:
    assert mon.rfc3339nano(t_ns) == text


def test_split_log_lines_keeps_partial_tail() -> None:
    assert mon.split_log_lines(b"", b"a\nb\nc") == ([b"a\n", b"b\n"], b"c")
    assert mon.split_log_lines(b"c", b"d\n") == ([b"cd\n"], b"")
    assert mon.split_log_lines(b"", b"") == ([], b"")


def test_split_log_lines_cuts_at_docker_16k_buffer() -> None:
    max_ = mon.LOG_LINE_MAX
    fits = b"x" * (max_ - 1) + b"\n"
    assert mon.split_log_lines(b"", fits) == ([fits], b"")
    over = b"y" * max_ + b"\n"
    assert mon.split_log_lines(b"", over) == ([b"y" * max_, b"\n"], b"")
    long = b"z" * (2 * max_ + 5)
    assert mon.split_log_lines(b"", long) == ([b"z" * max_, b"z" * max_], b"z" * 5)


def test_json_log_flushes_partial_line_at_close(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    log = mon.JsonLog(str(path))
    log.write("stdout", b"a\npart")
    log.write("stderr", b"e")
    log.close()
    entries = [json.loads(x) for x in path.read_text().splitlines()]
    assert [(e["stream"], e["log"]) for e in entries] == [
        ("stdout", "a\n"),
        ("stdout", "part"),
        ("stderr", "e"),
    ]


# -- exit codes, restarts, health ---------------------------------------------------------------


def test_exit_code_mapping() -> None:
    assert mon.exit_code_from_status(3 << 8) == 3
    assert mon.exit_code_from_status(0) == 0
    assert mon.exit_code_from_status(signal.SIGKILL) == 137
    assert mon.exit_code_from_status(signal.SIGTERM | 0x80) == 143  # core dumped


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        (None, ("no", 0)),
        ("", ("no", 0)),
        ("always", ("always", 0)),
        ("on-failure", ("on-failure", 0)),
        ("on-failure:3", ("on-failure", 3)),
        ({"Name": "unless-stopped", "MaximumRetryCount": 0}, ("unless-stopped", 0)),
        ({"Name": "on-failure", "MaximumRetryCount": 2}, ("on-failure", 2)),
    ],
)
def test_restart_policy_parsing(value: Any, parsed: tuple[str, int]) -> None:
    assert mon.parse_restart_policy(value) == parsed


@pytest.mark.parametrize("value", ["sometimes", "always:3"])
def test_bad_restart_policy(value: str) -> None:
    with pytest.raises(ValueError):
        mon.parse_restart_policy(value)


@pytest.mark.parametrize(
    ("policy", "max_", "restarts", "code", "stopped", "expected"),
    [
        ("no", 0, 0, 1, False, False),
        ("always", 0, 50, 0, False, True),
        ("always", 0, 0, 1, True, False),
        ("unless-stopped", 0, 0, 0, False, True),
        ("unless-stopped", 0, 0, 0, True, False),
        ("on-failure", 0, 99, 1, False, True),
        ("on-failure", 0, 0, 0, False, False),
        ("on-failure", 2, 1, 1, False, True),
        ("on-failure", 2, 2, 1, False, False),
        ("on-failure", 2, 0, 137, True, False),
    ],
)
def test_should_restart(
    policy: str, max_: int, restarts: int, code: int, stopped: bool, expected: bool
) -> None:
    assert mon.should_restart(policy, max_, restarts, code, stopped) is expected


def test_backoff_doubles_caps_and_resets() -> None:
    delays = []
    delay = 0.0
    for _ in range(12):
        delay = mon.next_backoff(delay, ran_for=0.5)
        delays.append(delay)
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert delays[-1] == 60.0 and max(delays) == 60.0
    assert mon.next_backoff(60.0, ran_for=10.0) == 0.1
    assert mon.next_backoff(0.4, ran_for=9.9) == 0.8


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (30_000_000_000, "30s"),
        (90_000_000_000, "1m30s"),
        (3_600_000_000_000, "1h0m0s"),
        (1_500_000_000, "1.5s"),
        (500_000_000, "500ms"),
        (1_500, "1.5µs"),
        (7, "7ns"),
        (0, "0s"),
    ],
)
def test_go_duration(ns: int, text: str) -> None:
    assert mon.go_duration(ns) == text


def test_health_settings() -> None:
    assert mon.health_settings(None) is None
    assert mon.health_settings({"Test": ["NONE"]}) is None
    assert mon.health_settings({"Test": []}) is None
    assert mon.health_settings({"Test": ["CMD-SHELL", "curl -f x || exit 1"]}) == (
        ["/bin/sh", "-c", "curl -f x || exit 1"],
        30_000_000_000,
        30_000_000_000,
        0,
        3,
    )
    hc = {"Test": ["CMD", "true"], "Interval": 1, "Timeout": 2, "StartPeriod": 3, "Retries": 4}
    assert mon.health_settings(hc) == (["true"], 1, 2, 3, 4)


def _result(code: int) -> dict[str, Any]:
    return {"Start": "s", "End": "e", "ExitCode": code, "Output": ""}


def test_health_state_machine() -> None:
    h: dict[str, Any] = {"Status": "starting", "FailingStreak": 0, "Log": []}
    h = mon.health_apply(h, _result(1), retries=2, in_start_period=True)
    assert (h["Status"], h["FailingStreak"]) == ("starting", 0)  # grace
    h = mon.health_apply(h, _result(1), retries=2, in_start_period=False)
    assert (h["Status"], h["FailingStreak"]) == ("starting", 1)
    h = mon.health_apply(h, _result(-1), retries=2, in_start_period=False)
    assert (h["Status"], h["FailingStreak"]) == ("unhealthy", 2)
    h = mon.health_apply(h, _result(0), retries=2, in_start_period=False)
    assert (h["Status"], h["FailingStreak"]) == ("healthy", 0)
    h = mon.health_apply(h, _result(1), retries=2, in_start_period=True)  # counts once healthy
    assert (h["Status"], h["FailingStreak"]) == ("healthy", 1)
    for _ in range(10):
        h = mon.health_apply(h, _result(0), retries=2, in_start_period=False)
    assert len(h["Log"]) == mon.HEALTH_LOG_MAX


# -- cgroups, pid files, probes ---------------------------------------------------------------


def test_oom_kills_reads_v1_and_v2_counters(tmp_path: Path) -> None:
    v1 = tmp_path / "memory.oom_control"
    v1.write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    v2 = tmp_path / "memory.events"
    v2.write_text("low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n")
    assert mon.oom_kills([str(tmp_path / "missing"), str(v1)]) == 2
    assert mon.oom_kills([str(v2)]) == 1
    assert mon.oom_kills([]) == 0


def test_memory_cgroup_files_of_this_process() -> None:
    files = mon.memory_cgroup_files(os.getpid())
    assert files and all(f.startswith("/sys/fs/cgroup") for f in files)


def test_monitor_alive_checks_pid_and_start_time(tmp_path: Path) -> None:
    assert not mon.monitor_alive(str(tmp_path))
    pid = os.getpid()
    (tmp_path / "monitor.pid").write_text(f"{pid} {mon.proc_start_time(pid)}\n")
    assert mon.monitor_alive(str(tmp_path))
    assert mon.monitor_pid(str(tmp_path)) == pid
    (tmp_path / "monitor.pid").write_text(f"{pid} 1\n")  # the pid was reused
    assert not mon.monitor_alive(str(tmp_path))


class FakeRunc:
    def __init__(self, state: dict[str, Any] | None) -> None:
        self._state = state
        self.deleted: list[str] = []

    def state(self, container_id: str) -> dict[str, Any] | None:
        return self._state

    def delete(self, container_id: str, force: bool = False) -> None:
        self.deleted.append(container_id)


@pytest.mark.parametrize(
    ("runc_state", "truth"),
    [
        (None, ("exited", 0)),
        ({"status": "stopped", "pid": 0}, ("exited", 0)),
        ({"status": "running", "pid": 42}, ("running", 42)),
        ({"status": "paused", "pid": 42}, ("paused", 42)),
        ({"status": "created", "pid": 42}, ("created", 42)),
    ],
)
def test_container_truth(runc_state: dict[str, Any] | None, truth: tuple[str, int]) -> None:
    assert mon.container_truth(FakeRunc(runc_state), "c") == truth


CID = "ab" * 32


def _new_record(ns_root: Path, **state_values: Any) -> None:
    s = state.initial_state()
    s.update(state_values)
    ContainerStore(ns_root).records.create(CID, {"Id": CID, "State": s, "RestartCount": 0})


def test_reconcile_marks_a_dead_container_exited_unknown(tmp_path: Path) -> None:
    _new_record(tmp_path, Status="running", Running=True, Pid=4242)
    runc = FakeRunc(None)
    rec = mon.reconcile(str(tmp_path), str(tmp_path / "run"), runc, CID)
    assert rec is not None
    assert (rec["State"]["Status"], rec["State"]["ExitCode"]) == ("exited", mon.UNKNOWN_EXIT_CODE)
    assert runc.deleted == [CID]


def test_reconcile_leaves_a_running_orphan_running(tmp_path: Path) -> None:
    _new_record(tmp_path, Status="running", Running=True, Pid=4242)
    rec = mon.reconcile(
        str(tmp_path), str(tmp_path / "run"), FakeRunc({"status": "running", "pid": 4242}), CID
    )
    assert rec is not None and rec["State"]["Status"] == "running"


# -- the lean record writer --------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, "é<\n", None, True, False], "b": {}, "c": "\U0001f600"},
        [],
        "x",
        {"n": -1e300, "big": 2**70},
    ],
)
def test_lean_json_matches_the_json_module(value: Any) -> None:
    text = json.dumps(value, separators=(",", ":"))
    assert ms.dumps(value) == text
    assert ms.loads(text) == value
    assert ms.loads(json.dumps(value, indent=2) + "\n") == value


def test_lean_json_rejects_garbage() -> None:
    for text in ("{", '{"a":1} x', ""):
        with pytest.raises(ValueError):
            ms.loads(text)


@pytest.mark.parametrize("key", [CID, "docker.io/library/busybox:latest", ".hidden", "a b%é"])
def test_lean_key_encoding_matches_kv(key: str) -> None:
    assert ms.encode_key(key) == encode_key(key)


def _without_times(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(record))
    for k in ("StartedAt", "FinishedAt"):
        out["State"].pop(k, None)
    return out


def test_transitions_match_pynerd_containers_state(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        _new_record(root)
    cases: list[tuple[Callable[[], dict[str, Any]], Callable[[dict[str, Any]], None]]] = [
        (lambda: state.mark_running(a, CID, 7), ms.running_fn(7)),
        (lambda: state.mark_restarting(a, CID, 3), ms.restarting_fn(3)),
        (lambda: state.mark_exited(a, CID, 3, True, "boom"), ms.exited_fn(3, True, "boom")),
        (lambda: state.set_health(a, CID, {"Status": "healthy"}), ms.health_fn({"Status": "x"})),
    ]
    for heavy, lean in cases:
        expected = heavy()
        got = ms.update_record(str(b), CID, lean)
        assert got is not None
        if expected["State"].get("Health"):
            got["State"]["Health"] = expected["State"]["Health"]
        assert _without_times(got) == _without_times(expected)
    # What the lean writer stored is what the store reads back.
    stored = ContainerStore(b).records.get(CID)
    assert stored is not None and stored["State"]["Error"] == "boom"


def test_update_record_is_locked_atomic_and_sweeps_temps(tmp_path: Path) -> None:
    _new_record(tmp_path)
    bucket = tmp_path / "kv" / "containers"
    (bucket / ".tmp-leftover.123.abcd").write_text("torn")
    ms.update_record(str(tmp_path), CID, ms.running_fn(9, health=True))
    names = sorted(os.listdir(bucket))
    assert names == [".lock", f"{CID}.json"]
    rec = json.loads((bucket / f"{CID}.json").read_text())
    assert rec["State"]["Pid"] == 9
    assert rec["State"]["Health"] == {"Status": "starting", "FailingStreak": 0, "Log": []}
    assert ms.update_record(str(tmp_path), "cd" * 32, ms.running_fn(1)) is None
    assert ms.update_record(str(tmp_path / "nowhere"), CID, ms.running_fn(1)) is None


def test_failed_start_keeps_status_and_sets_the_error(tmp_path: Path) -> None:
    _new_record(tmp_path)
    rec = ms.update_record(str(tmp_path), CID, ms.failed_fn(127, "not found"))
    assert rec is not None
    assert (rec["State"]["Status"], rec["State"]["ExitCode"], rec["State"]["Error"]) == (
        "created",
        127,
        "not found",
    )


def test_stop_requested() -> None:
    assert ms.stop_requested(None)
    assert not ms.stop_requested({"State": {}})
    assert ms.stop_requested({"Pynerd": {"StopRequested": True}})


def test_monitor_imports_stay_lean() -> None:
    """Every module the monitor process loads is resident per container: keep them few."""
    root = str(Path(mon.__file__).resolve().parents[2])
    code = (
        "import sys\n"
        f"sys.path[:0] = [{root!r}]\n"
        "import pynerd.containers.monitor\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-E", "-c", code], capture_output=True, text=True, check=True
    )
    loaded = set(out.stdout.split())
    heavy = {"json", "re", "enum", "socket", "signal", "subprocess", "ctypes", "typing"}
    heavy |= {"collections", "contextlib", "functools", "dataclasses", "pathlib", "array"}
    heavy |= {"pynerd.errors", "pynerd.state.kv", "pynerd.config", "threading"}
    assert sorted(loaded & heavy) == []


# -- runc: error text and the runner seam ------------------------------------------------------

NOT_FOUND = (
    'runc create failed: unable to start container process: exec: "nosuch": '
    "executable file not found in $PATH"
)


@pytest.mark.parametrize(
    ("message", "action", "kind", "code"),
    [
        (NOT_FOUND, "create", CommandNotFound, 127),
        (
            'runc create failed: unable to start container process: exec: "/x": '
            "stat /x: no such file or directory",
            "create",
            CommandNotFound,
            127,
        ),
        (
            'runc create failed: unable to start container process: exec: "/etc/passwd": '
            "permission denied",
            "create",
            CommandNotExecutable,
            126,
        ),
        (
            'exec failed: unable to start container process: exec: "sh": executable file not '
            "found in $PATH",
            "exec",
            CommandNotFound,
            127,
        ),
        (
            "runc create failed: unable to start container process: error during container "
            'init: error mounting "/nope" to rootfs: no such file or directory',
            "create",
            PynerdError,
            125,
        ),
        ("container not running", "kill", Conflict, 125),
        ("container does not exist", "state", NotFound, 125),
    ],
)
def test_classify_error(message: str, action: str, kind: type, code: int) -> None:
    err = classify_error(message, action)
    assert type(err) is kind or (kind is PynerdError and isinstance(err, PynerdError))
    assert err.exit_code == code
    if action == "create":
        assert err.message.startswith("failed to create task for container: ")
        assert err.message.endswith(": unknown")
    # The monitor's lean copy agrees.
    if action in ("create", "start", "exec"):
        assert mon.failure(message, action) == (code, err.message)


def test_docker_wording_for_a_missing_command() -> None:
    assert classify_error(NOT_FOUND).message == (
        "failed to create task for container: failed to create shim task: OCI runtime create "
        'failed: runc create failed: unable to start container process: exec: "nosuch": '
        "executable file not found in $PATH: unknown"
    )


def test_runc_error_message_formats() -> None:
    json_log = (
        b'{"level":"warning","msg":"w","time":"t"}\n'
        b'{"level":"fatal","msg":"nsexec failed","time":"t"}\n'
        b'{"level":"error","msg":"the real one","time":"t"}\n'
    )
    assert runc_error_message(json_log) == "the real one"
    text = b'time="2024" level=error msg="container \\"x\\" does not exist"\n'
    assert runc_error_message(text) == 'container "x" does not exist'
    assert runc_error_message(b"plain failure\n") == "plain failure"
    assert mon.runc_log_error(json_log.decode()) == "the real one"


class FakeRunner:
    def __init__(self, answers: dict[str, Completed]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, ...]] = []
        self.inputs: list[bytes | None] = []

    def run(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        input: bytes | None = None,
        timeout: float | None = None,
    ) -> Completed:
        self.calls.append(tuple(args))
        self.inputs.append(input)
        verb = args[args.index("json") + 1]
        return self.answers[verb]


def ok(stdout: bytes = b"") -> Completed:
    return Completed((), 0, stdout, b"")


def err(msg: str) -> Completed:
    return Completed((), 1, b"", json.dumps({"level": "error", "msg": msg}).encode() + b"\n")


def test_runc_commands_through_the_runner(tmp_path: Path) -> None:
    fake = FakeRunner(
        {
            "state": ok(b'{"id":"c","pid":5,"status":"running"}'),
            "kill": ok(),
            "delete": err("container does not exist"),
            "ps": ok(b"[5,6]\n"),
            "list": ok(b"null"),
            "events": ok(b'{"type":"stats","id":"c","data":{"pids":{"current":2}}}\n'),
            "update": ok(),
            "start": ok(),
            "pause": ok(),
            "resume": ok(),
        }
    )
    runc = Runc("/bin/runc", root=tmp_path, runner=fake)
    assert runc.state("c") == {"id": "c", "pid": 5, "status": "running"}
    runc.kill("c", 15, all=True)
    runc.delete("c", force=True)  # idempotent: does not raise
    assert runc.ps("c") == [5, 6]
    assert runc.list() == []
    assert runc.stats("c") == {"pids": {"current": 2}}
    runc.update("c", {"memory": {"limit": 1024}})
    runc.start("c")
    runc.pause("c")
    runc.resume("c")
    base = ("/bin/runc", "--root", str(tmp_path), "--log-format", "json")
    assert fake.calls[0] == (*base, "state", "c")
    assert fake.calls[1] == (*base, "kill", "--all", "c", "15")
    assert fake.calls[2] == (*base, "delete", "--force", "c")
    assert fake.calls[6] == (*base, "update", "--resources", "-", "c")
    assert json.loads(fake.inputs[6] or b"") == {"memory": {"limit": 1024}}


def test_runc_state_of_unknown_container_is_none() -> None:
    runc = Runc("/bin/runc", runner=FakeRunner({"state": err("container does not exist")}))
    assert runc.state("c") is None
    with pytest.raises(Conflict):
        Runc("/bin/runc", runner=FakeRunner({"kill": err("container not running")})).kill("c", 9)


class FakeSpawn(Spawn):
    """Plays runc: writes an error to the --log file it was given and fails."""

    def __init__(self, message: str | None, returncode: int = 1) -> None:
        self.message = message
        self.returncode = returncode
        self.calls: list[list[str]] = []
        self.process: dict[str, Any] | None = None

    def _play(self, args: Sequence[str]) -> None:
        self.calls.append(list(args))
        if "--process" in args:
            with open(args[args.index("--process") + 1]) as f:
                self.process = json.load(f)
        if self.message is not None:
            log = args[args.index("--log") + 1]
            with open(log, "a") as f:
                f.write(json.dumps({"level": "error", "msg": self.message}) + "\n")

    def __call__(self, args: Sequence[str], **kw: Any) -> int:
        self._play(args)
        return self.returncode if self.message is not None else 0

    def popen(self, args: Sequence[str], **kw: Any) -> Any:
        self._play(args)
        code = self.returncode if self.message is not None else 0
        return subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])


def test_create_failure_is_typed_from_the_runc_log(tmp_path: Path) -> None:
    spawn = FakeSpawn(NOT_FOUND)
    runc = Runc("/bin/runc", spawn=spawn)
    with pytest.raises(CommandNotFound, match="executable file not found"):
        runc.create("c", tmp_path, tmp_path / "pid", console_socket="console.sock")
    args = spawn.calls[0]
    assert args[args.index("create") :] == [
        "create",
        "--bundle",
        str(tmp_path),
        "--pid-file",
        str(tmp_path / "pid"),
        "--console-socket",
        "console.sock",
        "c",
    ]
    assert args[args.index("--log") + 1].startswith("/proc/self/fd/")


def test_create_success(tmp_path: Path) -> None:
    Runc("/bin/runc", spawn=FakeSpawn(None)).create("c", tmp_path, tmp_path / "pid")


def test_exec_passes_the_process_and_reports_runc_failures() -> None:
    spawn = FakeSpawn(None)
    runc = Runc("/bin/runc", spawn=spawn)
    assert runc.exec("c", {"args": ["true"], "cwd": "/"}, tty=False, detach=True) == 0
    assert spawn.process == {"args": ["true"], "cwd": "/", "terminal": False}
    assert "--detach" in spawn.calls[0]

    failing = FakeSpawn(
        'exec failed: unable to start container process: exec: "x": '
        "executable file not found in $PATH",
        returncode=255,
    )
    proc = Runc("/bin/runc", spawn=failing).exec("c", {"args": ["x"]}, tty=True)
    assert proc.wait() == 255
    error = exec_error(proc)
    assert isinstance(error, CommandNotFound)
    assert error.message.startswith("OCI runtime exec failed: exec failed:")

    fine = Runc("/bin/runc", spawn=FakeSpawn(None)).exec("c", {"args": ["true"]}, tty=False)
    assert fine.wait() == 0 and exec_error(fine) is None
