"""The fast look on real Podman (its overlay store, through the podman CLI as podlook.py looks):
the layer's folders give the probe container's LayerFacts exactly (find's hits as a set:
layer_cases.unordered), and where they cannot, the look is the container's."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import layer_cases
import podman_harness
from conftest import note_build_output, own_label
from dbugbuild.diagnosis import Questions
from dbugbuild.engine import Engine, look, podstore
from dbugbuild.engine import podlook as podlook_module
from dbugbuild.engine.podlook import PodmanLook

pytestmark = pytest.mark.podman


def _build(folder: Path, dockerfile: str, name: str) -> str:
    (folder / "Dockerfile").write_text(dockerfile)
    tag = f"localhost/dbugbuild-test-fastlook-{name}:{own_label().split('=')[1]}"
    out = podman_harness.podman(
        "build", "--layers", "--no-cache", "--label", own_label(), "-t", tag, str(folder)
    )
    note_build_output(out)
    return tag


@pytest.fixture
def podlook(podman_no_leaks: None) -> Iterator[PodmanLook]:
    engine = Engine.connect_podman(dict(os.environ))
    try:
        found = engine.podman_look()
        assert found is not None
        yield found
    finally:
        engine.close()


@pytest.fixture
def built(podlook: PodmanLook, tmp_path: Path) -> Iterator[dict[str, str]]:
    with layer_cases.built(tmp_path, _build, lambda tag: podman_harness.podman("rmi", tag)) as tags:
        yield tags


def _fast(tag: str, asked: Questions) -> Any:
    found = json.loads(podman_harness.podman("image", "inspect", tag))[0]
    return layer_cases.fast_look(found, tag, asked)


@pytest.mark.parametrize("case", list(layer_cases.CASES))
def test_podman_fast_look_equals_the_container_look(
    podlook: PodmanLook, built: dict[str, str], case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag, asked = built[case], layer_cases.CASES[case][1]
    fast = _fast(tag, asked)
    assert fast is not None, "the fast look did not apply"
    slow = podlook.layer_facts(tag, asked, 30, fast=False)
    assert layer_cases.unordered(fast) == layer_cases.unordered(slow)
    probes: list[str] = []
    real = podlook.probe
    monkeypatch.setattr(podlook, "probe", lambda *a, **k: probes.append(a[0]) or real(*a, **k))
    assert podlook.layer_facts(tag, asked, 30) == fast  # the look takes the fast way
    assert probes == []
    if case == "busybox":
        assert fast.user_id == "uid=1234(app) gid=2345(grp) groups=2345(grp),3456(extra)"
        assert not fast.path("/data/old/x").exists and fast.path("/data/new").exists
    else:
        assert fast.apt_lists == 2 and fast.path("/srv/app/orphan").owner == "UNKNOWN:UNKNOWN"


def test_podman_look_falls_back_where_the_runtime_answers(
    podlook: PodmanLook, built: dict[str, str]
) -> None:
    """/run/.containerenv and /etc/hosts are Podman's mounts: the look asks a container."""
    tag = built["busybox"]
    for asked in (Questions(paths=("/run/.containerenv",)), Questions(names=("hosts",))):
        assert _fast(tag, asked) is None
        slow = podlook.layer_facts(tag, asked, 30, fast=False)
        assert slow is not None
        assert podlook.layer_facts(tag, asked, 30) == slow
    # Through look.layer_facts too (a report's way on Podman).
    engine = Engine.connect_podman(dict(os.environ))
    try:
        asked = layer_cases.BUSYBOX_ASKED
        answer = look.layer_facts(engine, tag, asked)
        assert layer_cases.unordered(answer) == layer_cases.unordered(_fast(tag, asked))
    finally:
        engine.close()


def _as_the_store_reads(found: dict[str, Any]) -> dict[str, Any]:
    """What podstore.py reads of an image: the CLI inspect's Id, Config, Architecture, and
    its GraphDriver's name and folders."""
    data = found["GraphDriver"]["Data"]
    folders = {"UpperDir": data["UpperDir"], "LowerDir": data.get("LowerDir", "")}
    return {
        "Id": found["Id"],
        "Architecture": found["Architecture"],
        "Config": found["Config"],
        "GraphDriver": {"Name": found["GraphDriver"]["Name"], "Data": folders},
    }


def _layers_of(tag: str) -> list[str]:
    """The ids of the image and of the images under it (its build's steps, and the base: a
    Docker-format image, from `docker save | podman load`)."""
    ids = podman_harness.podman("history", "--format", "{{.ID}}", "--no-trunc", tag).split()
    named = [i.removeprefix("sha256:") for i in ids if i not in ("<missing>", "")]
    return named


def test_podman_store_read_is_the_cli_inspect(built: dict[str, str]) -> None:
    """podstore.py's read of every step's image, by its whole id and by the 11 digits the build
    prints, is what `podman image inspect` says of it (OCI and Docker-format configs)."""
    ids = list(dict.fromkeys(i for tag in built.values() for i in _layers_of(tag)))
    assert len(ids) >= 6
    busybox = podman_harness.podman("image", "inspect", "--format", "{{.Id}}", "busybox")
    assert busybox.strip() in ids  # the busybox case's base
    for image in ids:
        cli = json.loads(podman_harness.podman("image", "inspect", image))[0]
        env = {**os.environ, "CONTAINERS_CONF": podman_harness.conf()}
        for ref in (image, image[:11], f"sha256:{image}"):
            assert podstore.image_inspect(ref, env) == _as_the_store_reads(cli), ref


def test_podman_look_reads_the_store_not_the_cli(
    podlook: PodmanLook, built: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report's look by the build's short id runs no `podman image inspect` (~50 ms at the
    end of a failed build), and answers as the look through the CLI does."""
    image = podman_harness.podman("image", "inspect", "--format", "{{.Id}}", built["busybox"])
    short, asked = image.strip()[:11], layer_cases.BUSYBOX_ASKED
    ran: list[tuple[str, ...]] = []
    real = podlook_module.podman_output
    monkeypatch.setattr(
        podlook_module, "podman_output", lambda cli, env, *a: ran.append(a) or real(cli, env, *a)
    )
    read = podlook.layer_facts(short, asked, 30)
    assert read is not None and ran == []
    monkeypatch.setattr(podstore, "image_inspect", lambda ref, env: None)  # the CLI's way
    assert podlook.layer_facts(short, asked, 30) == read
    assert ran == [("image", "inspect", short)]
