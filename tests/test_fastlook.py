"""The fast look on the real Docker daemon (overlay2): read from the layer's folders, it gives
the probe container's LayerFacts exactly (find's hits as a set: layer_cases.unordered), for
layers that hide, replace and link what lower ones hold; and where it cannot match the
container, the look falls back to the container and says what it says."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import layer_cases
from conftest import note_build_output, own_label
from dbugbuild.diagnosis import Questions
from dbugbuild.engine import Engine, look
from dbugbuild.engine.plainapi import PlainAPI

pytestmark = pytest.mark.docker


def _build(tmp_path: Path, dockerfile: str, name: str) -> str:
    """A classic build of `dockerfile`, labelled and tagged; its tag."""
    (tmp_path / "Dockerfile").write_text(dockerfile)
    tag = f"dbugbuild-test-fastlook-{name}:{own_label().split('=')[1]}"
    done = subprocess.run(
        ["docker", "build", "--no-cache", "--label", own_label(), "-t", tag, str(tmp_path)],
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    note_build_output(done.stdout + done.stderr)
    assert done.returncode == 0, done.stderr
    return tag


@pytest.fixture
def built(engine: Engine, no_leaks: None, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Both cases' images (removed at the end, their intermediate images with them)."""

    def remove(tag: str) -> object:
        return subprocess.run(["docker", "rmi", tag], capture_output=True, check=False)

    with layer_cases.built(tmp_path, _build, remove) as tags:
        yield tags


def _fast(engine: Engine, tag: str, asked: Questions) -> Any:
    found = engine.image_inspect(tag)
    assert found is not None
    return layer_cases.fast_look(found, tag, asked)


@pytest.mark.parametrize("case", list(layer_cases.CASES))
def test_fast_look_equals_the_container_look(
    engine: Engine, built: dict[str, str], case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag, asked = built[case], layer_cases.CASES[case][1]
    fast = _fast(engine, tag, asked)
    assert fast is not None, "the fast look did not apply"
    slow = look.api_layer_facts(engine, tag, asked, fast=False)
    assert layer_cases.unordered(fast) == layer_cases.unordered(slow)
    # The look itself (layer_facts) takes the fast way: no probe container.
    probes: list[str] = []
    real = engine.probe
    monkeypatch.setattr(engine, "probe", lambda *a, **k: probes.append(a[0]) or real(*a, **k))
    assert look.layer_facts(engine, tag, asked) == fast
    assert probes == []
    # The cases mean what they say (the comparison above is not between two empty answers).
    if case == "busybox":
        assert fast.user_id == "uid=1234(app) gid=2345(grp) groups=2345(grp),3456(extra)"
        assert fast.path("/opt/gone/file") is not None and not fast.path("/opt/gone/file").exists
        assert not fast.path("/data/old/x").exists and fast.path("/data/new").exists
        assert fast.path("/opt/nameless").owner == "UNKNOWN:UNKNOWN"
        assert fast.path("/home/app").owner == "app:grp"
        assert fast.command("wget") is None and fast.command("crlf") == "/usr/local/bin/crlf"
        assert fast.head("/usr/local/bin/crlf").crlf
        assert "/usr/local/bin/python3.11" in fast.similar
        assert "/a/b/c/d/e/target" in fast.elsewhere
        assert "/a/b/c/d/e/f/target" not in fast.elsewhere
    else:
        assert fast.os and fast.os.startswith("Debian GNU/Linux 12")
        assert fast.apt_lists == 2 and fast.package_managers == ("apt-get",)
        assert fast.path("/srv/app/orphan").owner == "UNKNOWN:UNKNOWN"
        assert not fast.path("/usr/share/doc/apt").exists
        assert fast.command("yes") is None


def test_fast_look_falls_back_where_the_runtime_answers(
    engine: Engine, built: dict[str, str]
) -> None:
    """/etc/hosts and /.dockerenv are the container's, not the layer's: the look asks one."""
    tag = built["busybox"]
    for asked in (
        Questions(paths=("/etc/hosts",)),
        Questions(names=("hostname",)),
        Questions(paths=("/proc/1/status",)),
        Questions(commands=("/.dockerenv",)),
    ):
        assert _fast(engine, tag, asked) is None, asked
        slow = look.api_layer_facts(engine, tag, asked, fast=False)
        assert slow is not None
        assert look.layer_facts(engine, tag, asked) == slow


def test_fast_look_falls_back_on_another_locale(
    engine: Engine, no_leaks: None, tmp_path: Path
) -> None:
    """stat's words may be translated: an image with LANG set is looked at in a container."""
    tag = _build(tmp_path, "FROM busybox\nENV LANG=de_DE.UTF-8\n", "locale")
    try:
        asked = Questions(paths=("/etc/passwd",), probe=True)
        assert _fast(engine, tag, asked) is None
        assert look.layer_facts(engine, tag, asked) == look.api_layer_facts(
            engine, tag, asked, fast=False
        )
    finally:
        subprocess.run(["docker", "rmi", tag], capture_output=True, check=False)


def _falls_back_when(
    engine: Engine,
    built: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    changed: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    """With the inspect's GraphDriver `changed` (nothing else: the probe is the daemon's), the
    look asks the probe container, whose answer is the fast look's of the real inspect."""
    tag, asked = built["busybox"], layer_cases.BUSYBOX_ASKED
    real_inspect, real_probe = engine.image_inspect, engine.probe
    probes: list[str] = []

    def inspect(ref: str) -> dict[str, Any] | None:
        found = real_inspect(ref)
        assert found is not None
        return {**found, "GraphDriver": changed(dict(found["GraphDriver"]))}

    monkeypatch.setattr(engine, "image_inspect", inspect)
    monkeypatch.setattr(engine, "probe", lambda *a, **k: probes.append(a[0]) or real_probe(*a, **k))
    answer = look.layer_facts(engine, tag, asked)
    assert probes == [tag]
    monkeypatch.undo()
    assert layer_cases.unordered(answer) == layer_cases.unordered(_fast(engine, tag, asked))


def test_look_falls_back_on_another_driver(
    engine: Engine, built: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store whose inspect names no overlay2 folders (the containerd snapshotter's, vfs):
    the probe container answers."""
    _falls_back_when(engine, built, monkeypatch, lambda driver: {**driver, "Name": "vfs"})


def test_look_reads_no_folders_this_machine_lacks(
    engine: Engine, built: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daemon in a VM or behind a tunnel names folders of its own machine: where one of them
    is not here (the lowest layer's moved under a folder this machine has not), the probe
    container answers."""

    def elsewhere(driver: dict[str, Any]) -> dict[str, Any]:
        data = dict(driver["Data"])
        *kept, lowest = data["LowerDir"].split(":")
        data["LowerDir"] = ":".join([*kept, "/dbugbuild-no-such-store" + lowest])
        return {**driver, "Data": data}

    _falls_back_when(engine, built, monkeypatch, elsewhere)


def test_fast_look_asks_the_daemon_only_the_inspect(
    built: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read needs the image's inspect and nothing else of the daemon: not its `info`
    (which Engine.is_local asks for bind mounts), 7-25 ms at the end of every failed build.
    The requests are counted on a new engine's own docker-py client (the session's engine
    may have asked is_local already, and keeps the answer)."""
    tag, asked = built["busybox"], layer_cases.BUSYBOX_ASKED
    fresh = Engine.connect(os.environ)
    monkeypatch.setattr(fresh, "probe", lambda *a, **k: pytest.fail("a probe container"))
    try:
        _check_only_the_inspect(fresh, tag, asked, monkeypatch)
    finally:
        fresh.close()


def _check_only_the_inspect(
    engine: Engine, tag: str, asked: Questions, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = (
        engine._connection.client.api
    )  # docker-py's, made now (its version request is not the look's)
    asked_for: list[str] = []
    real_send = api.send
    monkeypatch.setattr(
        api, "send", lambda req, **k: asked_for.append(req.path_url) or real_send(req, **k)
    )
    plain = engine._api
    if isinstance(plain, PlainAPI):  # a local socket: the plain requests are counted too
        real_request = plain._request
        monkeypatch.setattr(
            plain,
            "_request",
            lambda m, target, n: asked_for.append(target) or real_request(m, target, n),
        )
    assert look.layer_facts(engine, tag, asked) is not None
    paths = [url.split("?")[0] for url in asked_for]
    assert len(paths) == 1 and "/images/" in paths[0] and paths[0].endswith("/json"), paths
