"""Unit tests of what the BuildKit debug layer's mounts are made of: where the client's secrets,
ssh sockets and named contexts come from (backends.sources), the debug containers' Mount as
the API and the CLI take it, and no bind of a local path on a remote daemon."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest

from dbugbuild.backends import BuildInputs
from dbugbuild.backends.runmounts import MountContext, emulate
from dbugbuild.backends.sources import (
    SecretSource,
    SourceError,
    SSHSource,
    parse_contexts,
    parse_secret,
    parse_ssh,
    secrets_by_id,
)
from dbugbuild.dockerfile.runflags import parse_run_flags
from dbugbuild.engine import Engine, Mount
from dbugbuild.engine.connect import Connection
from dbugbuild.engine.endpoint import Endpoint
from dbugbuild.options import BuildOptions


@pytest.mark.parametrize(
    ("value", "env", "expected"),
    [
        ("id=tok,src=tok.txt", {}, SecretSource("tok", "tok.txt", None)),
        ("id=tok,source=/abs", {}, SecretSource("tok", "/abs", None)),
        ("id=tok,env=TOKEN", {}, SecretSource("tok", None, "TOKEN")),
        ("type=env,id=tok,src=TOKEN", {}, SecretSource("tok", None, "TOKEN")),
        ("type=file,id=tok,src=f", {}, SecretSource("tok", "f", None)),
        # An id alone: the variable of that name when it is set, else the file of that name.
        ("id=API_TOKEN", {"API_TOKEN": "x"}, SecretSource("API_TOKEN", None, "API_TOKEN")),
        ("id=API_TOKEN", {}, SecretSource("API_TOKEN", "API_TOKEN", None)),
        ('"id=a,b",src=f', {}, SecretSource("a,b", "f", None)),
    ],
)
def test_sources_secret(value: str, env: dict[str, str], expected: SecretSource) -> None:
    assert parse_secret(value, env) == expected


@pytest.mark.parametrize(
    "value", ["src=f", "id=a,type=ssh", "id=a,bogus=1", "id", 'id="a']
)  # fmt: skip
def test_sources_secret_refused(value: str) -> None:
    with pytest.raises(SourceError):
        parse_secret(value, {})


def test_sources_secret_later_one_wins() -> None:
    found = secrets_by_id(["id=a,src=one", "id=a,src=two"], {})
    assert found == {"a": SecretSource("a", "two", None)}


def test_sources_ssh_and_contexts() -> None:
    assert parse_ssh("default") == SSHSource("default", ())
    assert parse_ssh("gh=/run/agent.sock") == SSHSource("gh", ("/run/agent.sock",))
    assert parse_ssh("keys=a.pem,b.pem") == SSHSource("keys", ("a.pem", "b.pem"))
    assert parse_contexts(["src=../lib", "base=docker-image://busybox"]) == {
        "src": "../lib",
        "base": "docker-image://busybox",
    }
    for bad in (["noequals"], ["=x"], ["x="]):
        with pytest.raises(SourceError):
            parse_contexts(bad)


def test_mount_as_the_api_and_the_cli_take_it() -> None:
    volume = Mount("volume", "/cache", "dbugbuild-s-cache-0")
    assert volume.docker() == {
        "Target": "/cache",
        "Source": "dbugbuild-s-cache-0",
        "Type": "volume",
        "ReadOnly": False,
        "VolumeOptions": {"NoCopy": True},
    }
    assert (
        volume.cli() == '"type=volume","target=/cache","source=dbugbuild-s-cache-0","volume-nocopy"'
    )
    bind = Mount("bind", "/run/secrets/a", "/home/u/a,b", read_only=True)
    assert bind.cli() == '"type=bind","target=/run/secrets/a","source=/home/u/a,b","readonly"'
    tmpfs = Mount("tmpfs", "/t", size=1 << 20)
    assert tmpfs.docker()["TmpfsOptions"] == {"SizeBytes": 1 << 20}
    assert tmpfs.cli() == '"type=tmpfs","target=/t","tmpfs-size=1048576"'


def test_emulate_on_a_remote_daemon_binds_no_local_path(tmp_path: Path) -> None:
    """A bind of a path of this host would mount the remote host's path: not made, and said.
    (Only the locality decides here: no call reaches the remote client.)"""
    work = tmp_path
    (work / "tok.txt").write_text("s")
    (work / "one-file").write_text("f")
    sock_path = str(work / "agent.sock")
    agent = socket.socket(socket.AF_UNIX)
    agent.bind(sock_path)
    try:
        # A daemon on another machine: Engine.is_local says no without asking it.
        endpoint = Endpoint("tcp://10.1.2.3:2376", "DOCKER_HOST")
        remote = Engine(Connection(SimpleNamespace(), None, endpoint, None), {})
        inputs = BuildInputs(
            BuildOptions(secrets=("id=tok,src=tok.txt",), ssh=(f"default={sock_path}",)),
            str(work), dict(os.environ), "", None, True, print, print,
        )  # fmt: skip
        flags = parse_run_flags(
            ["--mount=type=secret,id=tok", "--mount=type=ssh", "--mount=source=one-file,target=/f"]
        )
        out = emulate(flags.mounts, MountContext(remote, inputs, "img", {}, "s", lambda _: None))
    finally:
        agent.close()
    assert out.mounts == [] and out.env == []
    assert all("NOT MOUNTED" in n or "NOT MADE" in n for n in out.notes), out.notes
    assert all("the Docker daemon is not on this host" in n for n in out.notes)
