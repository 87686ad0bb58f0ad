"""The plugin executor: running a binary with the CNI environment and reading its errors."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from pynerd.network.cni.errors import CNIError
from pynerd.network.cni.exec import FakeExecutor, SubprocessExecutor, plugin_error
from pynerd.network.plugins import find_plugin
from pynerd.procs import Completed


def script(tmp_path: Path, body: str, name: str = "plugin") -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_plugin_gets_stdin_and_the_cni_variables_on_top_of_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_CALLER", "kept")
    monkeypatch.setenv("CNI_COMMAND", "stale")
    plugin = script(
        tmp_path,
        'stdin=$(cat)\nprintf \'{"cmd":"%s","caller":"%s","stdin":%s}\' '
        '"$CNI_COMMAND" "$FROM_CALLER" "$stdin"\n',
    )
    out = SubprocessExecutor().exec(plugin, {"CNI_COMMAND": "ADD"}, b'{"a": 1}')
    assert json.loads(out) == {"cmd": "ADD", "caller": "kept", "stdin": {"a": 1}}


def test_failure_carries_the_plugins_json_error(tmp_path: Path) -> None:
    err = {"cniVersion": "1.0.0", "code": 7, "msg": "bad bridge", "details": "name too long"}
    plugin = script(tmp_path, f"echo '{json.dumps(err)}'\necho noise >&2\nexit 1\n")
    with pytest.raises(CNIError) as info:
        SubprocessExecutor().exec(plugin, {}, b"{}")
    e = info.value
    assert (e.message, e.code, e.msg, e.details) == (
        "bad bridge; name too long",
        7,
        "bad bridge",
        "name too long",
    )


def test_failure_without_json_uses_stderr_or_the_status(tmp_path: Path) -> None:
    with pytest.raises(CNIError, match=r"^netplugin failed: 'oops'$"):
        SubprocessExecutor().exec(script(tmp_path, "echo oops >&2\nexit 3\n"), {}, b"")
    with pytest.raises(CNIError, match="no error message: exit status 4"):
        SubprocessExecutor().exec(script(tmp_path, "exit 4\n", "p2"), {}, b"")
    with pytest.raises(CNIError, match="error parsing its diagnostic message 'nope"):
        SubprocessExecutor().exec(script(tmp_path, "echo nope\nexit 1\n", "p3"), {}, b"")


def test_hung_plugin_times_out(tmp_path: Path) -> None:
    with pytest.raises(CNIError, match=r"timed out after 0\.2s"):
        SubprocessExecutor(timeout=0.2).exec(script(tmp_path, "exec sleep 5\n"), {}, b"")


def test_unexecutable_plugin_is_a_cni_error(tmp_path: Path) -> None:
    path = tmp_path / "plain"
    path.write_text("x")
    with pytest.raises(CNIError, match="cannot execute"):
        SubprocessExecutor().exec(str(path), {}, b"")


def test_executor_goes_through_the_runner_seam() -> None:
    class Runner:
        def __init__(self) -> None:
            self.env: Mapping[str, str] | None = None

        def run(
            self,
            args: Sequence[str],
            *,
            env: Mapping[str, str] | None = None,
            input: bytes | None = None,
            timeout: float | None = None,
        ) -> Completed:
            self.env = env
            return Completed(tuple(args), 0, b"out", b"")

    runner = Runner()
    assert SubprocessExecutor(runner).exec("/p", {"CNI_PATH": "/x"}, b"") == b"out"
    assert runner.env is not None and runner.env["CNI_PATH"] == "/x"
    assert runner.env["PATH"] == os.environ.get("PATH", runner.env["PATH"])


def test_plugin_error_ignores_non_integer_codes() -> None:
    e = plugin_error(b'{"code": "x", "msg": "m"}', b"", "exit status 1")
    assert (e.code, e.message) == (None, "m")


def test_fake_executor_echoes_prev_result_and_raises_configured_errors() -> None:
    fake = FakeExecutor(errors={("b", "DEL"): {"code": 3, "msg": "gone"}})
    prev = {"cniVersion": "1.0.0", "ips": []}
    out = fake.exec(
        "/x/a",
        {"CNI_COMMAND": "ADD"},
        json.dumps({"cniVersion": "1.0.0", "prevResult": prev}).encode(),
    )
    assert json.loads(out) == prev
    assert fake.exec("/x/a", {"CNI_COMMAND": "DEL"}, b"{}") == b""
    with pytest.raises(CNIError, match="gone") as info:
        fake.exec("/x/b", {"CNI_COMMAND": "DEL"}, b"{}")
    assert info.value.code == 3
    assert fake.commands() == [("a", "ADD"), ("a", "DEL"), ("b", "DEL")]


def test_find_plugin_searches_the_path_and_refuses_paths(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    script(second, "", "bridge")
    (first / "bridge").write_text("not executable")
    assert find_plugin("bridge", [str(first), str(second)]) == str(second / "bridge")
    assert find_plugin("macvlan", [str(second)]) is None
    for bad in ("", "../b/bridge", "/bin/sh", ".", ".."):
        assert find_plugin(bad, [str(second)]) is None
