"""podstore.py's refusals, on a store laid out as Podman 4.3's (the files and names of
/var/lib/containers/storage as a real build left them: overlay-images/images.json, the config
under `=` + base64 of its key, overlay-layers/layers.json, overlay/<layer>/diff). That it
reads a real store as `podman image inspect` does is test_fastlook_podman.py's."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from dbugbuild.engine import podstore

IMAGE = "9efabd00a651b3dea072f86b699b8a838ce33a25217623d9a63736b8d78691c8"
TOP = "795ba4d6eb17b183c3c77685bc0a5c1ef7b943340b9e11ca68d9362c7072bab0"
BASE = "a1872765e24135d64c1e2ddd5e46055135116a743c67463c8686d937ec16a67f"
CONFIG = {"Env": ["PATH=/bin", "A=1"], "WorkingDir": "/work", "User": "", "Tty": False}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="podstore reads a root's store only")


def _store(root: Path, images: list[dict[str, Any]] | None = None) -> None:
    (root / "overlay-images" / IMAGE).mkdir(parents=True)
    (root / "overlay-layers").mkdir()
    listed = images if images is not None else [{"id": IMAGE, "layer": TOP}]
    (root / "overlay-images" / "images.json").write_text(json.dumps(listed))
    key = base64.b64encode(f"sha256:{IMAGE}".encode()).decode()
    blob = {"architecture": "amd64", "os": "linux", "config": CONFIG}
    (root / "overlay-images" / IMAGE / f"={key}").write_text(json.dumps(blob))
    layers = [{"id": TOP, "parent": BASE}, {"id": BASE}]
    (root / "overlay-layers" / "layers.json").write_text(json.dumps(layers))
    for layer in (TOP, BASE):
        (root / "overlay" / layer / "diff").mkdir(parents=True)


def _env(tmp_path: Path, conf: str | None = None) -> dict[str, str]:
    path = tmp_path / "storage.conf"
    path.write_text(conf if conf is not None else f'[storage]\ngraphroot = "{tmp_path}"\n')
    return {"CONTAINERS_STORAGE_CONF": str(path)}


def test_the_image_as_the_inspect_names_it(tmp_path: Path) -> None:
    _store(tmp_path)
    upper, lower = (str(tmp_path / "overlay" / layer / "diff") for layer in (TOP, BASE))
    assert podstore.image_inspect(IMAGE[:11], _env(tmp_path)) == {
        "Id": IMAGE,
        "Architecture": "amd64",
        "Config": {"Env": ["PATH=/bin", "A=1"], "WorkingDir": "/work"},  # no empty fields
        "GraphDriver": {"Name": "overlay", "Data": {"UpperDir": upper, "LowerDir": lower}},
    }


@pytest.mark.parametrize("ref", ["busybox", "9efabd0", "9EFABD00A651", "sha256:", IMAGE + "0"])
def test_a_name_or_a_short_or_malformed_id_is_the_clis(tmp_path: Path, ref: str) -> None:
    _store(tmp_path)
    assert podstore.image_inspect(ref, _env(tmp_path)) is None


def test_a_prefix_two_images_begin_with_is_the_clis(tmp_path: Path) -> None:
    twin = IMAGE[:11] + "f" * 53
    _store(tmp_path, [{"id": IMAGE, "layer": TOP}, {"id": twin, "layer": TOP}])
    assert podstore.image_inspect(IMAGE[:11], _env(tmp_path)) is None
    assert podstore.image_inspect(IMAGE, _env(tmp_path)) is not None  # the whole id is one


def test_a_layer_folder_gone_is_the_clis(tmp_path: Path) -> None:
    _store(tmp_path)
    (tmp_path / "overlay" / BASE / "diff").rmdir()
    assert podstore.image_inspect(IMAGE, _env(tmp_path)) is None


@pytest.mark.parametrize(
    "files", ["images.json", "layers.json", "config"], ids=["images", "layers", "config"]
)
@pytest.mark.parametrize("damage", ["missing", "garbage"])
def test_a_store_file_missing_or_garbled_is_the_clis(
    tmp_path: Path, files: str, damage: str
) -> None:
    _store(tmp_path)
    found = {
        "images.json": tmp_path / "overlay-images" / "images.json",
        "layers.json": tmp_path / "overlay-layers" / "layers.json",
        "config": next((tmp_path / "overlay-images" / IMAGE).iterdir()),
    }[files]
    if damage == "missing":
        found.unlink()
    else:
        found.write_text('{"id": [')
    assert podstore.image_inspect(IMAGE, _env(tmp_path)) is None


@pytest.mark.parametrize(
    "conf",
    ['[storage]\ndriver = "vfs"\n', "[storage\ngraphroot = 1", '[storage]\ngraphroot = "rel"\n'],
    ids=["vfs", "bad-toml", "relative-root"],
)
def test_another_driver_or_an_unreadable_conf_is_the_clis(tmp_path: Path, conf: str) -> None:
    _store(tmp_path)
    assert podstore.image_inspect(IMAGE, _env(tmp_path, conf)) is None


def test_the_graphroot_by_the_files_podman_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = str(tmp_path / "none.conf")
    assert podstore.graphroot({"CONTAINERS_STORAGE_CONF": missing}) is None  # named, not there
    monkeypatch.setattr(podstore, "CONFIG_FILES", (missing,))
    assert podstore.graphroot({}) == podstore.DEFAULT_ROOT
    system = tmp_path / "etc.conf"
    system.write_text('[storage]\ndriver = "overlay"\ngraphroot = "/srv/store"\n')
    monkeypatch.setattr(podstore, "CONFIG_FILES", (missing, str(system)))
    assert podstore.graphroot({}) == "/srv/store"
    system.write_text('[storage]\ndriver = "overlay"\n')
    assert podstore.graphroot({}) == podstore.DEFAULT_ROOT
