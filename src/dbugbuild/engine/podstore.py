"""I/O: an image of a local Podman store read from the store's own files, as much of it as
the diagnosis' look takes from `podman image inspect` (its config, architecture and overlay
folders): the inspect is a podman process, ~50-60 ms at the end of every failed build.

Only where the answer cannot differ from the CLI's:
- a root's store (a rootless one's place has more rules: the CLI finds it), at the graphroot
  its storage.conf names (CONTAINERS_STORAGE_CONF, else /etc/containers, else
  /usr/share/containers; the default without one), with the overlay driver;
- an image given by its id or a prefix of it that one image's id alone begins with (the
  build's `--> 9efabd00a65`), in `overlay-images/images.json`.

An image's id is its config's digest, and the config lists every layer's digest: the image
with that id is the same image in any store. A store that is not the one podman uses (a
storage.conf.d drop-in, `--root`) therefore holds the build's image or nothing, and a miss
means None: the caller asks the CLI. (A short id found only in such a store could be another
image's: one chance in 16^11 for the build's, and only where the store is the wrong one.)
Anything unexpected (no such file, a JSON or TOML error, a layer folder missing, another
driver) is None too. The store writes its JSON files whole (a rename), so a read never sees
half of one.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

DEFAULT_ROOT = "/var/lib/containers/storage"
CONFIG_FILES = ("/etc/containers/storage.conf", "/usr/share/containers/storage.conf")
_HEX_PREFIX = re.compile(r"[0-9a-f]{8,64}")  # a short id (the build prints 11) up to a whole one


def image_inspect(ref: str, env: Mapping[str, str]) -> dict[str, Any] | None:
    """The image's Id, Config, Architecture and GraphDriver (its Name, UpperDir and LowerDir)
    as `podman image inspect` gives them, read from the store `env`'s podman would use; None
    where that is not certain."""
    prefix = ref.removeprefix("sha256:")
    if not _HEX_PREFIX.fullmatch(prefix) or os.geteuid() != 0:
        return None
    root = graphroot(env)
    if root is None:
        return None
    try:
        images = _json(os.path.join(root, "overlay-images", "images.json"))
        hits = [i for i in images if str(i.get("id", "")).startswith(prefix)]
        if len(hits) != 1:
            return None
        image_id, top = str(hits[0]["id"]), str(hits[0].get("layer") or "")
        key = base64.b64encode(f"sha256:{image_id}".encode()).decode()
        blob = _json(os.path.join(root, "overlay-images", image_id, f"={key}"))
        layers = {str(x["id"]): str(x.get("parent") or "") for x in _json(_layers(root))}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    folders = _chain(root, top, layers)
    if not folders or not isinstance(blob, dict):
        return None
    config = blob.get("config") or {}
    return {
        "Id": image_id,
        "Architecture": str(blob.get("architecture") or ""),
        "Config": {k: config[k] for k in _OCI_CONFIG if config.get(k)},
        "GraphDriver": {
            "Name": "overlay",
            "Data": {"UpperDir": folders[0], "LowerDir": ":".join(folders[1:])},
        },
    }


# The OCI image config's fields, as the inspect shows them: a Docker-format image's config
# (one `docker save | podman load` brought) holds the container's too (Hostname, Tty...),
# and empty ones, which the inspect leaves out.
_OCI_CONFIG = ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir",
               "Labels", "StopSignal")  # fmt: skip


def graphroot(env: Mapping[str, str]) -> str | None:
    """Where a root's podman keeps its overlay store, by the storage.conf it reads; None for
    another driver, or a file that cannot be read."""
    given = env.get("CONTAINERS_STORAGE_CONF")
    path = given or next((p for p in CONFIG_FILES if os.path.exists(p)), None)
    if path is None:
        return DEFAULT_ROOT
    try:
        storage = _storage_table(path) or {}
    except (OSError, ValueError):  # tomllib.TOMLDecodeError is a ValueError
        return None
    if not isinstance(storage, dict) or (storage.get("driver") or "overlay") != "overlay":
        return None
    root = storage.get("graphroot") or DEFAULT_ROOT
    return root if isinstance(root, str) and root.startswith("/") else None


def _storage_table(path: str) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib  # (only where there is such a file: ~2 ms)

        with open(path, "rb") as conf:
            return tomllib.load(conf).get("storage")
    raise ValueError("no tomllib before Python 3.11")  # the CLI reads the file


def _chain(root: str, top: str, parents: Mapping[str, str]) -> list[str]:
    """The image's layer folders, its own first, as the inspect's UpperDir and LowerDir name
    them; empty when one is not there."""
    folders: list[str] = []
    layer = top
    while layer:
        folder = os.path.join(root, "overlay", layer, "diff")
        if layer not in parents or not os.path.isdir(folder) or len(folders) > 500:
            return []
        folders.append(folder)
        layer = parents[layer]
    return folders


def _layers(root: str) -> str:
    return os.path.join(root, "overlay-layers", "layers.json")


def _json(path: str) -> Any:
    with open(path, "rb") as file:
        return json.loads(file.read())
