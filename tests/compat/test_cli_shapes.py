"""The raw output python-on-whales parses, checked at the byte level (no SDK in between)."""

from __future__ import annotations

import json
import re

import pytest

from tests.cli import Cli
from tests.rig.images import BuiltImage

pytestmark = pytest.mark.integration

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def test_create_commands_print_only_the_id_or_name(cli: Cli, busybox_image: BuiltImage) -> None:
    # run -d on an image not yet pulled: the pull's progress goes to stderr, the ID to stdout
    r = cli.proc("run", "-d", busybox_image.ref, "sleep", "30")
    assert r.code == 0 and re.fullmatch(r"[0-9a-f]{64}\n", r.out), (r.out, r.err)
    running = r.out.strip()
    r = cli.proc("create", busybox_image.ref, "true")
    assert r.code == 0 and re.fullmatch(r"[0-9a-f]{64}\n", r.out), (r.out, r.err)
    created = r.out.strip()
    assert cli.proc("volume", "create", "--label", "a=b", "vol1").out == "vol1\n"
    assert re.fullmatch(r"[0-9a-f]{64}\n", cli.proc("volume", "create").out)
    # -q --no-trunc IDs are inspect's Id
    ps_ids = cli.proc("ps", "-aq", "--no-trunc").out.split()
    assert sorted(ps_ids) == sorted([running, created])
    docs = json.loads(cli.proc("container", "inspect", *ps_ids).out)
    assert [d["Id"] for d in docs] == ps_ids
    (image_id,) = cli.proc("images", "-q", "--no-trunc").out.split()
    (image,) = json.loads(cli.proc("image", "inspect", busybox_image.ref).out)
    assert image["Id"] == image_id
    assert cli("rm", "-f", running, created).code == 0


def test_inspect_shapes(cli: Cli, busybox_image: BuiltImage) -> None:
    cid = cli.proc("run", "-d", "-l", "n=1", busybox_image.ref, "sleep", "30").out.strip()
    (c,) = json.loads(cli.proc("inspect", cid).out)
    assert c["Config"]["Cmd"] == ["sleep", "30"] and c["Config"]["Labels"] == {"n": "1"}
    for stamp in (c["Created"], c["State"]["StartedAt"], c["State"]["FinishedAt"]):
        assert RFC3339.fullmatch(stamp), stamp
    (i,) = json.loads(cli.proc("image", "inspect", busybox_image.ref).out)
    assert RFC3339.fullmatch(i["Created"]) and isinstance(i["Config"]["Cmd"], list)
    cli.proc("volume", "create", "--label", "k=v", "vol1")
    (v,) = json.loads(cli.proc("volume", "inspect", "vol1").out)
    assert RFC3339.fullmatch(v["CreatedAt"]) and v["Labels"] == {"k": "v"}
    assert cli("rm", "-f", cid).code == 0


def test_version_json_has_client_and_server(cli: Cli) -> None:
    doc = json.loads(cli.proc("version", "--format", "{{json .}}").out)
    assert doc["Client"]["Version"] and doc["Server"]["Version"]


def test_inspect_finds_volumes_and_networks_like_docker(cli: Cli) -> None:
    """Regression: `inspect NAME` and `inspect --type volume|network` look them up too."""
    assert cli("volume", "create", "--label", "k=v", "vol1").code == 0
    r = cli("inspect", "--format", "{{.Name}} {{.Labels}}", "vol1")
    assert (r.code, r.out) == (0, "vol1 map[k:v]\n")
    r = cli("inspect", "--type", "volume", "--format", "{{.Driver}}", "vol1")
    assert (r.code, r.out) == (0, "local\n")
    r = cli("inspect", "--type", "volume", "nosuch")
    assert (r.code, r.err) == (1, "Error: No such volume: nosuch\n")
    r = cli("inspect", "--type", "image", "vol1")
    assert r.code == 1 and "No such image: vol1" in r.err
    r = cli("inspect", "vol1", "nosuch")
    assert r.err == "Error: No such object: nosuch\n"
    assert json.loads(r.out)[0]["Name"] == "vol1"
    r = cli("inspect", "--format", "{{.Name}} {{.Driver}}", "host", "none")
    assert (r.code, r.out) == (0, "host host\nnone null\n")
    r = cli("inspect", "--type", "network", "--format", "{{.Name}}", "none")
    assert (r.code, r.out) == (0, "none\n")
    r = cli("inspect", "--type", "network", "nosuch")
    assert (r.code, r.err) == (1, "Error: network nosuch not found\n")


def test_container_group_has_exec_and_top(cli: Cli, busybox_image: BuiltImage) -> None:
    """Regression: `docker container exec` and `docker container top` exist in Docker."""
    cid = cli.proc("run", "-d", busybox_image.ref, "sleep", "30").out.strip()
    r = cli.proc("container", "exec", cid, "echo", "hi")
    assert (r.code, r.out) == (0, "hi\n"), r.err
    r = cli.proc("container", "top", cid)
    assert r.code == 0 and "sleep 30" in r.out, r.err
    assert cli("rm", "-f", cid).code == 0
