"""The shell completions in completions/, run by real shells against a real store.

bash is required (the scripts are sourced and ``_pynerd`` is called as readline would
call it); zsh and fish are checked where installed (``make test`` installs them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import PYNERD, Cli
from tests.rig.images import BuiltImage

pytestmark = pytest.mark.integration

COMPLETIONS = Path(__file__).resolve().parents[2] / "completions"
BIN = str(Path(PYNERD).parent)


@pytest.fixture
def store(cli: Cli, busybox_image: BuiltImage) -> Iterator[Cli]:
    """A data root with an image, a volume, a running and two stopped containers."""
    assert cli("pull", "-q", busybox_image.ref).code == 0
    assert cli("tag", busybox_image.ref, "bb:latest").code == 0
    assert cli("volume", "create", "cache").code == 0
    for name in ("web-1", "web-2"):
        r = cli.proc("create", "--net", "none", "--name", name, "bb", "true")
        assert r.code == 0, r.err
    r = cli.proc("run", "-d", "--net", "none", "--name", "live", "bb", "sleep", "60")
    assert r.code == 0, r.err
    yield cli
    assert cli("rm", "-f", "web-1", "web-2", "live").code == 0


def bash_complete(line: str) -> list[str]:
    """COMPREPLY after a <Tab> at the end of ``line`` (words split as bash splits them)."""
    script = (
        f"source {COMPLETIONS / 'pynerd.bash'}\n"
        "COMP_LINE=$1; COMP_POINT=${#COMP_LINE}\n"
        'read -r -a COMP_WORDS <<< "$COMP_LINE"\n'
        "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n"
        '[[ $COMP_LINE == *" " ]] && COMP_CWORD=${#COMP_WORDS[@]}\n'
        "_pynerd\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    p = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script, "bash", line],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert p.returncode == 0 and p.stderr == "", p.stderr
    return [w for w in p.stdout.split("\n") if w]


def test_bash_completes_commands_subcommands_and_flags() -> None:
    assert bash_complete("pynerd ")[:3] == ["run", "exec", "ps"]
    assert set(bash_complete("pynerd co")) == {"container", "commit"}
    assert set(bash_complete("pynerd container r")) == {"restart", "rm", "remove", "rename", "run"}
    assert set(bash_complete("pynerd volume ")) >= {"create", "ls", "inspect", "rm", "prune"}
    assert bash_complete("pynerd ps --no") == ["--no-trunc"]
    assert set(bash_complete("pynerd ps -")) >= {"-a", "--all", "-q", "--quiet", "--help"}
    assert set(bash_complete("pynerd --sn")) == {"--snapshotter"}
    assert bash_complete("pynerd --snapshotter ") == ["overlayfs", "native"]
    assert bash_complete("pynerd run --restart on") == ["on-failure"]
    assert bash_complete("pynerd nosuch ") == []


def test_bash_completes_live_names(store: Cli) -> None:
    roots = f"pynerd --data-root {store.data_root} --run-root {store.run_root}"
    assert bash_complete(f"{roots} rm ") == ["live", "web-1", "web-2"]
    assert bash_complete(f"{roots} container rm -f web") == ["web-1", "web-2"]
    assert bash_complete(f"{roots} exec ") == ["live"]  # running ones only
    assert bash_complete(f"{roots} start ") == ["web-1", "web-2"]  # stopped ones only
    assert bash_complete(f"{roots} logs --tail 3 l") == ["live"]
    assert bash_complete(f"{roots} rename live ") == []  # the new name: nothing to offer
    # images: bash splits the word at ':', so only the part after it is offered
    assert "bb:latest" in bash_complete(f"{roots} rmi ")
    assert bash_complete(f"{roots} rmi bb:l") == ["latest"]
    assert bash_complete(f"{roots} run --rm b") == ["bb:latest"]
    assert bash_complete(f"{roots} run --rm bb ") == []  # the container's command
    assert bash_complete(f"{roots} volume rm ") == ["cache"]
    assert bash_complete(f"{roots} run -v c") == ["cache"]
    assert bash_complete(f"{roots} run --volumes-from w") == ["web-1", "web-2"]
    assert bash_complete(f"pynerd --data-root={store.data_root} volume inspect ") == ["cache"]
    assert set(bash_complete(f"{roots} inspect ")) >= {"live", "bb:latest", "cache"}
    assert bash_complete(f"{roots} cp web-") == ["web-1:", "web-2:"]
    # another namespace has none of them
    assert bash_complete(f"{roots} -n other rm ") == []


def test_bash_completes_networks(tmp_path: Path) -> None:
    conf = tmp_path / "cni"
    conf.mkdir()
    (conf / "pynerd-front.conflist").write_text('{"name": "front", "plugins": []}')
    line = f"pynerd --cni-netconfpath {conf} run --network "
    assert bash_complete(line) == ["bridge", "front", "host", "none"]
    assert bash_complete(f"pynerd --cni-netconfpath {conf} run --network=fr") == ["front"]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_commands_flags_and_names(store: Cli) -> None:
    roots = f"pynerd --data-root {store.data_root} --run-root {store.run_root}"

    def complete(line: str) -> list[str]:
        script = (
            f"set -gx PATH {BIN} $PATH\n"
            f"source {COMPLETIONS / 'pynerd.fish'}\n"
            'complete -C "$argv[1]" | string replace -r "\\t.*" ""\n'
            "true\n"  # string replace fails when no line had a description
        )
        p = subprocess.run(
            ["fish", "--no-config", "-c", script, line], capture_output=True, text=True
        )
        assert p.returncode == 0 and p.stderr == "", p.stderr
        return sorted(p.stdout.split())

    assert complete("pynerd co") == ["commit", "container"]
    assert complete("pynerd ps --no") == ["--no-trunc"]
    assert complete(f"{roots} rm ") == ["live", "web-1", "web-2"]
    assert complete(f"{roots} exec ") == ["live"]
    assert complete(f"{roots} rmi bb") == ["bb:latest"]
    assert complete(f"{roots} run --rm bb ") == []
    assert complete(f"{roots} volume rm ") == ["cache"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_logic(store: Cli) -> None:
    """zsh's completion builtins only exist inside a completion widget: stand-ins that
    print what they are given check the script's own logic."""
    roots = f"pynerd --data-root {store.data_root} --run-root {store.run_root}"
    stand_ins = (
        "compadd() { while [[ $# -gt 0 && $1 != -- ]]; do shift; done; shift;"
        " print -l -- $@; }\n"
        "_describe() { local a; for a in ${(P)4}; do print -r -- ${a%%:*}; done; }\n"
        "_files() { print -- '<files>'; }\n"
        "compset() { PREFIX=${PREFIX#*=}; }\n"
        "compdef() { :; }\n"
    )

    def complete(line: str) -> list[str]:
        script = (
            stand_ins + f"source {COMPLETIONS / '_pynerd'}\n"
            "words=(${=1}); [[ $1 == *' ' ]] && words+=('')\n"
            "CURRENT=$#words; PREFIX=$words[-1]\n"
            "_pynerd\n"
        )
        env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
        p = subprocess.run(
            ["zsh", "-f", "-c", script, "zsh", line], capture_output=True, text=True, env=env
        )
        assert p.stderr == "", p.stderr
        return sorted(p.stdout.split())

    subprocess.run(["zsh", "-n", str(COMPLETIONS / "_pynerd")], check=True)
    assert "container" in complete("pynerd co")
    assert "--no-trunc" in complete("pynerd ps --")
    assert complete(f"{roots} rm ") == ["live", "web-1", "web-2"]
    assert complete(f"{roots} start ") == ["web-1", "web-2"]
    assert complete(f"{roots} volume rm ") == ["cache"]
    assert complete(f"{roots} save -o ") == ["<files>"]
    assert complete(f"{roots} run --rm bb ") == []
