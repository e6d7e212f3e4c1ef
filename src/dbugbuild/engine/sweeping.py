"""I/O: finding and removing what dbugbuild made in an engine, by its labels (`dbugbuild
clean`, a session's end): the Engine's methods for it, as a mixin."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from dbugbuild.engine.failures import api_error
from dbugbuild.engine.sdk import docker

TYPE_CHECKING = False  # not typing's: importing typing is start-up time (cli.py)
if TYPE_CHECKING:
    from typing import Any

# Everything dbugbuild creates in the daemon carries this label (value: the session id).
LABEL = "dbugbuild.session"


class SweepMixin:
    """Label-selected listing and removal over the engine's client and removal primitives."""

    _api: Any
    remove_container: Callable[[str], bool]
    remove_images: Callable[[set[str]], list[str]]
    labelled_volumes: Callable[..., list[str]]
    remove_volume: Callable[[str], bool]

    def labelled(self, *selectors: str) -> tuple[list[str], list[str]]:
        """(container ids, image ids) labelled by dbugbuild that also match every one of
        `selectors` (`KEY=VALUE` or `KEY` label filters)."""
        filters = {"label": [LABEL, *selectors]}  # the daemon ANDs label filters
        api = self._api
        try:
            containers = [str(c["Id"]) for c in api.containers(all=True, filters=filters)]
            # Podman 4.3's compat API lists no image for several label filters at once (each
            # alone matches): filter by dbugbuild's own label there, and by the rest here.
            images = [
                str(i["Id"])
                for i in api.images(all=True, filters={"label": [LABEL]})
                if all(_has_label(i.get("Labels") or {}, s) for s in selectors)
            ]
        except docker.errors.APIError as exc:
            raise api_error("listing dbugbuild's containers and images", exc) from exc
        return containers, images

    def sweep(self, *selectors: str) -> tuple[list[str], list[str]]:
        """Remove the containers and images labelled by dbugbuild that also match every one of
        `selectors` (`KEY=VALUE` or `KEY` label filters, e.g. one session's id).

        Returns the (container ids, image ids) removed: what `dbugbuild clean` reports.
        """
        containers, _ = self.labelled(*selectors)
        try:
            removed_c = [c for c in containers if self.remove_container(c)]
            # Listed after the containers are gone: a session's last commit may land meanwhile.
            removed_i = self.remove_images(set(self.labelled(*selectors)[1]))
        except docker.errors.APIError as exc:
            raise api_error("removing dbugbuild's containers and images", exc) from exc
        return removed_c, removed_i

    def sweep_volumes(self, *selectors: str) -> list[str]:
        """Remove the volumes labelled by dbugbuild that also match every one of `selectors`
        (after the containers that used them: see sweep); the names removed."""
        return [v for v in self.labelled_volumes(LABEL, *selectors) if self.remove_volume(v)]


def _has_label(labels: Mapping[str, str], selector: str) -> bool:
    """Whether labels match a `KEY=VALUE` or `KEY` filter, as the daemon matches them."""
    key, eq, value = selector.partition("=")
    return key in labels and (not eq or labels[key] == value)
