"""The fast path of run/create parses exactly as typer does, or declines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pynerd_cli import fastrun, runopts
from pynerd_cli.context import GlobalOptions
from pynerd_cli.errors import run as run_typer
from pynerd_cli.main import app, load_command

IMG = "busybox"

# Command lines both parsers must read alike (global flags, then the command).
CORPUS: list[list[str]] = [
    ["run", IMG],
    ["run", "--rm", "--net", "none", IMG, "true"],
    ["run", "--rm", "--network=none", IMG, "true"],
    ["create", "--name", "web", IMG],
    ["create", "--name=web", "--name", "last-wins", IMG, "sh", "-c", "echo hi"],
    ["container", "run", "-d", IMG, "sleep", "60"],
    ["container", "create", "-it", IMG],
    ["run", "-it", "--rm", IMG, "sh"],
    ["run", "-dit", IMG],
    ["run", "-ti", "-e", "A=1", "-eB=2", "--env", "C=3", "--env=D=4", "-e", "E", IMG],
    ["run", "-ite", "K=V", IMG],
    ["run", "-e=X", IMG],  # click (and so typer) reads the value "=X"
    ["run", "--name", "--rm", IMG],  # the next word is the value, whatever it is
    ["run", "-v", "/tmp:/data:ro", "--mount", "type=tmpfs,target=/t", "--tmpfs", "/run", IMG],
    ["run", "-v", "vol:/data", "--volumes-from", "other", IMG],
    ["run", "-c", "512", "--cpus", "1.5", "--cpuset-cpus", "0", "-m", "64m", IMG],
    ["run", "-c512", "--memory-swap", "-1", "--pids-limit", "-1", "--shm-size", "1m", IMG],
    ["run", "--pids-limit", " 12 ", "--stop-timeout", "+3", "--health-retries", "1_0", IMG],
    ["run", "--sig-proxy", "--no-sig-proxy", IMG],
    ["run", "--no-sig-proxy", "--sig-proxy", IMG],
    ["run", "-h", "host", "--domainname", "example.org", "-u", "0:0", "-w", "/tmp", IMG],
    ["run", "--entrypoint", "", IMG, "echo", "x"],
    ["run", "-p", "8080:80", "-p", "9090:90/udp", "-P", "--expose", "80", IMG],
    ["run", "-l", "a=b", "--label", "c", "--label-file", "/nonexistent", IMG],
    ["run", "--restart", "on-failure:3", "--init", "--privileged", "--read-only", IMG],
    ["run", "--cap-add", "NET_ADMIN", "--cap-drop", "ALL", "--security-opt", "label=x", IMG],
    ["run", "--device", "/dev/null", "--sysctl", "a.b=1", "--ulimit", "nofile=1:2", IMG],
    ["run", "--health-cmd", "true", "--health-interval", "1s", "--health-timeout", "2s", IMG],
    ["run", "--health-start-period", "3s", "--no-healthcheck", "--stop-signal", "SIGINT", IMG],
    ["run", "--pull", "never", "-q", "--platform", "linux/amd64", "--cidfile", "/tmp/x", IMG],
    ["run", "--dns", "1.1.1.1", "--dns-search", "x", "--dns-option", "ndots:1", IMG],
    ["run", "--add-host", "h:1.2.3.4", "--ip", "10.0.0.2", "--mac-address", "02:42:0:0:0:2", IMG],
    ["run", "--network-alias", "a", "--net", "n1", "--network", "n2", "--group-add", "10", IMG],
    ["run", "-a", "stdout", "-a", "stderr", "--detach-keys", "ctrl-x", "--env-file", "/e", IMG],
    ["run", "--rm", IMG, "ls", "-la", "--rm", "--", "-x"],  # after the image: the command
    ["run", "--rm", "--", IMG, "--name", "x"],  # "--" ends the options
    ["run", "--", "--weird-image"],
    ["run", "-", "x"],  # "-" is an argument, not an option
    ["--data-root", "/d", "--run-root=/r", "-n", "ns", "run", IMG],
    ["--namespace=ns2", "-D", "--snapshotter", "native", "create", IMG],
    ["--debug", "--cni-path", "/c", "--cni-netconfpath", "/n", "run", IMG],
    ["--insecure-registry", "a:5000", "--insecure-registry=b", "--hosts-dir", "/h", "run", IMG],
    ["-Dn", "ns3", "run", IMG],
    ["-nns4", "container", "run", IMG],
    ["--", "run", IMG],
    ["--data-root", "--", "run", IMG],
]

# Command lines the fast path leaves to typer (help, errors, odd syntax, other commands).
DECLINED: list[list[str]] = [
    [],
    ["ps"],
    ["run"],
    ["run", "--rm"],
    ["run", "--help"],
    ["run", "--help", IMG],
    ["--help", "run", IMG],
    ["-v"],
    ["--version", "run", IMG],
    ["run", "--bogus", IMG],
    ["run", "-Z", IMG],
    ["run", "-itZ", IMG],
    ["run", "--name"],
    ["run", "-e"],
    ["run", "--rm=true", IMG],
    ["run", "--rm=false", IMG],
    ["run", "-d=true", IMG],
    ["run", "--sig-proxy=false", IMG],
    ["run", "--no-sig-proxy=true", IMG],
    ["run", IMG, "echo", "--rm=false"],  # typer's path rewrites this word, command or not
    ["run", "--cpu-shares", "lots", IMG],
    ["run", "--pids-limit=", IMG],
    ["--bogus", "run", IMG],
    ["run2", IMG],
    ["container", "ls"],
    ["container", "--help", "run", IMG],
    ["image", "run", IMG],
    ["--data-root"],
]


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any, dict[str, Any]]]:
    """Stands in for the commands' one library call: what each parser handed over."""
    calls: list[tuple[str, Any, dict[str, Any]]] = []

    def fake(name: str, detach_default: bool) -> Any:
        def call(kw: dict[str, Any], options: GlobalOptions) -> int:
            flags = {k: list(v) if isinstance(v, tuple) else v for k, v in options.flags.items()}
            calls.append((name, runopts.build_options(kw, detach_default), flags))
            return 0

        return call

    monkeypatch.setattr(runopts, "run_container", fake("run", False))
    monkeypatch.setattr(runopts, "create_container", fake("create", True))
    return calls


@pytest.mark.parametrize("argv", CORPUS, ids=" ".join)
def test_fast_path_builds_what_typer_builds(argv: list[str], captured: list[Any]) -> None:
    assert run_typer(app, list(argv)) == 0
    call = fastrun.plan(list(argv))
    assert call is not None, "the fast path declined"
    assert call() == 0
    assert len(captured) == 2
    by_typer, by_fast = captured
    assert by_fast == by_typer


@pytest.mark.parametrize("argv", DECLINED, ids=" ".join)
def test_fast_path_declines_what_it_cannot_be_sure_of(argv: list[str]) -> None:
    assert fastrun.plan(list(argv)) is None


def test_shell_completion_is_left_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    assert fastrun.plan(["run", IMG]) is not None
    monkeypatch.setenv("_PYNERD_COMPLETE", "bash_complete")
    assert fastrun.plan(["run", IMG]) is None


def _option_kinds(command: Any) -> dict[str, str]:
    kinds = {}
    for p in command.params:
        if p.param_type_name != "option":
            continue
        kind = "bool" if p.is_flag else "list" if p.multiple else p.type.name
        for opt in [*p.opts, *p.secondary_opts]:
            kinds[opt] = {"integer": runopts.INT, "text": runopts.STR}.get(kind, kind)
    return kinds


def test_fast_path_knows_every_flag_of_run_as_typer_declares_it() -> None:
    for name in ("run", "create"):
        expected = _option_kinds(load_command(name))
        assert {opt: kind for opt, (_, kind, _) in fastrun.RUN_SPEC.items()} == expected


def test_fast_path_knows_every_global_flag_but_version_and_help() -> None:
    import typer

    root = typer.main.get_command(app)
    expected = _option_kinds(root)
    del expected["-v"], expected["--version"]
    assert {opt: kind for opt, (_, kind, _) in fastrun.GLOBAL_SPEC.items()} == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--rm", "--pull", "never", "nosuch", "true"],  # the library's NotFound
        ["run", "--pull", "sometimes", "nosuch"],  # the library's InvalidArgument
        ["-n", "Bad/NS", "create", "--pull", "never", "nosuch"],  # a configuration error
        ["run", "--cpu-shares", "lots", "nosuch"],  # declined: typer's usage error
    ],
    ids=" ".join,
)
def test_failures_read_the_same_on_both_paths(argv: list[str], tmp_path: Path) -> None:
    import contextlib
    import io

    from pynerd_cli.main import run_argv

    full = ["--data-root", str(tmp_path / "d"), "--run-root", str(tmp_path / "r"), *argv]
    results = []
    for call in (run_argv, lambda a: run_typer(app, a)):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = call(list(full))
        results.append((code, out.getvalue(), err.getvalue()))
    assert results[0] == results[1]
    assert results[0][0] == 125 and results[0][2].startswith("Error: ")
