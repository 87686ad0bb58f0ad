"""top, stats, attach, -it through a pty, restart policies and health checks via the CLI."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time

import pytest

from tests.cli import PYNERD, Cli

pytestmark = pytest.mark.integration


@pytest.fixture
def bb(cli: Cli, busybox_image) -> str:  # type: ignore[no-untyped-def]
    assert cli("pull", "-q", busybox_image.ref).code == 0
    yield busybox_image.ref
    ids = cli("ps", "-aq", "--no-trunc").out.split()
    if ids:
        assert cli("rm", "-f", *ids).code == 0


def argv(cli: Cli, *args: str) -> list[str]:
    return [PYNERD, "--data-root", str(cli.data_root), "--run-root", str(cli.run_root), *args]


def until(pred, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_top_and_stats(cli: Cli, bb: str) -> None:
    cli("run", "-d", "--name", "busy", "--memory", "64m", bb, "sh", "-c", "sleep 60")
    r = cli("top", "busy")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split()[:3] == ["UID", "PID", "PPID"]
    assert any(line.endswith("sleep 60") for line in lines[1:])
    r = cli("stats", "--no-stream", "busy")
    header, row = r.out.splitlines()
    assert header.split()[:3] == ["CONTAINER", "ID", "NAME"]
    assert "/ 64MiB" in row and row.split()[1] == "busy"
    out = cli("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}").out
    assert out.split()[0] == "busy" and int(out.split()[1]) >= 1


def test_run_it_through_a_pty(cli: Cli, bb: str) -> None:
    master, slave = pty.openpty()
    p = subprocess.Popen(
        argv(cli, "run", "-it", "--rm", bb, "sh"),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    os.write(master, b"sleep 30; echo interrupted\n")
    time.sleep(1.0)
    os.write(master, b"\x03")  # Ctrl-C reaches the shell's foreground job, not pynerd
    os.write(master, b"echo $((6*7)); tty; exit 5\n")
    out = b""
    deadline = time.monotonic() + 20
    while p.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                out += os.read(master, 4096)
            except OSError:
                break
    p.wait(10)
    os.close(master)
    assert p.returncode == 5, out
    assert b"42" in out and b"/dev/pts/0" in out and b"interrupted" in out


def test_attach_sees_live_output(cli: Cli, bb: str) -> None:
    cid = cli("run", "-d", bb, "sh", "-c", "sleep 0.5; echo late; exit 3").out.strip()
    r = subprocess.run(argv(cli, "attach", cid), capture_output=True, text=True, timeout=20)
    assert (r.returncode, r.stdout) == (3, "late\n")


def test_restart_policy_on_failure(cli: Cli, bb: str) -> None:
    cli("run", "-d", "--name", "flaky", "--restart", "on-failure:2", bb, "sh", "-c", "exit 1")
    assert until(
        lambda: (
            cli("inspect", "-f", "{{.RestartCount}} {{.State.Status}}", "flaky").out == "2 exited\n"
        )
    )
    assert cli("ps", "-a", "--format", "{{.Status}}").out.startswith("Exited (1)")


def test_stopped_container_is_not_restarted(cli: Cli, bb: str) -> None:
    cli("run", "-d", "--name", "always", "--restart", "always", bb, "sleep", "60")
    assert cli("stop", "-t", "1", "always").code == 0
    time.sleep(1.0)
    assert cli("inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "always").out == "exited 0\n"


def test_healthcheck_goes_healthy_and_unhealthy(cli: Cli, bb: str) -> None:
    cli(
        "run",
        "-d",
        "--name",
        "healthy",
        "--health-cmd",
        "true",
        "--health-interval",
        "200ms",
        bb,
        "sleep",
        "60",
    )
    cli(
        "run",
        "-d",
        "--name",
        "sick",
        "--health-cmd",
        "exit 1",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        bb,
        "sleep",
        "60",
    )
    assert until(
        lambda: cli("inspect", "-f", "{{.State.Health.Status}}", "healthy").out == "healthy\n"
    )
    assert until(
        lambda: cli("inspect", "-f", "{{.State.Health.Status}}", "sick").out == "unhealthy\n"
    )
    rows = dict(
        line.split(" ", 1)
        for line in cli("ps", "--format", "{{.Names}} {{.Status}}").out.splitlines()
    )
    assert rows["healthy"].endswith("(healthy)") and rows["sick"].endswith("(unhealthy)")
    health = json.loads(cli("inspect", "-f", "{{json .State.Health}}", "sick").out)
    assert health["FailingStreak"] >= 2 and health["Log"][-1]["ExitCode"] == 1
    assert (
        cli("ps", "-q", "--filter", "health=unhealthy").out.strip()
        == cli("inspect", "-f", "{{.Id}}", "sick").out.strip()[:12]
    )


def test_system_prune_removes_stopped_containers_and_unused_images(cli: Cli, bb: str) -> None:
    cli("run", "--name", "done", bb, "true")
    running = cli("run", "-d", bb, "sleep", "60").out.strip()
    r = cli("system", "prune", "-a", "-f")
    assert r.code == 0, r.err
    assert "Deleted Containers:" in r.out and "Total reclaimed space:" in r.out
    assert cli("ps", "-aq", "--no-trunc").out.split() == [running]
    assert cli("images", "-q").out != ""  # still used by the running container
    cli("rm", "-f", running)
    r = cli("system", "prune", "-a", "-f")
    assert "deleted: sha256:" in r.out and cli("images", "-q").out == ""


def test_pause_unpause_rename_and_prune(cli: Cli, bb: str) -> None:
    cli("run", "-d", "--name", "p1", bb, "sleep", "60")
    assert cli("pause", "p1").out == "p1\n"
    assert cli("ps", "--format", "{{.Status}}").out.rstrip().endswith("(Paused)")
    r = cli("exec", "p1", "true")
    assert r.code == 1 and "paused" in r.err
    assert cli("unpause", "p1").out == "p1\n"
    assert cli("inspect", "-f", "{{.State.Status}}", "p1").out == "running\n"
    assert cli("rename", "p1", "p2").code == 0
    assert cli("ps", "--format", "{{.Names}}").out == "p2\n"
    assert cli("inspect", "p1").code == 1
    cli("run", "--name", "gone", bb, "true")
    r = cli("container", "prune", "-f")
    assert "Deleted Containers:" in r.out
    assert cli("ps", "-a", "--format", "{{.Names}}").out == "p2\n"


def test_signals_reach_a_foreground_container(cli: Cli, bb: str) -> None:
    import signal

    p = subprocess.Popen(
        argv(
            cli,
            "run",
            "--rm",
            "--init",
            bb,
            "sh",
            "-c",
            "trap 'echo got TERM; exit 9' TERM; echo ready; while true; do sleep 0.1; done",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None
    assert p.stdout.readline() == "ready\n"
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=20)
    assert (p.returncode, out) == (9, "got TERM\n")


def test_port_lists_nothing_without_published_ports(cli: Cli, bb: str) -> None:
    cli("run", "-d", "--name", "noports", bb, "sleep", "60")
    assert (cli("port", "noports").code, cli("port", "noports").out) == (0, "")
    r = cli("port", "noports", "80")
    assert r.code == 1 and "No public port '80/tcp' published for noports" in r.err
