"""I/O: the named volumes a debug session makes (a RUN's cache mount, the files of a stage it
binds), labelled like its containers and images, and removed by those labels."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager

from dbugbuild.engine.failures import api_error, unless_missing
from dbugbuild.engine.sdk import docker
from dbugbuild.errors import EngineError

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:
    from typing import Any


class VolumesMixin:
    """Volume primitives over the engine's API (docker-py's client, or plainapi.py's requests)."""

    _api: Any
    remove_container: Callable[[str], bool]
    deferred: Callable[[], AbstractContextManager[object]]

    def create_volume(self, name: str, labels: Mapping[str, str]) -> str:
        """Create an empty labelled volume; its name."""
        try:
            return str(self._api.create_volume(name=name, labels=dict(labels))["Name"])
        except docker.errors.APIError as exc:
            raise api_error("creating a volume for the debug container", exc) from exc

    def seed_volume(self, name: str, image: str, path: str, labels: Mapping[str, str]) -> bool:
        """Fill the empty volume `name` with what `image` holds at `path`.

        The daemon copies an image's folder into an empty volume mounted over it when a
        container is created; the container is never started, and removed at once. False
        when `image` has no folder at `path` (nothing is copied then).
        """
        mount = docker.types.Mount(path, name, type="volume")
        with self.deferred():  # created and removed, or not created: no signal cuts in two
            try:
                cid = self._mounting(image, mount, labels)
            except docker.errors.APIError as exc:
                if exc.status_code in (400, 500) and "not a directory" in str(exc.explanation):
                    return False
                raise api_error("copying a stage's files into a volume", exc) from exc
            self.remove_container(cid)
        return True

    def _mounting(self, image: str, mount: Any, labels: Mapping[str, str]) -> str:
        """A container of `image` with `mount`, created to reach the volume, never started
        (the daemon fills an empty volume from the image when it is created); its id."""
        api = self._api
        return str(
            api.create_container(
                image=image,
                command=["true"],
                entrypoint=[""],
                labels=dict(labels),
                host_config=api.create_host_config(mounts=[mount]),
            )["Id"]
        )

    def fill_volume(
        self,
        name: str,
        image: str,
        files: Sequence[tuple[str, str]],
        labels: Mapping[str, str],
    ) -> None:
        """Copy local `files` ((path on this host, path in the volume), folders too) into the
        volume `name`, owned by root as a build context is, through a container of `image`
        that is created, never started, and removed. Works on a remote daemon too."""
        import tarfile
        import tempfile

        api = self._api
        mount = docker.types.Mount("/dbugbuild-fill", name, type="volume", no_copy=True)
        with tempfile.SpooledTemporaryFile(max_size=8 << 20) as archive:
            with tarfile.open(fileobj=archive, mode="w") as tar:
                for local, inside in files:
                    info = tar.gettarinfo(local, arcname=inside)
                    info.uid = info.gid = 0
                    info.uname = info.gname = ""
                    if info.isreg():
                        with open(local, "rb") as fh:
                            tar.addfile(info, fh)
                    else:
                        tar.addfile(info)
            archive.seek(0)
            with self.deferred():  # created and removed, or not created
                try:
                    cid = self._mounting(image, mount, labels)
                except docker.errors.APIError as exc:
                    raise api_error("copying files into a volume", exc) from exc
                try:
                    api.put_archive(cid, "/dbugbuild-fill", archive)
                except docker.errors.APIError as exc:
                    raise api_error("copying files into a volume", exc) from exc
                finally:
                    self.remove_container(cid)

    def own_volume(
        self, name: str, uid: int, gid: int, mode: int, labels: Mapping[str, str]
    ) -> None:
        """Give the empty volume `name` this owner and mode, as BuildKit makes a cache mount's
        folder, without running anything: a one-folder image is imported, and the daemon
        copies the folder's owner and mode into the volume mounted over it."""
        import io
        import json
        import tarfile

        api = self._api
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo("d")
            info.type, info.uid, info.gid, info.mode = tarfile.DIRTYPE, uid, gid, mode
            tar.addfile(info)
        changes = [f"LABEL {k}={json.dumps(v)}" for k, v in labels.items()]
        try:
            answer = api.import_image_from_data(buf.getvalue(), changes=changes)
            image = str(json.loads(str(answer).strip().splitlines()[-1])["status"])
        except (docker.errors.APIError, ValueError, KeyError) as exc:
            raise EngineError(
                f"could not give the cache volume {name} its owner ({exc})",
                "Check the daemon's state ('docker info') and retry",
            ) from exc
        try:
            self.seed_volume(name, image, "/d", labels)
        finally:
            with contextlib.suppress(docker.errors.APIError):
                api.remove_image(image, force=True)

    def remove_volume(self, name: str) -> bool:
        """Remove a volume; False when it was already gone."""
        return unless_missing(
            "removing volume " + name,
            lambda: self._api.remove_volume(name, force=True),
        )

    def labelled_volumes(self, label: str, *selectors: str) -> list[str]:
        """Names of the volumes that carry `label` and match every one of `selectors`."""
        try:
            found = self._api.volumes(filters={"label": [label, *selectors]})
        except docker.errors.APIError as exc:
            raise api_error("listing dbugbuild's volumes", exc) from exc
        return sorted(str(v["Name"]) for v in (found or {}).get("Volumes") or ())

    def volume_exists(self, name: str) -> bool:
        return unless_missing("inspecting volume " + name, lambda: self._api.inspect_volume(name))
