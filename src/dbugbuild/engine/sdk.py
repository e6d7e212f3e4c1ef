"""I/O: docker-py, imported when first used, not when the engine is.

docker-py with requests and urllib3 is a tenth of a second of imports. A build runs
through a CLI and needs none of it: the engine's modules name `docker` through this
module, so the import happens when the API is first called (in a thread while the build
runs: connect.py) or when a docker-py exception is matched, never before a build starts.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:
    from typing import Any


class _DockerPy:
    """Stands for the `docker` package: any attribute imports it (with its submodules)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(load(), name)


def load() -> Any:
    """docker-py, imported (once; later calls find it in sys.modules)."""
    import docker
    import docker.context
    import docker.errors
    import docker.tls
    import docker.types
    import docker.utils

    return docker


docker: Any = _DockerPy()
