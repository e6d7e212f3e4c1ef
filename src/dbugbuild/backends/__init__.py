"""The builders dbugbuild drives, each behind the small Backend protocol (base.py).

classic (the legacy builder, DOCKER_BUILDKIT=0) and podman (`podman build --layers`); BuildKit
joins them here. Each says how to build and how to read its output, and opens the debug
layer of its failures; the engine runs the commands, app.py picks the backend (choice.py).
"""

from dbugbuild.backends.base import Backend, DebugLayer, FailureSite
from dbugbuild.backends.classic import ClassicBackend
from dbugbuild.backends.podman import PodmanBackend

BACKENDS: dict[str, Backend] = {"classic": ClassicBackend(), "podman": PodmanBackend()}
# The backend whose builder writes each log family (--log reads a saved log as its builder's).
FAMILY_BACKENDS = {"classic": "classic", "buildah": "podman"}


def backend(name: str = "classic") -> Backend:
    """The backend called `name`."""
    return BACKENDS[name]


__all__ = ["BACKENDS", "FAMILY_BACKENDS", "Backend", "DebugLayer", "FailureSite", "backend"]
