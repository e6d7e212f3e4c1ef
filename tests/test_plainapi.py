"""engine/plainapi.py on the real daemon: its plain requests answer what docker-py's client
answers, its failures are docker-py's own errors, and the engine's API on a local socket is
it (a report's calls need no docker-py: test_startup.py reads that from sys.modules)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from conftest import docker_api, own_label
from dbugbuild.engine import Engine
from dbugbuild.engine.plainapi import PlainAPI

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("engine")]


class _Full:
    """docker-py's client, each time it is asked for recorded: whether the plain request fell
    back on it."""

    def __init__(self) -> None:
        self.asked = 0

    def __call__(self) -> Any:
        self.asked += 1
        return docker_api()


@pytest.fixture
def plain() -> Iterator[tuple[PlainAPI, _Full]]:
    """The PlainAPI of an engine on the tests' local socket, its fall-back recorded."""
    engine = Engine.connect(os.environ)
    try:
        api = engine._api
        assert isinstance(api, PlainAPI), "the engine of a local socket is not plain"
        full = _Full()
        api._full = full
        yield api, full
    finally:
        engine.close()


@pytest.fixture
def container() -> Iterator[str]:
    key, value = own_label().split("=", 1)
    cid = docker_api().create_container("busybox", ["true"], labels={key: value})["Id"]
    yield cid
    with contextlib.suppress(docker.errors.NotFound):
        docker_api().remove_container(cid, force=True)


def test_plain_inspects_answer_docker_py_s(plain: tuple[PlainAPI, _Full], container: str) -> None:
    api, full = plain
    image = docker_api().inspect_image("busybox:latest")
    assert api.inspect_image("busybox:latest") == image
    assert api.inspect_image(image["Id"]) == image
    assert api.inspect_container(container) == docker_api().inspect_container(container)
    assert full.asked == 0


def test_plain_removal_removes(plain: tuple[PlainAPI, _Full], container: str) -> None:
    api, full = plain
    assert api.remove_container(container, force=True, v=True) is None
    with pytest.raises(docker.errors.NotFound):
        docker_api().inspect_container(container)
    assert full.asked == 0


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda api: api.inspect_image("dbugbuild-no-such-image:1"), docker.errors.ImageNotFound),
        (lambda api: api.inspect_container("dbugbuild-no-such-container"), docker.errors.NotFound),
        (lambda api: api.remove_container("dbugbuild-no-such-container"), docker.errors.NotFound),
        # A name the plain path would have to quote: docker-py's client asks, as it would.
        (lambda api: api.inspect_image("no such image?"), docker.errors.APIError),
    ],
    ids=["missing-image", "missing-container", "removing-missing", "needs-quoting"],
)
def test_what_is_not_a_plain_success_is_docker_py_s_error(
    plain: tuple[PlainAPI, _Full], call: Any, error: type[Exception]
) -> None:
    api, full = plain
    with pytest.raises(error) as raised:
        call(api)
    assert full.asked == 1
    with pytest.raises(type(raised.value)):  # the very class docker-py raises by itself
        call(docker_api())


def test_a_removal_the_daemon_refuses_is_docker_py_s_conflict(
    plain: tuple[PlainAPI, _Full],
) -> None:
    """A running container without force: 409, as docker-py raises it (leftovers.remove_left
    waits on exactly that status)."""
    api, full = plain
    key, value = own_label().split("=", 1)
    running = docker_api().create_container("busybox", ["sleep", "30"], labels={key: value})["Id"]
    try:
        docker_api().start(running)
        with pytest.raises(docker.errors.APIError) as raised:
            api.remove_container(running)
        assert raised.value.status_code == 409
        assert full.asked == 1
    finally:
        docker_api().remove_container(running, force=True)


def test_everything_else_is_docker_py_s_client(plain: tuple[PlainAPI, _Full]) -> None:
    api, full = plain
    assert api.version()["ApiVersion"] == docker_api().version()["ApiVersion"]
    assert full.asked == 1


def test_a_socket_nobody_listens_on_falls_back(tmp_path: Any) -> None:
    """A refused connection is asked again through docker-py's client (whose error, or answer,
    the engine's modules already handle)."""
    full = _Full()
    api = PlainAPI(f"unix://{tmp_path / 'no.sock'}", full)
    assert api.inspect_image("busybox:latest") == docker_api().inspect_image("busybox:latest")
    assert full.asked == 1
