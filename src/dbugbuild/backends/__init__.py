"""The builders dbugbuild drives, each behind the small Backend protocol (base.py).

classic (the legacy builder, DOCKER_BUILDKIT=0) is the one there is; BuildKit and Podman
join it here. Each says how to build and how to read its output, and opens the debug
layer of its failures; the engine runs the commands, app.py picks the backend.
"""

from dbugbuild.backends.base import Backend, BuildInputs, DebugLayer, FailureSite
from dbugbuild.backends.classic import ClassicBackend

BACKENDS: dict[str, Backend] = {"classic": ClassicBackend()}


def backend(name: str = "classic") -> Backend:
    """The backend called `name` (only "classic" for now)."""
    return BACKENDS[name]


__all__ = ["BACKENDS", "Backend", "BuildInputs", "DebugLayer", "FailureSite", "backend"]
