"""`dbugbuild clean`: remove what dbugbuild runs left behind, by label, in every engine there is.

A crashed run (SIGKILL, a power cut) cannot clean up after itself; everything it made
carries the `dbugbuild.session` label, so this finds it. It removes only dbugbuild's own
objects, and with --label or DBUGBUILD_LABELS only those of one CI job.
"""

from __future__ import annotations

from dbugbuild.command_options import CleanOptions
from dbugbuild.console import Console
from dbugbuild.engine import reach
from dbugbuild.engine.podman import remove_stale_service_folders
from dbugbuild.report.style import short_id


def run_clean(options: CleanOptions, console: Console) -> int:
    """`dbugbuild clean`: remove the containers and images dbugbuild runs left (by label): all
    of them, or only those that also carry --label and DBUGBUILD_LABELS' labels, in Docker and,
    when podman is there, in Podman's store."""
    containers, images, volumes = reach.sweep(console.env, options.labels, console.warn)
    for folder in remove_stale_service_folders(console.env):
        console.write(f"removed the folder of a gone Podman service: {folder}\n")
    for what, ids in (("container", containers), ("image", images), ("volume", volumes)):
        shown = ids if what == "volume" else [short_id(i) for i in ids]  # a volume's is a name
        console.write("".join(f"removed {what} {i}\n" for i in shown))
    counts = f"{len(containers)} container(s), {len(images)} image(s)"
    also = f", {len(volumes)} volume(s)" if volumes else ""
    console.write(f"dbugbuild clean: removed {counts}{also}\n")
    return 0
