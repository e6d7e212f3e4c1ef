"""The layers the fast look (engine/fastlook.py) is checked on, for both engines: each case a
Dockerfile whose last layers change what lower ones hold, and the Questions to ask of it.

Every file here is built for real (Docker's classic builder, `podman build`), and the fast
look's answer is compared with the probe container's on the same image (tests/test_fastlook*.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from dbugbuild.diagnosis import LayerFacts, Questions
from dbugbuild.engine.fastlook import fast_layer_facts, overlay_layers

BUSYBOX = """\
FROM busybox
RUN mkdir -p /opt/gone /opt/keep /data/old /usr/local/bin /home/app \\
 && echo a > /opt/gone/file && echo b > /opt/keep/file && echo old > /data/old/x \\
 && echo gone > /etc/gone.conf
RUN rm -rf /opt/gone /etc/gone.conf /bin/wget /data && mkdir -p /data && echo new > /data/new
RUN mkdir -p /a/b/c/d/e/f && echo 6 > /a/b/c/d/e/target && echo 7 > /a/b/c/d/e/f/target \\
 && ln -s ../../etc/passwd /opt/rel && ln -s /etc/passwd /opt/abs \\
 && ln -s /opt/loop2 /opt/loop1 && ln -s /opt/loop1 /opt/loop2 \\
 && ln -s ../../../../../../../etc/group /opt/escape && ln -s /host/nowhere /opt/dangling \\
 && ln -s /opt/keep /linkdir && ln -s ../opt/abs /home/chain \\
 && echo 'app:x:1234:2345::/home/app:/bin/sh' >> /etc/passwd \\
 && echo 'grp:x:2345:' >> /etc/group && echo 'extra:x:3456:root,app' >> /etc/group \\
 && chown 1234:2345 /home/app && touch /opt/nameless && chown 4321:5432 /opt/nameless \\
 && chmod 640 /opt/nameless && mkfifo /opt/fifo && chmod 1777 /data \\
 && printf '#!/bin/sh\\r\\necho hi\\r\\n' > /usr/local/bin/crlf \\
 && printf '#!  /usr/bin/env   python3 -u\\nprint(1)\\n' > /usr/local/bin/envpy \\
 && printf '#!relative/interp\\n' > /usr/local/bin/relshebang \\
 && chmod 755 /usr/local/bin/crlf /usr/local/bin/envpy /usr/local/bin/relshebang \\
 && ln -s /bin/busybox /usr/local/bin/python3.11 && mkdir /usr/local/bin/python3-dir \\
 && echo x > /usr/local/bin/python3-plain && echo x > /home/app/data.txt
USER app
WORKDIR /home/app
"""

BUSYBOX_ASKED = Questions(
    commands=("sh", "wget", "ls", "crlf", "envpy", "relshebang", "python3", "/opt/abs",
              "/opt/rel", "../../bin/busybox", "/opt/fifo", "nosuch"),
    paths=("/opt/gone/file", "/opt/keep/file", "/data/old/x", "/data/new", "/opt/rel",
           "/opt/abs", "/opt/loop1", "/opt/escape", "/opt/dangling", "/linkdir/file",
           "/linkdir/../keep/file", "/opt/nameless", "/home/app", "/opt/fifo", "data.txt",
           "../chain", "/no/such/dir/at/all", "/etc/gone.conf", "/a/b/c/d/e/f/target"),
    names=("target", "file", "python3", "x", "new", "gone.conf", "wget", "dir"),
    probe=True,
)  # fmt: skip

DEBIAN = """\
FROM debian:bookworm
RUN echo 'svc:x:1500:1500::/srv:/bin/sh' >> /etc/passwd && echo 'svc:x:1500:' >> /etc/group \\
 && mkdir -p /srv/app && chown 1500:1500 /srv/app && touch /srv/app/orphan \\
 && chown 7777:8888 /srv/app/orphan && echo x > /srv/app/empty-not
RUN rm -rf /usr/share/doc && mkdir /usr/share/doc && echo d > /usr/share/doc/only \\
 && rm /usr/bin/yes && ln -s /bin/bash /usr/local/bin/python3.11 \\
 && printf '#!/usr/bin/env python3\\r\\n' > /usr/local/bin/tool && chmod 755 /usr/local/bin/tool \\
 && touch /var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages \\
 && touch /var/lib/apt/lists/x_Packages.lz4 /var/lib/apt/lists/lock
USER svc
WORKDIR /srv/app
"""

DEBIAN_ASKED = Questions(
    commands=("python3", "tool", "yes", "bash", "apt-get", "/usr/bin/env", "sh"),
    paths=("/srv/app/orphan", "/usr/share/doc/only", "/usr/share/doc/apt", "/var/lib/apt/lists",
           "/etc/os-release", "/usr/bin/yes", "missing.txt", "/bin/sh", "empty-not", "/var/run"),
    names=("python3", "only", "yes", "passwd", "copyright"),
    probe=True,
)  # fmt: skip

CASES = {"busybox": (BUSYBOX, BUSYBOX_ASKED), "debian": (DEBIAN, DEBIAN_ASKED)}


@contextlib.contextmanager
def built(
    tmp_path: Path, build: Callable[[Path, str, str], str], remove: Callable[[str], object]
) -> Iterator[dict[str, str]]:
    """Every case's image, built by `build(folder, dockerfile, name)` (its tag), and each one
    removed by `remove(tag)` at the end, whatever happened."""
    tags: dict[str, str] = {}
    try:
        for name, (dockerfile, _) in CASES.items():
            (tmp_path / name).mkdir()
            tags[name] = build(tmp_path / name, dockerfile, name)
        yield tags
    finally:
        for tag in tags.values():
            remove(tag)


def fast_look(found: dict[str, Any], tag: str, asked: Questions) -> LayerFacts | None:
    """The look without a container, from an image's inspect (Docker's or Podman's, the same
    fields), once the inspect shows an overlay store of more than one layer."""
    driver = found["GraphDriver"]
    layers = overlay_layers(driver)
    assert layers is not None and len(layers) > 1, driver  # the store is overlay(2)
    return fast_layer_facts(driver, found["Config"], found["Architecture"], tag, asked)


def unordered(facts: LayerFacts | None) -> LayerFacts | None:
    """The facts with find's hits sorted: find prints them in readdir's order, which overlayfs
    leaves undefined (upper entries first, then each lower's, in each file system's own
    order), so only their set is the layer's answer; every other field keeps its order."""
    return None if facts is None else replace(facts, elsewhere=tuple(sorted(facts.elsewhere)))
