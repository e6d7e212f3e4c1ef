"""The overlay union reader (engine/layerfs.py) on folders made here: the tar form of whiteouts
and opaque folders (`.wh.<name>`, `.wh..wh..opq`, as image layers arrive and as a store may
keep them), merged listings, and symlinks resolved inside the layer's root. The kernel's own
forms (0:0 character devices, the opaque xattr) are checked on real stores in
test_fastlook*.py, against a container's view."""

from __future__ import annotations

import os
from pathlib import Path

from dbugbuild.engine.fastlook import overlay_layers
from dbugbuild.engine.layerfs import MAX_LINKS, Union


def _tree(root: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if text.startswith("->"):
            os.symlink(text[2:], path)
        else:
            path.write_text(text)
    return str(root)


def _union(tmp_path: Path) -> Union:
    lower = _tree(tmp_path / "lower", {
        "a/b/file": "lower", "gone/x": "x", "opaque/old": "old", "keep/k": "k",
        "etc/passwd": "root:x:0:0::/root:/bin/sh\n", "filedir": "a file below",
    })  # fmt: skip
    upper = _tree(tmp_path / "upper", {
        "a/new": "upper", ".wh.gone": "", "opaque/.wh..wh..opq": "", "opaque/new": "new",
        "keep/.wh.k": "", "keep/k2": "k2", "filedir/inside": "a folder above",
        "abs": "->/etc/passwd", "rel": "->../../../../etc/passwd", "loop": "->loop",
        "dirlink": "->a", "host": "->/proc/self",
    })  # fmt: skip
    return Union((upper, lower))


def test_union_hides_what_whiteouts_and_opaque_folders_hide(tmp_path: Path) -> None:
    fs = _union(tmp_path)
    assert fs.resolve("/gone") is None and fs.resolve("/gone/x") is None
    assert fs.resolve("/opaque/old") is None and fs.resolve("/opaque/new") is not None
    assert fs.resolve("/keep/k") is None
    assert sorted(fs.names(fs.root)) == [
        "a", "abs", "dirlink", "etc", "filedir", "host", "keep", "loop", "opaque", "rel"
    ]  # fmt: skip
    a = fs.resolve("/a")
    assert a is not None and sorted(fs.names(a[1])) == ["b", "new"]  # merged
    keep = fs.resolve("/keep")
    assert keep is not None and sorted(fs.names(keep[1])) == ["k2"]
    opaque = fs.resolve("/opaque")
    assert opaque is not None and sorted(fs.names(opaque[1])) == ["new"]
    found = fs.resolve("/a/b/file")
    assert found is not None and fs.read_head(found[1], 10) == b"lower"


def test_union_resolves_symlinks_inside_the_root(tmp_path: Path) -> None:
    fs = _union(tmp_path)
    for path in ("/abs", "/rel", "/dirlink/../etc/passwd", "/a/b/../../rel"):
        found = fs.resolve(path)
        assert found is not None and found[0] == ("etc", "passwd"), path
    assert fs.resolve("/loop") is None  # ELOOP, after MAX_LINKS
    assert MAX_LINKS == 40
    loop = fs.resolve("/loop", follow=False)
    assert loop is not None and loop[1].is_link
    assert fs.resolve("/host") is None  # /proc/self is the host's, not the layer's
    dirlink = fs.resolve("/dirlink/new")
    assert dirlink is not None and dirlink[0] == ("a", "new")
    assert fs.resolve("/abs/x") is None  # ENOTDIR


def test_union_takes_the_top_kind(tmp_path: Path) -> None:
    """A folder above hides the file below it."""
    fs = _union(tmp_path)
    found = fs.resolve("/filedir/inside")
    assert found is not None and found[1].is_file
    filedir = fs.resolve("/filedir")
    assert filedir is not None and filedir[1].is_dir and len(filedir[1].where) == 1


def test_overlay_layers_only_of_an_overlay_store() -> None:
    """The layer's folders, top first, from an inspect's GraphDriver (shapes as Docker 26 and
    Podman 4.3 give them); no folders for another store: the look asks a container there."""
    docker = {
        "Name": "overlay2",
        "Data": {
            "LowerDir": "/var/lib/docker/overlay2/b/diff:/var/lib/docker/overlay2/c/diff",
            "MergedDir": "/var/lib/docker/overlay2/a/merged",
            "UpperDir": "/var/lib/docker/overlay2/a/diff",
            "WorkDir": "/var/lib/docker/overlay2/a/work",
        },
    }
    assert overlay_layers(docker) == (
        "/var/lib/docker/overlay2/a/diff",
        "/var/lib/docker/overlay2/b/diff",
        "/var/lib/docker/overlay2/c/diff",
    )
    single = {"Name": "overlay", "Data": {"UpperDir": "/s/overlay/a/diff", "WorkDir": "/w"}}
    assert overlay_layers(single) == ("/s/overlay/a/diff",)
    assert overlay_layers({"Name": "overlayfs", "Data": None}) is None  # containerd's store
    assert overlay_layers({"Name": "vfs", "Data": {"UpperDir": "/x"}}) is None
    assert overlay_layers(None) is None
