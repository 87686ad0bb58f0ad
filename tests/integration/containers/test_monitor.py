"""The monitor against real runc: busybox containers from a hand-made bundle.

Each test builds a rootfs from the host's static /bin/busybox and a minimal OCI
config (the real spec builder is tested elsewhere), a record in a temp namespace
root, and deliberately deep run directories (unix socket paths are limited to
108 bytes). The fixture removes every container (``runc delete -f``) and kills any
monitor still alive.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import secrets
import shutil
import signal
import struct
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pynerd.containers import monitor as mon
from pynerd.containers import state
from pynerd.containers.logs import read_logs
from pynerd.containers.store import ContainerStore
from pynerd.errors import CommandNotExecutable, CommandNotFound
from pynerd.runtime.runc import Runc

pytestmark = pytest.mark.integration

RUNC = shutil.which("runc") or shutil.which("runc", path="/usr/sbin:/sbin")
BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "echo", "cat", "sleep", "true", "false", "head", "tr", "stty", "kill", "ls")

if os.geteuid() != 0 or RUNC is None or not os.path.exists(BUSYBOX):
    pytest.skip("needs root, runc and a static /bin/busybox", allow_module_level=True)


def busybox_rootfs(rootfs: Path) -> None:
    for d in ("bin", "etc", "proc", "dev", "sys", "tmp"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    shutil.copy(BUSYBOX, rootfs / "bin" / "busybox")
    for applet in APPLETS:
        os.symlink("busybox", rootfs / "bin" / applet)
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (rootfs / "etc" / "notexec").write_text("#!/bin/sh\n")


def oci_config(args: list[str], tty: bool) -> dict[str, Any]:
    caps = ["CAP_KILL", "CAP_CHOWN", "CAP_SETUID", "CAP_SETGID", "CAP_DAC_OVERRIDE"]
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": tty,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "monitor-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
            },
            {
                "destination": "/sys",
                "type": "sysfs",
                "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"],
            },
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "mount", "ipc", "uts", "network")],
        },
    }


class Harness:
    """Makes containers (bundle + record + config) and removes them all at the end."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.ns_root = base / "data" / "namespaces" / "default"
        # Deep on purpose: the sockets in here must still work (108-byte limit).
        self.run_root = base / "run" / ("deep-" * 12).rstrip("-")
        self.runc_root = self.run_root / "runc" / "default"
        self.runc = Runc(RUNC or "runc", root=self.runc_root)
        self.configs: list[mon.MonitorConfig] = []

    def make(
        self,
        args: list[str],
        *,
        tty: bool = False,
        resources: dict[str, Any] | None = None,
        **extra: Any,
    ) -> mon.MonitorConfig:
        cid = secrets.token_hex(32)
        bundle = self.ns_root / "containers" / cid
        busybox_rootfs(bundle / "rootfs")
        spec = oci_config(args, tty)
        if resources:
            spec["linux"]["resources"] = resources
        (bundle / "config.json").write_text(json.dumps(spec))
        record = {"Id": cid, "State": state.initial_state(), "RestartCount": 0}
        ContainerStore(self.ns_root).records.create(cid, record)
        run_dir = self.run_root / "default" / "containers" / cid
        run_dir.mkdir(parents=True)
        assert len(str(run_dir / "attach.sock")) > 108
        cfg: mon.MonitorConfig = {
            "id": cid,
            "bundle": str(bundle),
            "runc": self.runc.path(),
            "runc_root": str(self.runc_root),
            "run_dir": str(run_dir),
            "namespace_root": str(self.ns_root),
            "log_path": str(bundle / f"{cid}-json.log"),
            "tty": tty,
        }
        cfg.update(extra)  # type: ignore[typeddict-item]
        self.configs.append(cfg)
        return cfg

    def record(self, cfg: mon.MonitorConfig) -> dict[str, Any]:
        rec = ContainerStore(self.ns_root).records.get(cfg["id"])
        assert rec is not None
        return rec

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting")
            time.sleep(0.02)

    def wait_finished(self, cfg: mon.MonitorConfig, timeout: float = 15.0) -> dict[str, Any]:
        """Until the record says exited and the monitor is gone."""

        def done() -> bool:
            status = self.record(cfg)["State"]["Status"]
            return status == "exited" and not mon.monitor_alive(cfg["run_dir"])

        self.wait_for(done, timeout)
        return self.record(cfg)

    def logs(self, cfg: mon.MonitorConfig) -> list[tuple[str, bytes]]:
        return list(read_logs(cfg["log_path"]))

    def cleanup(self) -> None:
        for cfg in self.configs:
            pid = mon.monitor_pid(cfg["run_dir"])
            if pid:
                os.kill(pid, signal.SIGKILL)
            self.runc.delete(cfg["id"], force=True)
        for cfg in self.configs:
            self.wait_for(lambda c=cfg: not mon.monitor_alive(c["run_dir"]), 5)  # type: ignore[misc]
            assert self.runc.state(cfg["id"]) is None


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    try:
        yield harness
    finally:
        harness.cleanup()


def pipe() -> tuple[int, int]:
    return os.pipe()


def read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


# -- detached -----------------------------------------------------------------------------------


def test_detached_logs_both_streams_and_records_the_exit(h: Harness) -> None:
    cfg = h.make(["sh", "-c", "echo out; echo err >&2; exit 3"])
    report = mon.start_detached(cfg)
    assert report["ok"] and report["pid"] > 0
    rec = h.wait_finished(cfg)
    s = rec["State"]
    assert (s["Status"], s["ExitCode"], s["Running"], s["Pid"]) == ("exited", 3, False, 0)
    assert s["FinishedAt"] > s["StartedAt"] > state.ZERO_TIME
    assert h.logs(cfg) == [("stdout", b"out\n"), ("stderr", b"err\n")]
    for line in Path(cfg["log_path"]).read_text().splitlines():
        entry = json.loads(line)
        assert list(entry) == ["log", "stream", "time"] and entry["time"].endswith("Z")
    # runc forgot it (cgroup gone), the monitor cleaned its sockets.
    assert h.runc.state(cfg["id"]) is None
    assert not (Path(cfg["run_dir"]) / "attach.sock").exists()


def test_long_lines_are_split_like_docker(h: Harness) -> None:
    cfg = h.make(["sh", "-c", "head -c 40000 /dev/zero | tr '\\0' x; echo; echo end"])
    mon.start_detached(cfg)
    h.wait_finished(cfg)
    sizes = [len(data) for _, data in h.logs(cfg)]
    assert sizes == [16384, 16384, 40000 - 2 * 16384 + 1, 4]


def test_killing_the_monitor_leaves_the_container_running(h: Harness) -> None:
    cfg = h.make(["sleep", "30"])
    init = mon.start_detached(cfg)["pid"]
    monitor = mon.monitor_pid(cfg["run_dir"])
    assert monitor and mon.monitor_alive(cfg["run_dir"])
    os.kill(monitor, signal.SIGKILL)
    h.wait_for(lambda: not mon.monitor_alive(cfg["run_dir"]))
    assert mon.container_truth(h.runc, cfg["id"]) == ("running", init)
    os.kill(init, 0)  # really alive
    rec = mon.reconcile(str(h.ns_root), cfg["run_dir"], h.runc, cfg["id"])
    assert rec is not None and rec["State"]["Status"] == "running"
    h.runc.kill(cfg["id"], "KILL")
    h.wait_for(lambda: mon.container_truth(h.runc, cfg["id"]) == ("exited", 0))
    rec = mon.reconcile(str(h.ns_root), cfg["run_dir"], h.runc, cfg["id"])
    assert rec is not None
    assert (rec["State"]["Status"], rec["State"]["ExitCode"]) == ("exited", 255)
    assert h.runc.state(cfg["id"]) is None


def test_sigkilled_container_reports_137(h: Harness) -> None:
    cfg = h.make(["sleep", "30"])
    mon.start_detached(cfg)
    h.runc.kill(cfg["id"], "KILL")
    assert h.wait_finished(cfg)["State"]["ExitCode"] == 137


def test_oom_kill_is_recorded(h: Harness) -> None:
    limit = 16 * 1024 * 1024
    cfg = h.make(
        ["sh", "-c", "x=$(head -c 60000000 /dev/zero | tr '\\0' a); echo survived"],
        resources={"memory": {"limit": limit, "swap": limit}},
    )
    mon.start_detached(cfg)
    s = h.wait_finished(cfg)["State"]
    assert (s["ExitCode"], s["OOMKilled"]) == (137, True)


def test_restart_on_failure_counts_and_gives_up(h: Harness) -> None:
    cfg = h.make(["sh", "-c", "echo run; exit 1"], restart="on-failure:2")
    mon.start_detached(cfg)
    rec = h.wait_finished(cfg)
    assert rec["RestartCount"] == 2
    assert (rec["State"]["Status"], rec["State"]["ExitCode"]) == ("exited", 1)
    assert [d for _, d in h.logs(cfg)] == [b"run\n"] * 3


def test_a_manual_stop_is_not_restarted(h: Harness) -> None:
    cfg = h.make(["sleep", "30"], restart="always")
    mon.start_detached(cfg)
    state.set_private(h.ns_root, cfg["id"], StopRequested=True)
    h.runc.kill(cfg["id"], "KILL")
    rec = h.wait_finished(cfg)
    assert (rec["State"]["ExitCode"], rec["RestartCount"]) == (137, 0)


def test_stop_during_backoff_ends_the_wait(h: Harness) -> None:
    cfg = h.make(["sh", "-c", "sleep 0.1; exit 1"], restart="always")
    mon.start_detached(cfg)
    h.wait_for(lambda: h.record(cfg)["RestartCount"] >= 5)  # back-off is 1.6 s by now
    state.set_private(h.ns_root, cfg["id"], StopRequested=True)
    assert mon.notify_monitor(cfg["run_dir"])
    rec = h.wait_finished(cfg, timeout=3)
    assert (rec["State"]["Status"], rec["State"]["ExitCode"]) == ("exited", 1)


def test_failing_healthcheck_turns_unhealthy(h: Harness) -> None:
    hc = {
        "Test": ["CMD-SHELL", "echo probing; exit 1"],
        "Interval": 100_000_000,
        "Timeout": 5_000_000_000,
        "Retries": 2,
    }
    cfg = h.make(["sleep", "30"], healthcheck=hc)
    mon.start_detached(cfg)
    assert h.record(cfg)["State"]["Health"]["Status"] == "starting"
    h.wait_for(lambda: h.record(cfg)["State"]["Health"]["Status"] == "unhealthy")
    health = h.record(cfg)["State"]["Health"]
    assert health["FailingStreak"] >= 2
    assert health["Log"][-1]["ExitCode"] == 1 and health["Log"][-1]["Output"] == "probing\n"
    assert len(health["Log"]) <= 5


def test_healthcheck_timeout_and_recovery(h: Harness) -> None:
    hc = {
        "Test": ["CMD", "sh", "-c", "test -e /tmp/ok || sleep 5"],
        "Interval": 100_000_000,
        "Timeout": 200_000_000,
        "Retries": 1,
    }
    cfg = h.make(["sh", "-c", "sleep 1.2; touch /tmp/ok; sleep 30"], healthcheck=hc)
    mon.start_detached(cfg)
    h.wait_for(lambda: h.record(cfg)["State"]["Health"]["Status"] == "unhealthy")
    last = h.record(cfg)["State"]["Health"]["Log"][-1]
    assert (last["ExitCode"], last["Output"]) == (-1, "Health check exceeded timeout (200ms)")
    h.wait_for(lambda: h.record(cfg)["State"]["Health"]["Status"] == "healthy")


def test_missing_command_is_127_and_recorded(h: Harness) -> None:
    cfg = h.make(["nosuchcmd"])
    with pytest.raises(CommandNotFound) as info:
        mon.start_detached(cfg)
    assert info.value.exit_code == 127
    assert 'exec: "nosuchcmd": executable file not found in $PATH: unknown' in info.value.message
    s = h.record(cfg)["State"]
    assert (s["Status"], s["ExitCode"]) == ("created", 127)
    assert s["Error"] == info.value.message
    h.wait_for(lambda: not mon.monitor_alive(cfg["run_dir"]))
    assert h.runc.state(cfg["id"]) is None


def test_not_executable_is_126(h: Harness) -> None:
    with pytest.raises(CommandNotExecutable):
        mon.run_foreground(h.make(["/etc/notexec"]), None, 1, 2, tty=False)


def test_auto_remove_runs_the_cleanup_before_reporting_the_exit(h: Harness) -> None:
    marker = h.base / "removed"
    argv = [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('x')"]
    cfg = h.make(["sh", "-c", "exit 4"], auto_remove=True, on_exit_remove=argv)
    mon.start_detached(cfg)
    h.wait_finished(cfg)
    assert marker.read_text() == "x"


def test_attach_to_interactive_container(h: Harness) -> None:
    cfg = h.make(["cat"], stdin=True)
    mon.start_detached(cfg)
    sock = mon.connect_attach(cfg["run_dir"])
    try:
        sock.sendall(mon.frame(mon.HELLO, b'{"stdin": true}'))
        sock.sendall(mon.frame(mon.STDIN, b"ping\n"))
        reader = mon.FrameReader()
        frames: list[tuple[int, bytes]] = []
        sock.settimeout(10)
        while not frames:
            frames += reader.feed(sock.recv(4096))
        assert frames[0] == (mon.STDOUT, b"ping\n")
        sock.sendall(mon.frame(mon.SIGNAL, b"[9]"))
        while frames[-1][0] != mon.EXIT:
            frames += reader.feed(sock.recv(4096))
        assert json.loads(frames[-1][1])["ExitCode"] == 137
    finally:
        sock.close()
    h.wait_finished(cfg)


def test_monitor_memory_and_start_time(h: Harness) -> None:
    times, pids = [], []
    for _ in range(3):
        cfg = h.make(["sleep", "30"])
        t = time.perf_counter()
        mon.start_detached(cfg)
        times.append(time.perf_counter() - t)
        pids.append(mon.monitor_pid(cfg["run_dir"]))
    time.sleep(0.3)
    stats = []
    for pid in pids:
        fields = {}
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, value = line.split(":", 1)
            fields[key] = int(value.split()[0])
        stats.append(fields)
    pss = [s["Pss"] for s in stats]
    private = [s["Private_Dirty"] for s in stats]
    print(f"\nmonitor PSS kB {pss}, private dirty kB {private}, start s {times}")
    assert max(private) < 4 * 1024  # what one more monitor really costs
    assert max(pss) < 8 * 1024  # ~4.7 MB when another process shares the interpreter's text
    assert min(times) < 1.0


# -- foreground ---------------------------------------------------------------------------------


def test_foreground_streams_stdout_and_stderr_separately(h: Harness) -> None:
    cfg = h.make(["sh", "-c", "echo out; echo err >&2; echo out2; exit 5"])
    out_r, out_w = pipe()
    err_r, err_w = pipe()
    code = mon.run_foreground(cfg, None, out_w, err_w, tty=False)
    os.close(out_w)
    os.close(err_w)
    assert code == 5
    assert read_all(out_r) == b"out\nout2\n"
    assert read_all(err_r) == b"err\n"
    os.close(out_r)
    os.close(err_r)
    assert h.record(cfg)["State"]["ExitCode"] == 5
    logged = h.logs(cfg)  # the order between the two pipes is not defined (nor in Docker)
    assert [d for s, d in logged if s == "stdout"] == [b"out\n", b"out2\n"]
    assert [d for s, d in logged if s == "stderr"] == [b"err\n"]
    assert h.runc.state(cfg["id"]) is None


def test_foreground_forwards_stdin_until_eof(h: Harness) -> None:
    cfg = h.make(["cat"])
    in_r, in_w = pipe()
    out_r, out_w = pipe()
    payload = b"".join(b"line %d\n" % i for i in range(20000))  # more than a pipe holds

    def feed() -> None:
        with os.fdopen(in_w, "wb") as f:
            f.write(payload)

    collected: list[bytes] = []
    reader = threading.Thread(target=lambda: collected.append(read_all(out_r)))
    writer = threading.Thread(target=feed)
    reader.start()
    writer.start()
    code = mon.run_foreground(cfg, in_r, out_w, 2, tty=False)
    os.close(out_w)
    writer.join()
    reader.join()
    os.close(in_r)
    os.close(out_r)
    assert code == 0
    assert collected[0] == payload


def test_foreground_stdin_from_a_file(h: Harness, tmp_path: Path) -> None:
    src = tmp_path / "input"
    src.write_bytes(b"from a file\n")
    out_r, out_w = pipe()
    with src.open("rb") as f:
        code = mon.run_foreground(h.make(["cat"]), f.fileno(), out_w, 2, tty=False)
    os.close(out_w)
    assert (code, read_all(out_r)) == (0, b"from a file\n")
    os.close(out_r)


def test_foreground_survives_a_closed_stdout(h: Harness) -> None:
    cfg = h.make(["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' x; echo; echo done"])
    out_r, out_w = pipe()
    os.close(out_r)  # `pynerd run … | head -c0`
    code = mon.run_foreground(cfg, None, out_w, 2, tty=False)
    os.close(out_w)
    assert code == 0
    assert h.logs(cfg)[-1] == ("stdout", b"done\n")  # the log got everything


def test_container_closing_its_stdin_early(h: Harness) -> None:
    cfg = h.make(["head", "-n", "1"])
    in_r, in_w = pipe()
    out_r, out_w = pipe()

    def feed() -> None:
        try:
            while True:
                os.write(in_w, b"y\n" * 4096)
        except OSError:  # EPIPE once the read end is closed below
            pass

    writer = threading.Thread(target=feed)
    writer.start()
    code = mon.run_foreground(cfg, in_r, out_w, 2, tty=False)
    os.close(in_r)
    writer.join()
    os.close(in_w)
    os.close(out_w)
    assert (code, read_all(out_r)) == (0, b"y\n")
    os.close(out_r)


def test_foreground_missing_command_is_127(h: Harness) -> None:
    cfg = h.make(["nosuchcmd"])
    with pytest.raises(CommandNotFound):
        mon.run_foreground(cfg, None, 1, 2, tty=False)
    assert h.record(cfg)["State"]["ExitCode"] == 127


def test_foreground_proxies_signals(h: Harness) -> None:
    cfg = h.make(["sh", "-c", "trap 'exit 42' TERM; echo ready; sleep 30 & wait"])
    out_r, out_w = pipe()

    def send_term() -> None:
        assert os.read(out_r, 100) == b"ready\n"
        os.kill(os.getpid(), signal.SIGTERM)  # to the CLI: proxied to the container

    killer = threading.Thread(target=send_term)
    killer.start()
    code = mon.run_foreground(cfg, None, out_w, 2, tty=False, sig_proxy=True)
    killer.join()
    os.close(out_w)
    os.close(out_r)
    assert code == 42
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored


def test_foreground_sigkill_is_137(h: Harness) -> None:
    cfg = h.make(["sleep", "30"])
    threading.Timer(0.5, lambda: h.runc.kill(cfg["id"], "KILL")).start()
    assert mon.run_foreground(cfg, None, 1, 2, tty=False) == 137


class Terminal:
    """A pty standing in for the user's terminal: we type on the master side."""

    def __init__(self, rows: int = 24, cols: int = 80) -> None:
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.output = bytearray()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            if not data:
                return
            self.output += data

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait_output(self, needle: bytes, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.output:
            assert time.monotonic() < deadline, bytes(self.output)
            time.sleep(0.02)

    def close(self) -> None:
        os.close(self.slave)
        os.close(self.master)
        self.thread.join(2)


def test_tty_run_prints_and_exits(h: Harness) -> None:
    term = Terminal(rows=33, cols=101)
    attrs = termios.tcgetattr(term.slave)
    try:
        cfg = h.make(["sh", "-c", "echo hi-tty; stty size; exit 7"], tty=True)
        code = mon.run_foreground(cfg, term.slave, term.slave, term.slave, tty=True)
        assert code == 7
        term.wait_output(b"33 101")
        assert b"hi-tty\r\n" in term.output
        assert termios.tcgetattr(term.slave) == attrs  # raw mode undone
        assert h.logs(cfg)[0] == ("stdout", b"hi-tty\r\n")
    finally:
        term.close()
    h.wait_finished(cfg)


def test_tty_detach_and_reattach(h: Harness) -> None:
    term = Terminal()
    try:
        cfg = h.make(["sh"], tty=True)
        result: list[int] = []

        def run() -> None:
            result.append(mon.run_foreground(cfg, term.slave, term.slave, term.slave, tty=True))

        thread = threading.Thread(target=run)
        thread.start()
        term.type(b"echo one-$((40+2))\n")
        term.wait_output(b"one-42")
        term.type(b"\x10\x11")  # ctrl-p ctrl-q
        thread.join(10)
        assert result == [mon.DETACHED]
        assert h.record(cfg)["State"]["Status"] == "running"

        result.clear()

        def again() -> None:
            result.append(mon.attach(cfg["run_dir"], term.slave, term.slave, term.slave, tty=True))

        thread = threading.Thread(target=again)
        thread.start()
        time.sleep(0.3)
        term.type(b"exit 4\n")
        thread.join(10)
        assert result == [4]
    finally:
        term.close()
    assert h.wait_finished(cfg)["State"]["ExitCode"] == 4
