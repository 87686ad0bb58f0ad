"""``import -c/--change``: Dockerfile instructions applied to a config; input sniffing."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma

import pytest

from pynerd.errors import InvalidArgument
from pynerd.images.importer import apply_changes, decompressed, parse_go_duration


def test_no_changes_give_an_empty_config() -> None:
    assert apply_changes([]) == {}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ('CMD ["sh"]', ["sh"]),
        ('CMD ["/bin/echo", "a b"]', ["/bin/echo", "a b"]),
        ("CMD echo hi", ["/bin/sh", "-c", "echo hi"]),
        ("cmd echo $HOME", ["/bin/sh", "-c", "echo $HOME"]),  # no expansion in CMD
        ("CMD [not json", ["/bin/sh", "-c", "[not json"]),
    ],
)
def test_cmd_exec_and_shell_form(change: str, expected: list[str]) -> None:
    assert apply_changes([change])["Cmd"] == expected


def test_entrypoint_resets_an_inherited_cmd_but_not_one_set_before() -> None:
    assert apply_changes(['ENTRYPOINT ["/init"]'], {"Cmd": ["old"]}) == {"Entrypoint": ["/init"]}
    cfg = apply_changes(['CMD ["x"]', "ENTRYPOINT /init --flag"])
    assert cfg == {"Cmd": ["x"], "Entrypoint": ["/bin/sh", "-c", "/init --flag"]}


@pytest.mark.parametrize(
    ("changes", "env"),
    [
        (["ENV A=b"], ["A=b"]),
        (["ENV A b c"], ["A=b c"]),  # legacy form: the rest of the line is the value
        (['ENV A="x y" B=z'], ["A=x y", "B=z"]),
        (["ENV A=1", "ENV A=2"], ["A=2"]),
        (["ENV A=1", "ENV B=$A-${A}-${C:-d}"], ["A=1", "B=1-1-d"]),
        # one instruction's pairs all see the environment from before it (as Docker)
        (["ENV A=1 B=$A"], ["A=1", "B="]),
        (["ENV A=1", "ENV A=2 B=$A"], ["A=2", "B=1"]),
        (["ENV A='$B' C=\\$D"], ["A=$B", "C=$D"]),
        (['ENV P="a\\"b"'], ['P=a"b']),
    ],
)
def test_env(changes: list[str], env: list[str]) -> None:
    assert apply_changes(changes)["Env"] == env


def test_env_keeps_existing_variables_and_replaces_in_place_order() -> None:
    cfg = apply_changes(["ENV B=2 PATH=/x:$PATH"], {"Env": ["PATH=/bin", "A=1"]})
    assert cfg["Env"] == ["A=1", "B=2", "PATH=/x:/bin"]


def test_label_workdir_user_stopsignal_volume_expose_onbuild() -> None:
    cfg = apply_changes([
        'LABEL a=1 "b c"=2',
        "WORKDIR /srv",
        "WORKDIR app",
        "USER 1000:1000",
        "STOPSIGNAL SIGINT",
        'VOLUME ["/data", "/logs"]',
        "VOLUME /cache",
        "EXPOSE 80 53/udp 8000-8001",
        "ONBUILD RUN echo hi",
    ])
    assert cfg["Labels"] == {"a": "1", "b c": "2"}
    assert cfg["WorkingDir"] == "/srv/app"
    assert cfg["User"] == "1000:1000"
    assert cfg["StopSignal"] == "SIGINT"
    assert cfg["Volumes"] == {"/data": {}, "/logs": {}, "/cache": {}}
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}}
    assert cfg["OnBuild"] == ["RUN echo hi"]


def test_workdir_uses_env() -> None:
    assert apply_changes(["ENV D=/opt", "WORKDIR $D/x/../y"])["WorkingDir"] == "/opt/y"


def test_healthcheck() -> None:
    cfg = apply_changes(["HEALTHCHECK --interval=30s --retries=3 CMD wget -q localhost"])
    assert cfg["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -q localhost"],
                                  "Interval": 30_000_000_000, "Retries": 3}
    cfg = apply_changes(['HEALTHCHECK --timeout=1m30s CMD ["true"]'])
    assert cfg["Healthcheck"] == {"Test": ["CMD", "true"], "Timeout": 90_000_000_000}
    assert apply_changes(["HEALTHCHECK NONE"])["Healthcheck"] == {"Test": ["NONE"]}


def test_changes_may_span_lines_and_carry_comments() -> None:
    cfg = apply_changes(["# a comment\nENV A=1 \\\n  B=2", "", "USER nobody"])
    assert cfg == {"Env": ["A=1", "B=2"], "User": "nobody"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("FROM busybox", "dockerfile parse error on line 1: unknown instruction: FROM"),
        ("RUN true", "unknown instruction: RUN"),
        ("FOO bar", "unknown instruction: FOO"),
        ("ENV", "ENV requires at least one argument"),
        ("ENV A", "ENV must have two arguments"),
        ("ENV A=1 B", "can't find = in 'B'"),
        ("ENV =1", "ENV names can not be blank"),
        ("CMD", "CMD requires at least one argument"),
        ("EXPOSE 80/foo", "invalid proto: foo"),
        ("EXPOSE http", "invalid containerPort: http"),
        ("EXPOSE 70000", "invalid containerPort: 70000"),
        ("STOPSIGNAL SIGNOPE", "Invalid signal: SIGNOPE"),
        ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
        ("HEALTHCHECK --interval=1us CMD x", 'Interval "1us" cannot be less than 1ms'),
        ("HEALTHCHECK --bogus=1 CMD x", "Unknown flag: bogus"),
        ("HEALTHCHECK RUN x", 'Unknown type "RUN" in HEALTHCHECK (try CMD)'),
        ("ENV A='unterminated", "matching single-quote"),
        ('VOLUME [""]', "VOLUME specified can not be an empty string"),
    ],
)
def test_invalid_changes(change: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        apply_changes([change])
    assert message in e.value.message


def test_error_names_the_line() -> None:
    with pytest.raises(InvalidArgument, match="on line 3: unknown instruction: ADD"):
        apply_changes(["ENV A=1", "USER x", "ADD . /"])


@pytest.mark.parametrize(
    ("text", "ns"),
    [("0", 0), ("1ms", 1_000_000), ("1.5s", 1_500_000_000), ("1h2m3s", 3_723_000_000_000),
     ("250us", 250_000)],
)
def test_go_durations(text: str, ns: int) -> None:
    assert parse_go_duration(text) == ns


def test_bad_go_duration() -> None:
    with pytest.raises(InvalidArgument, match='invalid duration "5"'):
        parse_go_duration("5")


@pytest.mark.parametrize("codec", ["plain", "gzip", "bzip2", "xz", "zstd"])
def test_rootfs_compression_is_sniffed(codec: str) -> None:
    data = b"tar-ish payload " * 5000
    packed = {
        "plain": lambda d: d,
        "gzip": gzip.compress,
        "bzip2": bz2.compress,
        "xz": lzma.compress,
        "zstd": lambda d: __import__("zstandard").ZstdCompressor().compress(d),
    }[codec](data)

    class Pipe(io.RawIOBase):  # not seekable, short reads: like stdin
        def __init__(self, payload: bytes) -> None:
            self.buf = io.BytesIO(payload)

        def readable(self) -> bool:
            return True

        def readinto(self, b: bytearray) -> int:  # type: ignore[override]
            chunk = self.buf.read(min(len(b), 3))
            b[: len(chunk)] = chunk
            return len(chunk)

    read = decompressed(Pipe(packed))  # type: ignore[arg-type]
    out = b""
    while chunk := read(1 << 16):
        out += chunk
    assert out == data
