"""I/O: the daemon's images as dbugbuild needs them: look up, read config and history, commit,
remove (children first, never another client's)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from dbugbuild.engine.failures import api_error, unless_missing
from dbugbuild.engine.sdk import docker

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:
    from typing import Any

_KINDS = {0: "C", 1: "A", 2: "D"}  # docker diff's Kind -> its letter


class ImagesMixin:
    """Image primitives over the engine's API (docker-py's client, or plainapi.py's requests)."""

    _api: Any

    def image_id(self, ref: str) -> str | None:
        """The id of a local image (by name or id), or None when the daemon has no such image."""
        try:
            return str(self._api.inspect_image(ref)["Id"])
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as exc:
            if exc.status_code in (400, 404):  # an invalid reference is "no such image" to us
                return None
            raise api_error("inspecting image " + ref, exc) from exc

    def remove_image(self, image_id: str) -> bool:
        """Remove an image by id without pruning its parents; False when it was already gone."""
        return unless_missing(
            "removing image " + image_id,
            lambda: self._api.remove_image(image_id, force=True, noprune=True),
        )

    def remove_images(self, image_ids: set[str]) -> list[str]:
        """Remove images children first (the daemon refuses a parent with children).

        An image that keeps a child outside the set is left where it is: on a shared daemon
        another client's build may have taken it as its cache and built on it (Engine 26
        refuses such a removal with 409 "image has dependent child images"). A conflict
        that may pass (the image still in use by a container being removed) is retried.
        """
        api = self._api
        # Podman's compat API gives ParentId without the `sha256:` its Ids carry.
        parents = {i["Id"]: _full(str(i.get("ParentId") or "")) for i in api.images(all=True)}
        left = {i for i in image_ids if i in parents}
        removed: list[str] = []
        while left:
            leaves = {i for i in left if not any(parents.get(o) == i for o in left)}
            if not leaves:  # a cycle cannot happen; do not loop forever if it did
                leaves = set(left)
            for image in sorted(leaves):
                if any(p == image and c not in image_ids for c, p in parents.items()):
                    continue  # someone else's child: removing it would fail, and is not ours
                if self._remove_image_retrying(image):
                    removed.append(image)
            left -= leaves
        return removed

    def _remove_image_retrying(self, image: str, attempts: int = 5) -> bool:
        """Remove an image and its tags; False when it was gone or still conflicts."""
        api = self._api
        untagged = False
        for attempt in range(attempts):
            try:
                for tag in api.inspect_image(image).get("RepoTags") or ():
                    api.remove_image(tag, force=True, noprune=True)
                    untagged = True
                api.remove_image(image, force=True, noprune=True)
                return True
            except docker.errors.NotFound:
                # Removing an image's last tag removes the image (a tagged prefix image):
                # it was removed, by us.
                return untagged
            except docker.errors.APIError as exc:
                if exc.status_code == 404:
                    return untagged
                if exc.status_code != 409:
                    raise api_error("removing image " + image, exc) from exc
                if "dependent child images" in str(exc.explanation or ""):
                    return False  # a child appeared meanwhile (another client's build)
                time.sleep(0.2 * (attempt + 1))
        return False

    def image_ids(self) -> set[str]:
        return {i["Id"] for i in self._api.images(all=True)}

    def image_config(self, ref: str) -> dict[str, Any] | None:
        found = self.image_inspect(ref)
        return None if found is None else dict(found.get("Config") or {})

    def image_inspect(self, ref: str) -> dict[str, Any] | None:
        """The image's whole inspect (Config, Architecture, GraphDriver...), or None when the
        daemon has no such image."""
        try:
            return dict(self._api.inspect_image(ref))
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as exc:
            if exc.status_code in (400, 404):
                return None
            raise api_error("inspecting image " + ref, exc) from exc

    def image_chain(self, ref: str) -> list[tuple[str, str]]:
        """An image and its parents, oldest first, each (id, its history's created-by text).

        The classic builder commits one image per step, each the parent of the next; a
        pulled or BuildKit-built image has no parent, so its chain is itself. [] when the
        daemon has no such image.
        """
        api = self._api
        chain: list[tuple[str, str]] = []
        try:
            created = {h.get("Id"): str(h.get("CreatedBy") or "") for h in api.history(ref)}
            image = str(api.inspect_image(ref)["Id"])
            while image and len(chain) < 10_000:  # a cycle cannot happen; do not loop if it did
                chain.append((image, created.get(image, "")))
                image = str(api.inspect_image(image).get("Parent") or "")
        except docker.errors.ImageNotFound:
            return []
        except docker.errors.APIError as exc:
            if exc.status_code in (400, 404) and not chain:
                return []
            raise api_error("reading the history of image " + ref, exc) from exc
        chain.reverse()
        return chain

    def commit(
        self, container_id: str, labels: Mapping[str, str], blank_env: Sequence[str] = ()
    ) -> str | None:
        """Commit a container to an image carrying `labels`; None when the container is gone.

        The variables named in `blank_env` (secrets) are kept out of the image's Env: the
        daemon merges the container's Env into a given one by name, so they are given empty.
        """
        import json

        changes = [f"LABEL {k}={json.dumps(v)}" for k, v in labels.items()]
        conf = {"Env": [f"{name}=" for name in blank_env]} if blank_env else None
        try:
            image = str(self._api.commit(container_id, changes=changes, conf=conf)["Id"])
            # Podman's compat API answers a bare 64-hex id, which its own image calls then
            # refuse ("cannot specify 64-byte hexadecimal strings"): give it Docker's form.
            return image if ":" in image else f"sha256:{image}"
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as exc:
            raise api_error("committing a debug container", exc) from exc

    def diff(self, container_id: str) -> list[tuple[str, str]] | None:
        """(kind, path) of what a container changed, docker diff's letters A, C and D; None
        when the container is gone."""
        try:
            raw = self._api.diff(container_id) or ()
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as exc:
            raise api_error("reading a container's changes", exc) from exc
        return [(_KINDS.get(c.get("Kind", 0), "C"), str(c["Path"])) for c in raw]


def _full(image_id: str) -> str:
    return f"sha256:{image_id}" if len(image_id) == 64 else image_id
