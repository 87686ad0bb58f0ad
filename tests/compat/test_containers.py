"""Containers through python-on-whales: run, exec, logs, wait, stop, kill, rm, inspect."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from python_on_whales import Container, DockerClient
from python_on_whales.exceptions import DockerException, NoSuchContainer

from tests.rig.images import BuiltImage

# A long-running command that exits at once on SIGTERM (`sleep` as PID 1 would ignore it
# and make every `stop` wait its full 10 s grace period).
SERVE = ["sh", "-c", "trap 'exit 0' TERM; sleep 60 & wait"]

pytestmark = pytest.mark.integration


@pytest.fixture
def bb(docker: DockerClient, busybox_image: BuiltImage) -> str:
    docker.image.pull(busybox_image.ref, quiet=True)
    return busybox_image.ref


def test_run_attached_returns_the_output_and_raises_on_failure(
    docker: DockerClient, bb: str
) -> None:
    assert docker.run(bb, ["echo", "hello"], remove=True) == "hello"
    out = docker.run(bb, ["sh", "-c", "echo $A-$B"], envs={"A": "1", "B": "two"}, remove=True)
    assert out == "1-two"
    with pytest.raises(DockerException) as info:
        docker.run(bb, ["sh", "-c", "exit 3"], remove=True)
    assert info.value.return_code == 3
    assert docker.container.list(all=True) == []  # --rm removed them all


def test_run_detached_returns_a_container_whose_inspect_parses(
    docker: DockerClient, bb: str
) -> None:
    c = docker.run(
        bb,
        ["sleep", "30"],
        detach=True,
        name="web",
        envs={"GREETING": "hi"},
        labels={"tier": "front", "n": "1"},
    )
    assert isinstance(c, Container)
    assert re.fullmatch(r"[0-9a-f]{64}", c.id)
    assert c.name == "web"
    assert c.state.running is True and c.state.pid and c.state.pid > 0
    assert c.config.cmd == ["sleep", "30"]
    assert c.config.labels == {"tier": "front", "n": "1"}
    assert "GREETING=hi" in (c.config.env or [])
    assert c.image.startswith("sha256:")
    now = datetime.now(UTC)
    assert abs((now - c.created).total_seconds()) < 120
    assert c.state.started_at is not None and c.state.started_at >= c.created
    # ps -q --no-trunc prints the full IDs inspect reports
    assert docker.container.list() == [c]
    assert [x.id for x in docker.ps(filters=[("label", "tier=front")])] == [c.id]
    assert docker.ps(filters=[("label", "tier=back")]) == []
    assert docker.container.exists("web") and c.exists()
    c.kill()
    assert docker.wait(c) == 137
    c.reload()
    assert c.state.running is False and c.state.exit_code == 137
    assert c.state.finished_at is not None and c.state.finished_at >= c.state.started_at
    c.remove()
    assert not docker.container.exists("web")


def test_create_then_start_exec_logs_stop_wait(docker: DockerClient, bb: str) -> None:
    c = docker.container.create(
        bb, ["sh", "-c", "echo one; echo two >&2; trap 'exit 0' TERM; sleep 60 & wait"]
    )
    assert c.state.status == "created"
    docker.container.start(c)
    assert docker.execute(c, ["echo", "from exec"]) == "from exec"
    assert c.execute(["sh", "-c", "echo $X"], envs={"X": "y"}) == "y"
    with pytest.raises(DockerException) as info:
        c.execute(["sh", "-c", "exit 7"])
    assert info.value.return_code == 7
    c.stop(time=5)
    assert docker.wait(c) == 0
    logs = docker.logs(c)
    assert "one" in logs and "two" in logs
    assert list(docker.logs(c, stream=True)) != []
    c.remove()


def test_logs_follow_streams_until_exit(docker: DockerClient, bb: str) -> None:
    c = docker.run(bb, ["sh", "-c", "for i in 1 2 3; do echo line$i; done"], detach=True)
    lines = [line for _, line in docker.logs(c, follow=True, stream=True)]
    assert b"".join(lines).decode().split() == ["line1", "line2", "line3"]
    assert docker.wait(c) == 0


def test_kill_with_a_signal_and_wait_several(docker: DockerClient, bb: str) -> None:
    a = docker.run(bb, ["sleep", "60"], detach=True)
    b = docker.run(bb, ["sleep", "60"], detach=True)
    docker.kill([a, b], signal="SIGKILL")
    assert docker.wait([a, b]) == [137, 137]
    docker.container.remove([a, b])
    assert docker.container.list(all=True) == []


def test_the_context_manager_stops_and_removes_the_container(docker: DockerClient, bb: str) -> None:
    with docker.run(bb, SERVE, detach=True, name="ctx") as c:
        assert c.state.running
        assert docker.container.exists("ctx")
    assert not docker.container.exists("ctx")
    # with --rm, the context manager only stops it: pynerd's monitor removes it
    with docker.run(bb, SERVE, detach=True, name="ctx-rm", remove=True) as c:
        assert c.host_config.auto_remove is True
    deadline = time.monotonic() + 10
    while docker.container.exists("ctx-rm") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not docker.container.exists("ctx-rm")


def test_volumes_bind_and_named(docker: DockerClient, bb: str, tmp_path: Path) -> None:
    host = tmp_path / "share"
    host.mkdir()
    (host / "in.txt").write_text("from host\n")
    out = docker.run(
        bb,
        ["sh", "-c", "cat /mnt/in.txt; echo back > /mnt/out.txt; echo kept > /data/f"],
        volumes=[(host, "/mnt"), ("named", "/data")],
        remove=True,
    )
    assert out == "from host"
    assert (host / "out.txt").read_text() == "back\n"
    assert docker.volume.exists("named")
    assert docker.run(bb, ["cat", "/data/f"], volumes=[("named", "/data", "ro")], remove=True) == (
        "kept"
    )
    c = docker.run(bb, ["true"], volumes=[("named", "/data")], detach=True)
    docker.wait(c)
    (mount,) = c.mounts
    assert (mount.type, mount.name, mount.destination) == ("volume", "named", "/data")
    c.remove()
    docker.volume.remove("named")


def test_errors_are_classified(docker: DockerClient, bb: str) -> None:
    assert not docker.container.exists("nosuchthing")
    with pytest.raises(NoSuchContainer):
        docker.container.inspect("nosuchthing")
    with pytest.raises(NoSuchContainer):
        docker.container.remove("nosuchthing")
    with pytest.raises(NoSuchContainer):
        docker.container.stop("nosuchthing")
    with pytest.raises(NoSuchContainer):
        docker.container.kill("nosuchthing")
    with pytest.raises(NoSuchContainer):
        docker.execute("nosuchthing", ["true"])
    with pytest.raises(NoSuchContainer):
        docker.logs("nosuchthing")
    with pytest.raises(NoSuchContainer):
        docker.wait("nosuchthing")


def test_pause_rename_restart_stats_and_run_options(docker: DockerClient, bb: str) -> None:
    c = docker.run(
        bb,
        ["sleep", "60"],
        detach=True,
        name="box",
        workdir="/tmp",
        user="nobody",
        hostname="hh",
        init=True,
        restart="on-failure:3",
        read_only=True,
        tmpfs=["/run"],
    )
    assert (c.config.working_dir, c.config.user, c.config.hostname) == (
        Path("/tmp"),
        "nobody",
        "hh",
    )
    assert c.host_config.init is True and c.host_config.readonly_rootfs is True
    assert c.host_config.restart_policy.name == "on-failure"
    assert c.host_config.restart_policy.maximum_retry_count == 3
    assert docker.execute(c, ["sh", "-c", "pwd; id -u"], workdir="/etc", user="root") == "/etc\n0"
    docker.container.pause(c)
    assert c.state.paused is True and c.state.status == "paused"
    docker.container.unpause(c)
    assert c.state.status == "running"
    docker.container.rename(c, "box2")
    assert c.name == "box2" and docker.ps(filters=[("name", "box2")]) == [c]
    (stats,) = docker.container.stats(c)
    assert stats.container_id == c.id and stats.memory_used > 0
    started = c.state.started_at
    docker.container.restart(c, time=1)
    assert c.state.running and c.state.started_at > started
    c.remove(force=True)


def test_copy_diff_commit_export_import(docker: DockerClient, bb: str, tmp_path: Path) -> None:
    c = docker.run(bb, ["sleep", "60"], detach=True)
    src = tmp_path / "f.txt"
    src.write_text("payload\n")
    docker.copy(src, (c, "/tmp/f.txt"))
    docker.copy((c, "/tmp/f.txt"), tmp_path / "back.txt")
    assert (tmp_path / "back.txt").read_text() == "payload\n"
    assert docker.container.diff(c) == {"/tmp": "C", "/tmp/f.txt": "A"}
    img = docker.container.commit(c, "committed:v1", message="msg", author="me")
    assert img.repo_tags == ["committed:v1"] and img.author == "me"
    assert docker.run(img, ["cat", "/tmp/f.txt"], remove=True) == "payload"
    docker.container.export(c, tmp_path / "fs.tar")
    imported = docker.image.import_(tmp_path / "fs.tar", "imported:v1")
    assert docker.run(imported, ["cat", "/tmp/f.txt"], remove=True) == "payload"
    c.kill()
    docker.wait(c)
    docker.container.prune()
    assert docker.container.list(all=True) == []
