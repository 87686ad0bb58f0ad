from __future__ import annotations

from tests.cli import Cli


def test_bool_flags_accept_docker_style_values(cli: Cli) -> None:
    assert cli("ps", "-a=true", "-q").code == 0
    assert cli("ps", "--all=false", "--no-trunc=true", "-q").code == 0
    assert cli("ps", "--all=maybe").code == 125  # not a boolean: click reports it


def test_rewrite_rules() -> None:
    from types import SimpleNamespace

    from pynerd_cli.compat import rewrite_bool_flags

    on_by_default = SimpleNamespace(
        is_flag=True,
        count=False,
        opts=["-H", "--human"],
        secondary_opts=["--no-human"],
        default=True,
    )
    off = SimpleNamespace(
        is_flag=True, count=False, opts=["-a", "--all"], secondary_opts=[], default=False
    )
    params = [on_by_default, off]
    assert rewrite_bool_flags(params, ["-H=false", "--all=true", "x"]) == [
        "--no-human",
        "--all",
        "x",
    ]
    assert rewrite_bool_flags(params, ["--all=false", "--human=1"]) == ["--human"]
    assert rewrite_bool_flags(params, ["--", "--all=false"]) == ["--", "--all=false"]
    assert rewrite_bool_flags(params, ["--name=false"]) == ["--name=false"]


def test_run_stops_rewriting_at_the_containers_command() -> None:
    """``run`` and ``exec`` take no flags after the image: the command's words are its own."""
    from types import SimpleNamespace

    from pynerd_cli.compat import rewrite_bool_flags

    rm = SimpleNamespace(
        is_flag=True, count=False, opts=["--rm"], secondary_opts=[], default=False
    )
    name = SimpleNamespace(
        is_flag=False, count=False, opts=["--name"], secondary_opts=[], param_type_name="option"
    )
    argv = ["--rm=true", "--name", "x", "busybox", "echo", "--rm=false", "--rm=true"]
    assert rewrite_bool_flags([rm, name], argv, interspersed=False) == [
        "--rm", "--name", "x", "busybox", "echo", "--rm=false", "--rm=true"
    ]  # fmt: skip
    # the value of --name is not the first argument, even when it looks like one
    assert rewrite_bool_flags([rm, name], ["--name", "--rm=true", "img"], False) == [
        "--name", "--rm=true", "img"
    ]  # fmt: skip
    # commands that take flags anywhere keep rewriting them
    assert rewrite_bool_flags([rm, name], ["img", "--rm=true"]) == ["img", "--rm"]
