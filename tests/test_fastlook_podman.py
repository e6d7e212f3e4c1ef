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
from dbugbuild.engine import Engine, look
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
