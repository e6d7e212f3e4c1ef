"""Engine.inspect_soon on a real classic build: each step's image is inspected in a thread as
the step's container starts, so the diagnosis' look and the session find the failed step's
image inspected when the build ends (issue 14: nothing after the build waits for it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import note_build_output
from dbugbuild.engine import Engine
from dbugbuild.engine.build import BuildCommand

pytestmark = pytest.mark.docker

DOCKERFILE = "FROM busybox\nENV A=1\nRUN echo one > /one.txt\nRUN exit 3\n"
_IMAGE = re.compile(r"^ ---> ([0-9a-f]{12})\s*$", re.M)
_RUNNING = re.compile(r"^ ---> Running in ([0-9a-f]{12})", re.M)


def test_inspect_soon_has_the_failed_steps_image_when_the_build_ends(
    engine: Engine, no_leaks: None, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    printed: list[str] = []
    command = BuildCommand(
        "docker", ("build", "--no-cache", "."), str(tmp_path), {"DOCKER_BUILDKIT": "0"}
    )
    status = engine.build(command, lambda text, _err: printed.append(text))
    output = "".join(printed)
    note_build_output(output)  # the session's clean-up removes the step images
    engine.remove_container(_RUNNING.findall(output)[-1])  # the failed step's, kept
    assert status != 0, output
    images = _IMAGE.findall(output)
    assert len(images) == 3, output  # the parents of ENV, the first RUN and the failed RUN
    engine.settle()  # the inspects are the engine's work in a thread: settle() waits for them
    assert set(engine._inspected) == set(images)  # what each step's container ran from
    failed_from = images[-1]
    fresh = engine._client.api.inspect_image(failed_from)
    assert engine.image_inspect(failed_from) == fresh
    assert engine.image_config(failed_from) == fresh["Config"]
