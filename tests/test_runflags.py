"""Tests for dbugbuild.dockerfile.runflags: a RUN's BuildKit flags, every documented mount key.
Pure; the defaults are BuildKit's (commands_runmount.go, convert_secrets.go, convert_ssh.go)."""

from __future__ import annotations

import pytest

from dbugbuild.dockerfile.runflags import (
    Mount,
    RunFlagError,
    RunFlags,
    parse_mount,
    parse_run_flags,
    parse_size,
    without_flags,
)


def _mount(**kw: object) -> Mount:
    base: dict[str, object] = dict(
        type="bind", target="", source="", from_=None, readonly=True, id="", sharing="",
        mode=None, uid=None, gid=None, required=False, size=None, env=None,
    )  # fmt: skip
    base.update(kw)
    return Mount(**base)  # type: ignore[arg-type]


def test_runflags_bind_defaults_read_only_from_the_context() -> None:
    assert parse_mount("target=/src") == _mount(target="/src")
    assert parse_mount("type=bind,src=./app/,dst=/src,rw") == _mount(
        target="/src", source="app", readonly=False
    )
    assert parse_mount("type=bind,source=/,destination=/x,from=build,ro=false") == _mount(
        target="/x", from_="build", readonly=False
    )


def test_runflags_target_spellings_and_relative_target_under_workdir() -> None:
    for key in ("target", "dst", "destination"):
        assert parse_mount(f"{key}=out", workdir="/work").target == "/work/out"
    assert parse_mount("target=//a/../b/").target == "/b"


def test_runflags_cache_defaults_id_is_the_target_writable_shared() -> None:
    m = parse_mount("type=cache,target=/root/.cache")
    assert m == _mount(type="cache", target="/root/.cache", readonly=False, id="/root/.cache",
                       sharing="shared")  # fmt: skip
    m = parse_mount(
        "type=cache,id=apt,target=/var/cache/apt,sharing=LOCKED,mode=0700,uid=10,gid=20"
    )
    assert (m.id, m.sharing, m.mode, m.uid, m.gid) == ("apt", "locked", 0o700, 10, 20)
    assert parse_mount("type=cache,target=/c,readonly").readonly
    assert parse_mount("type=cache,target=/c,from=base,source=/seed").from_ == "base"


def test_runflags_secret_defaults_and_target_and_env() -> None:
    assert parse_mount("type=secret,id=tok") == _mount(
        type="secret", target="/run/secrets/tok", id="tok"
    )
    m = parse_mount("type=secret,target=/etc/key.pem,required=true,mode=0440,uid=1,gid=2")
    assert (m.id, m.target, m.required, m.mode, m.uid, m.gid) == (
        "key.pem",
        "/etc/key.pem",
        True,
        0o440,
        1,
        2,
    )
    assert parse_mount("type=secret,src=aws").id == "aws"
    env_only = parse_mount("type=secret,id=tok,env=TOKEN")
    assert (env_only.target, env_only.env) == ("", "TOKEN")
    assert parse_mount("type=secret,id=tok,env=TOKEN,target=/t").target == "/t"
    assert parse_mount("type=secret,id=tok,required").required


def test_runflags_ssh_defaults_numbered_sockets() -> None:
    flags = parse_run_flags(["--mount=type=ssh", "--mount=type=ssh,id=gh,required=1"])
    assert [(m.id, m.target, m.required) for m in flags.mounts] == [
        ("default", "/run/buildkit/ssh_agent.0", False),
        ("gh", "/run/buildkit/ssh_agent.1", True),
    ]
    assert parse_mount("type=ssh,target=/agent,mode=0666").mode == 0o666


def test_runflags_tmpfs_size_units() -> None:
    assert parse_mount("type=tmpfs,target=/tmp,size=64m") == _mount(
        type="tmpfs", target="/tmp", readonly=False, size=64 << 20
    )
    assert [parse_size(v) for v in ("1024", "1k", "1.5KiB", "2g", "3 MB")] == [
        1024, 1024, 1536, 2 << 30, 3 << 20
    ]  # fmt: skip


def test_runflags_network_security_and_quoted_csv() -> None:
    flags = parse_run_flags(["--network=none", "--security=insecure", '--mount="target=/a,b"'])
    assert flags == RunFlags((_mount(target="/a,b"),), "none", "insecure")
    assert parse_run_flags([]) == RunFlags()


def test_runflags_expand_values_but_never_from() -> None:
    env = {"ARCH": "amd64"}
    m = parse_mount("type=cache,id=pip-${ARCH},target=/c/$ARCH", expand=lambda v: v.replace(
        "${ARCH}", env["ARCH"]).replace("$ARCH", env["ARCH"]))  # fmt: skip
    assert (m.id, m.target) == ("pip-amd64", "/c/amd64")
    with pytest.raises(RunFlagError, match="variable expansion"):
        parse_mount("target=/x,from=$STAGE")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("type=volume,target=/x", "unsupported mount type"),
        ("target=/x,bogus=1", "unexpected key 'bogus'"),
        ("target=/x,exec", "must be a key=value pair"),
        ("target=/x,required", "unexpected key 'required' for mount type 'bind'"),
        ("type=bind,target=/x,mode=0755", "mode not allowed"),
        ("type=tmpfs,target=/x,uid=1", "uid not allowed"),
        ("type=bind,target=/x,gid=1", "gid not allowed"),
        ("type=cache,target=/x,mode=9", "invalid value 9 for mode"),
        ("type=cache,target=/x,uid=-1", "invalid value -1 for uid"),
        ("type=bind,target=/x,ro=maybe", "invalid value for ro"),
        ("type=bind,target=/x,size=1m", "unexpected key 'size'"),
        ("type=tmpfs,target=/x,size=lots", "invalid value for size"),
        ("type=bind,target=/x,sharing=shared", "invalid cache sharing"),
        ("type=cache,target=/x,sharing=all", "unsupported sharing value"),
        ("type=secret,from=x,id=a", "secret mount should not have a from"),
        ("type=secret", "one of source, target required"),
        ("type=secret,src=a,id=b", "both source and id"),
        ("type=ssh,src=a", "ssh does not support source"),
        ("type=bind,target=/x,env=A", "unexpected key 'env'"),
        ("type=cache", "requires a target"),
        ("target=/", "invalid mount target"),
        ('target="/x', 'bare " in non-quoted'),
        ('"target=/x', 'missing " in quoted'),
        ('"target=/x"y', 'missing " in quoted'),
    ],
)
def test_runflags_refuses_what_buildkit_refuses(value: str, message: str) -> None:
    with pytest.raises(RunFlagError, match=message):
        parse_mount(value)


def test_runflags_refuses_unknown_flags_and_modes() -> None:
    for flags in (["--network=bridge"], ["--security=root"], ["--mount"], ["--foo=1"]):
        with pytest.raises(RunFlagError):
            parse_run_flags(flags)


def test_runflags_csv_doubled_quote_inside_a_quoted_field() -> None:
    assert parse_mount('"target=/a""b",ro').target == '/a"b'


@pytest.mark.parametrize(
    ("written", "count", "expected"),
    [
        ("--mount=type=cache,target=/c pip install x", 1, "pip install x"),
        ("--mount=type=cache,target=/c \\\n    --network=none \\\n    make \\\n  all", 2,
         "make \\\n  all"),
        ('--mount="type=secret,id=a b" cat /run/secrets/a', 1, "cat /run/secrets/a"),
        ("--mount=type=tmpfs,target=/t`\r\n  ls", 1, "ls"),
        ("echo --not-a-flag", 1, "echo --not-a-flag"),
        ("echo hi", 0, "echo hi"),
    ],
)  # fmt: skip
def test_runflags_without_flags(written: str, count: int, expected: str) -> None:
    escape = "`" if "`" in written else "\\"
    assert without_flags(written, count, escape) == expected
