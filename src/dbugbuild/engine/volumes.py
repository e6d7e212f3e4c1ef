"""I/O: the named volumes a debug session makes (a RUN's cache mount, the files of a stage it
binds), labelled like its containers and images, and removed by those labels."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import docker.errors
import docker.types

from dbugbuild.engine.failures import api_error, unless_missing


class VolumesMixin:
    """Volume primitives over the engine's docker-py client."""

    _client: Any
    remove_container: Callable[[str], bool]

    def create_volume(self, name: str, labels: Mapping[str, str]) -> str:
        """Create an empty labelled volume; its name."""
        try:
            return str(self._client.api.create_volume(name=name, labels=dict(labels))["Name"])
        except docker.errors.APIError as exc:
            raise api_error("creating a volume for the debug container", exc) from exc

    def seed_volume(self, name: str, image: str, path: str, labels: Mapping[str, str]) -> bool:
        """Fill the empty volume `name` with what `image` holds at `path`.

        The daemon copies an image's folder into an empty volume mounted over it when a
        container is created; the container is never started, and removed at once. False
        when `image` has no folder at `path` (nothing is copied then).
        """
        api = self._client.api
        mount = docker.types.Mount(path, name, type="volume")
        try:
            cid = str(
                api.create_container(
                    image=image,
                    command=["true"],
                    entrypoint=[""],
                    labels=dict(labels),
                    host_config=api.create_host_config(mounts=[mount]),
                )["Id"]
            )
        except docker.errors.APIError as exc:
            if exc.status_code in (400, 500) and "not a directory" in str(exc.explanation):
                return False
            raise api_error("copying a stage's files into a volume", exc) from exc
        self.remove_container(cid)
        return True

    def remove_volume(self, name: str) -> bool:
        """Remove a volume; False when it was already gone."""
        return unless_missing(
            "removing volume " + name,
            lambda: self._client.api.remove_volume(name, force=True),
        )

    def labelled_volumes(self, label: str, *selectors: str) -> list[str]:
        """Names of the volumes that carry `label` and match every one of `selectors`."""
        try:
            found = self._client.api.volumes(filters={"label": [label, *selectors]})
        except docker.errors.APIError as exc:
            raise api_error("listing dbugbuild's volumes", exc) from exc
        return sorted(str(v["Name"]) for v in (found or {}).get("Volumes") or ())

    def volume_exists(self, name: str) -> bool:
        return unless_missing(
            "inspecting volume " + name, lambda: self._client.api.inspect_volume(name)
        )
