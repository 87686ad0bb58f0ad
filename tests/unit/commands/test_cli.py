"""The CLI contract scripts rely on: output shapes, one-line errors, Docker's exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pynerd.containers.store import ContainerStore
from tests.cli import Cli

PS_HEADER = "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"


def seed(cli: Cli, cid: str, name: str, status: str, created: str, **extra: object) -> None:
    record = {
        "Id": cid,
        "Name": "/" + name,
        "Created": created,
        "Path": "sh",
        "Args": ["-c", "sleep 1"],
        "Image": "sha256:" + "0" * 64,
        "Config": {"Image": "busybox", "Labels": {"app": name}},
        "State": {
            "Status": status,
            "ExitCode": 3 if status == "exited" else 0,
            "StartedAt": created,
            "FinishedAt": "2026-01-01T00:00:09Z",
        },
        **extra,
    }
    store = ContainerStore(cli.data_root / "namespaces" / "default")
    store.records.put(cid, record)
    store.names.put(name, {"Id": cid})


def test_ps_on_an_empty_store_prints_dockers_header(cli: Cli) -> None:
    r = cli("ps")
    assert (r.code, r.out, r.err) == (0, PS_HEADER, "")


def test_ps_lists_filters_and_formats_records(cli: Cli) -> None:
    seed(cli, "a" * 64, "web", "running", "2026-01-01T00:00:00Z")
    seed(cli, "b" * 64, "job", "exited", "2026-01-01T00:00:05Z")
    r = cli("ps")
    assert r.code == 0
    lines = r.out.splitlines()
    assert lines[0].split() == [
        "CONTAINER",
        "ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
    assert len(lines) == 2 and lines[1].startswith('aaaaaaaaaaaa   busybox   "sh -c sleep 1"')
    assert lines[1].endswith("web")
    assert cli("ps", "-a", "--format", "{{.Names}}").out == "job\nweb\n"  # newest first
    assert cli("ps", "-aq").out == "b" * 12 + "\n" + "a" * 12 + "\n"
    assert cli("ps", "-aq", "--no-trunc").out == "b" * 64 + "\n" + "a" * 64 + "\n"
    assert cli(
        "ps", "-a", "--filter", "status=exited", "--format", "{{.Names}} {{.Status}}"
    ).out.startswith("job Exited (3) ")
    assert cli("ps", "-a", "-f", "label=app=web", "--format", "{{.ID}}").out == "a" * 12 + "\n"
    assert cli("ps", "-a", "-f", "name=jo", "-q").out == "b" * 12 + "\n"
    assert cli("ps", "-l", "-q").out == "b" * 12 + "\n"
    assert cli("ps", "-a", "--format", '{{.Label "app"}}').out == "job\nweb\n"
    row = json.loads(cli("ps", "-a", "--format", "json").out.splitlines()[0])
    assert row["Names"] == "job" and row["State"] == "exited"


def test_bad_filter_and_bad_template_are_one_line_exit_125(cli: Cli) -> None:
    r = cli("ps", "--filter", "colour=red")
    assert (r.code, r.err) == (1, "Error: invalid filter 'colour'\n")
    r = cli("ps", "--format", "{{.Names")
    assert r.code == 1
    assert r.err.startswith("Error: template: ") and r.err.count("\n") == 1
    r = cli("ps", "--format", "{{.NoSuchField}}")
    seed(cli, "c" * 64, "x", "running", "2026-01-01T00:00:00Z")
    r = cli("ps", "--format", "{{.NoSuchField}}")
    assert r.code == 1 and "NoSuchField" in r.err and r.err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["nosuchcommand"],
            "Error: 'nosuchcommand' is not a pynerd command. See 'pynerd --help'\n",
        ),
        (["ps", "--bogus"], "Error: unknown flag: --bogus\n"),
        (["ps", "-n", "notanumber"], None),
    ],
)
def test_usage_errors_exit_125_not_2(cli: Cli, args: list[str], message: str | None) -> None:
    r = cli(*args)
    assert r.code == 125
    assert "Traceback" not in r.err
    if message:
        assert r.err == message


def test_config_error_is_one_line_naming_key_and_file(cli: Cli, tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('snapshoter = "native"\n')
    r = cli("ps", env={"PYNERD_TOML": str(toml)})
    assert r.code == 1
    assert r.err == f"Error: unknown key 'snapshoter' in {toml}\n"


def test_help_groups_commands_like_docker(cli: Cli) -> None:
    r = cli.proc("--help", raw=True)
    assert r.code == 0
    assert "Usage:  pynerd [OPTIONS] COMMAND" in r.out
    common = r.out.index("Common Commands:")
    management = r.out.index("Management Commands:")
    assert common < r.out.index("  ps ") < management < r.out.index("  system ")
    assert "Global Options:" in r.out


def test_subcommand_help_and_version_flag(cli: Cli) -> None:
    r = cli.proc("ps", "--help", raw=True)
    assert r.code == 0 and "--no-trunc" in r.out and "--filter" in r.out
    r = cli.proc("-v", raw=True)
    assert r.code == 0 and r.out.startswith("pynerd version ")


def test_unexpected_errors_have_no_traceback_unless_debug(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    # the data root is a regular file: reading state fails in an unplanned way
    r = cli.proc(
        "--data-root",
        str(blocker / "sub"),
        "--run-root",
        str(tmp_path / "r"),
        "system",
        "info",
        raw=True,
        env={"PATH": "/nonexistent"},
    )
    assert "Traceback" not in r.err
    r = cli.proc("-D", "ps", "--format", "{{.X", raw=True)
    assert r.code == 1 and "Traceback" in r.err


def test_version_json_has_client_and_server_sections(cli: Cli) -> None:
    r = cli("version", "--format", "{{json .}}")
    assert r.code == 0, r.err
    v = json.loads(r.out)
    assert set(v) == {"Client", "Server"}
    assert v["Client"]["Version"] == v["Server"]["Version"]
    assert {c["Name"] for c in v["Server"]["Components"]} >= {"pynerd", "runc", "cni-plugins"}
    assert cli("version", "--format", "{{.Client.Version}}").out.strip() == v["Client"]["Version"]


def test_info_json_reports_storage_and_counts(cli: Cli) -> None:
    seed(cli, "d" * 64, "one", "running", "2026-01-01T00:00:00Z")
    r = cli("info", "--format", "{{json .}}")
    assert r.code == 0, r.err
    i = json.loads(r.out)
    assert i["Driver"] == "overlayfs"
    assert i["DockerRootDir"] == str(cli.data_root)
    assert (i["Containers"], i["ContainersRunning"], i["Images"]) == (1, 1, 0)
    assert i["CgroupVersion"] in ("1", "2")
    r = cli("--snapshotter", "native", "system", "info", "--format", "{{.Driver}}")
    assert r.out == "native\n"


def test_namespaces_keep_containers_apart(cli: Cli) -> None:
    seed(cli, "e" * 64, "mine", "running", "2026-01-01T00:00:00Z")
    assert cli("ps", "-q").out == "e" * 12 + "\n"
    assert cli("-n", "other", "ps", "-q").out == ""
    assert cli("ps", "-q", env={"PYNERD_NAMESPACE": "other"}).out == ""


def test_exit_codes_are_dockers_per_command(cli: Cli) -> None:
    """Docker's client: a failing run/create exits 125, any other failing command 1."""
    r = cli("rm", "nosuch")
    assert (r.code, r.err) == (1, "Error: No such container: nosuch\n")
    assert cli("container", "rm", "nosuch").code == 1
    assert cli("network", "rm", "nosuch").code == 1
    assert cli.proc("run", "--rm", "nosuch-image:1", "true").code == 125
    assert cli.proc("container", "create", "--pull", "never", "nosuch-image:1").code == 125
    assert cli("ps", "--nosuchflag").code == 125  # usage errors: 125 everywhere
    # -f: a missing container is reported yet no failure, a missing image silent (20.10)
    r = cli("rm", "-f", "nosuch")
    assert (r.code, r.out, r.err) == (0, "", "Error: No such container: nosuch\n")
    r = cli("rmi", "-f", "nosuch:1")
    assert (r.code, r.out, r.err) == (0, "", "")
    assert cli("rmi", "nosuch:1").code == 1


def test_exit_code_finds_the_command_after_global_flags() -> None:
    from pynerd_cli.errors import exit_code

    from pynerd.errors import Conflict, ContainerExit

    e = Conflict("x")
    assert exit_code(e, ["--data-root", "/d", "-n", "run", "rm", "x"]) == 1  # namespace "run"
    assert exit_code(e, ["--data-root", "/d", "container", "run", "img"]) == 125
    assert exit_code(e, ["-D", "create", "img"]) == 125
    assert exit_code(ContainerExit(3), ["start", "-a", "c"]) == 3
