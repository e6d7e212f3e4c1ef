"""I/O support: every docker-py failure as a DbugbuildError with one actionable sentence, so
nothing above the engine ever sees a docker-py exception."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dbugbuild.engine.sdk import docker
from dbugbuild.errors import EngineError, NoShellError


def unavailable_hint() -> str:
    return (
        "Start Docker (e.g. 'sudo systemctl start docker', or 'make setup' in a dbugbuild "
        "checkout) or point DOCKER_HOST / 'docker context use' at a running daemon"
    )


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def api_error(doing: str, exc: docker.errors.APIError) -> EngineError:
    return EngineError(
        f"the Docker daemon failed while {doing}: {exc.explanation or exc}",
        "Check the daemon's state ('docker info') and retry",
    )


def unless_missing(doing: str, call: Callable[[], object]) -> bool:
    """Run an API call on a container or image: True, or False when the object is gone."""
    try:
        call()
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        if exc.status_code == 404:
            return False
        raise api_error(doing, exc) from exc
    return True


def start_error(argv: Sequence[str], exc: docker.errors.APIError) -> EngineError:
    """A container that would not start: its program is not in the layer (no /bin/sh in an
    image FROM scratch, say), or the daemon failed."""
    text = str(exc.explanation or exc)
    if "no such file or directory" in text or "executable file not found" in text:
        return NoShellError(
            f"this layer has no {argv[0]} to run the command with",
            "It has no shell (built FROM scratch?): type the command in exec form, "
            'e.g. ["/app/server", "--check"]',
        )
    return api_error("starting a debug container", exc)
