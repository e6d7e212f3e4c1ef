"""I/O: the local files of the user's inputs, read the one way dbugbuild reads them.

The pure stages take text and lists; this module is where they come from: the build
context's .dockerignore and file names (for a COPY/ADD diagnosis).
"""

from __future__ import annotations

import os

from dbugbuild.diagnosis import ContextListing

MAX_CONTEXT_FILES = 20_000  # names listed from the build context for "did you mean"
MAX_DOCKERIGNORE = 1 << 20  # bytes


def context_listing(context_dir: str) -> ContextListing:
    """(.dockerignore text or None, the context's file names relative to it, bounded)."""
    ignore: str | None = None
    try:
        with open(os.path.join(context_dir, ".dockerignore"), "rb") as fh:
            ignore = fh.read(MAX_DOCKERIGNORE).decode("utf-8", errors="replace")
    except OSError:
        ignore = None
    files: list[str] = []
    try:
        for root, dirs, names in os.walk(context_dir):
            dirs[:] = sorted(d for d in dirs if d != ".git")
            rel = os.path.relpath(root, context_dir)
            for name in sorted(names):
                files.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
            if len(files) >= MAX_CONTEXT_FILES:
                break
    except OSError:
        return ignore, None
    return ignore, tuple(files[:MAX_CONTEXT_FILES])
