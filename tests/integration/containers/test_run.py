"""run / create / start / stop / rm / ps / inspect end to end: real runc, real overlayfs."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time

import pytest

from tests.cli import Cli

pytestmark = pytest.mark.integration


@pytest.fixture
def bb(cli: Cli, busybox_image) -> str:  # type: ignore[no-untyped-def]
    """busybox pulled into this test's store; every container is removed afterwards."""
    assert cli("pull", "-q", busybox_image.ref).code == 0
    yield busybox_image.ref
    ids = cli("ps", "-aq", "--no-trunc").out.split()
    if ids:
        assert cli("rm", "-f", *ids).code == 0


def test_run_streams_stdout_and_stderr_and_returns_the_exit_code(cli: Cli, bb: str) -> None:
    r = cli.proc("run", "--rm", bb, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.code, r.out, r.err) == (3, "out\n", "err\n")
    assert cli("ps", "-aq").out == ""  # --rm removed it


def test_exit_codes_127_126_and_128_plus_signal(cli: Cli, bb: str) -> None:
    r = cli.proc("run", "--rm", bb, "nosuchcommand")
    assert r.code == 127 and "nosuchcommand" in r.err and "Traceback" not in r.err
    r = cli.proc("run", "--rm", bb, "/etc/passwd")
    assert r.code == 126, r.err
    r = cli.proc("run", "--init", "--rm", bb, "sh", "-c", "kill -9 $$")  # sh is not PID 1
    assert r.code == 137


def test_stdin_is_forwarded_and_eof_closes_it(cli: Cli, bb: str) -> None:
    r = cli.proc("run", "-i", "--rm", bb, "sh", "-c", "cat; echo done", input="hello\n")
    assert (r.code, r.out) == (0, "hello\ndone\n")


def test_image_config_user_env_workdir_and_entrypoint(cli: Cli, bb: str) -> None:
    r = cli.proc(
        "run",
        "--rm",
        "-u",
        "nobody",
        "-e",
        "A=b",
        "-w",
        "/new/dir",
        bb,
        "sh",
        "-c",
        "id -u; echo $A; pwd; echo $HOME",
    )
    assert r.out.split() == ["65534", "b", "/new/dir", "/nonexistent"], r.err
    r = cli.proc("run", "--rm", "--entrypoint", "echo", bb, "from", "entrypoint")
    assert r.out == "from entrypoint\n"
    r = cli.proc("run", "--rm", bb)  # the image's CMD ["sh"] with no stdin: exits at once
    assert r.code == 0


def test_detached_lifecycle(cli: Cli, bb: str) -> None:
    r = cli("run", "-d", "--name", "web", bb, "sh", "-c", "echo started; sleep 30")
    assert r.code == 0, r.err
    cid = r.out.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", cid)
    row = cli("ps", "--format", "{{.ID}} {{.Names}} {{.Status}}").out.split(maxsplit=2)
    assert row[:2] == [cid[:12], "web"] and row[2].startswith("Up ")
    (info,) = json.loads(cli("inspect", "web").out)
    assert info["Id"] == cid and info["Name"] == "/web" and "Pynerd" not in info
    assert info["State"]["Running"] is True and info["State"]["Pid"] > 0
    assert info["Config"]["Cmd"] == ["sh", "-c", "echo started; sleep 30"]
    assert info["Created"].endswith("Z")
    r = cli("run", "-d", "--name", "web", bb, "true")
    assert r.code == 125 and 'The container name "/web" is already in use' in r.err
    r = cli("rm", "web")
    assert r.code == 1 and "stop the container before removing" in r.err
    t0 = time.monotonic()
    assert cli("stop", "-t", "1", "web").out == "web\n"
    assert time.monotonic() - t0 < 8
    status = cli("ps", "-a", "--format", "{{.Status}}").out
    assert status.startswith("Exited (137)"), status  # sleep as PID 1 ignores SIGTERM
    assert cli("start", "web").out == "web\n"
    assert cli("inspect", "-f", "{{.State.Running}}", "web").out == "true\n"
    assert cli("kill", "web").code == 0
    assert cli("wait", "web").out == "137\n"
    assert cli("rm", "web").out == "web\n"
    assert cli("ps", "-aq").out == ""
    assert cli("run", "-d", "--name", "web", bb, "true").code == 0  # the name is free again


def test_run_detached_with_rm_removes_the_container_after_exit(cli: Cli, bb: str) -> None:
    r = cli("run", "-d", "--rm", bb, "sh", "-c", "sleep 0.2")
    assert r.code == 0, r.err
    deadline = time.monotonic() + 15
    while cli("ps", "-aq").out and time.monotonic() < deadline:
        time.sleep(0.1)
    assert cli("ps", "-aq").out == ""


def test_concurrent_creates_never_share_a_name(cli: Cli, bb: str) -> None:
    results: list[subprocess.CompletedProcess[str]] = []

    def create() -> None:
        results.append(
            subprocess.run(
                [*_argv(cli), "create", "--name", "same", bb, "true"],
                capture_output=True,
                text=True,
                check=False,
            )
        )

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.returncode for r in results) == [0, 125, 125, 125]
    assert cli("ps", "-a", "--format", "{{.Names}}").out == "same\n"


def _argv(cli: Cli) -> list[str]:
    from tests.cli import PYNERD

    return [PYNERD, *cli.argv()]


def test_killing_the_monitor_keeps_the_record_and_ps_tells_the_truth(cli: Cli, bb: str) -> None:
    cid = cli("run", "-d", bb, "sleep", "30").out.strip()
    monitor = cli.run_root / "default" / "containers" / cid / "monitor.pid"
    pid = int(monitor.read_text().split()[0])
    subprocess.run(["kill", "-9", str(pid)], check=True)
    time.sleep(0.2)
    assert cli("ps", "--format", "{{.State}}").out == "running\n"
    (info,) = json.loads(cli("inspect", cid).out)
    subprocess.run(["kill", "-9", str(info["State"]["Pid"])], check=True)
    time.sleep(0.2)
    assert cli("ps", "-a", "--format", "{{.State}} {{.Status}}").out.startswith(
        "exited Exited (255)"
    )
    assert cli("rm", cid).code == 0


def test_logs_keep_streams_apart_and_follow(cli: Cli, bb: str) -> None:
    r = cli.proc(
        "run", "--name", "talker", bb, "sh", "-c", "echo one; echo two >&2; sleep 0.2; echo three"
    )
    assert r.code == 0
    r = cli.proc("logs", "talker")
    assert (r.out, r.err) == ("one\nthree\n", "two\n")
    assert cli.proc("logs", "--tail", "1", "talker").out == "three\n"
    stamped = cli.proc("logs", "-t", "talker").out.splitlines()
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z one$", stamped[0])
    log = json.loads(
        (cli.data_root / "namespaces/default/containers")
        .glob("*/*-json.log")
        .__next__()
        .read_text()
        .splitlines()[0]
    )
    assert set(log) == {"log", "stream", "time"} and log["log"] == "one\n"
    cid = cli("run", "-d", bb, "sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.2; done").out
    r = cli.proc("logs", "-f", cid.strip())  # returns when the container exits
    assert r.out == "1\n2\n3\n"


def test_exec_runs_in_the_container_and_returns_its_code(cli: Cli, bb: str) -> None:
    cli("run", "-d", "--name", "box", "-e", "FROM_RUN=1", bb, "sleep", "30")
    r = cli.proc("exec", "box", "sh", "-c", "echo $FROM_RUN $HOSTNAME; exit 4")
    cid = json.loads(cli("inspect", "box").out)[0]["Id"]
    assert (r.code, r.out) == (4, f"1 {cid[:12]}\n")
    r = cli.proc(
        "exec",
        "-i",
        "-u",
        "nobody",
        "-w",
        "/tmp",
        "box",
        "sh",
        "-c",
        "cat; id -u; pwd",
        input="piped\n",
    )
    assert r.out == "piped\n65534\n/tmp\n"
    assert cli.proc("exec", "box", "nosuch").code == 127
    assert cli.proc("exec", "-d", "box", "touch", "/tmp/detached").code == 0
    time.sleep(0.3)
    assert cli.proc("exec", "box", "ls", "/tmp/detached").code == 0
    cli("stop", "-t", "0", "box")
    r = cli.proc("exec", "box", "true")
    assert r.code == 1 and "is not running" in r.err


def test_the_command_keeps_words_that_look_like_docker_flags(cli: Cli, bb: str) -> None:
    r = cli.proc("run", "--rm=true", "--net", "none", bb, "echo", "--rm=false", "-d=true")
    assert (r.code, r.out) == (0, "--rm=false -d=true\n"), r.err
