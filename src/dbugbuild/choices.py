"""PURE: the closed choices of the command line, as plain data (no imports): the builders
--backend names, the docker build options refused by name.

arguments.py builds its parser from these without importing options.py (whose dataclasses
cost a start-up that `--help` need not pay); options.py re-exports them.
"""

BACKEND_CHOICES = ("auto", "classic", "buildkit", "podman")  # --backend; "auto" picks one

# docker build options that dbugbuild refuses by name rather than passing on: some
# would defeat the debugger (--force-rm removes the failed container, -q hides the
# step output, --progress the plain output it reads, --rm=false, --squash merges the
# layers we debug in, --push/--output/--load send the image elsewhere than the daemon),
# others are not passed on yet.
UNSUPPORTED_DOCKER_OPTIONS = frozenset(
    [
        "--allow",
        "--annotation",
        "--attest",
        "--cache-to",
        "--call",
        "--cgroup-parent",
        "--check",
        "--compress",
        "--cpu-period",
        "--cpu-quota",
        "-c",
        "--cpu-shares",
        "--cpuset-cpus",
        "--cpuset-mems",
        "--disable-content-trust",
        "--force-rm",
        "--iidfile",
        "--isolation",
        "--load",
        "-m",
        "--memory",
        "--memory-swap",
        "--metadata-file",
        "--no-cache-filter",
        "-o",
        "--output",
        "--progress",
        "--provenance",
        "--push",
        "-q",
        "--quiet",
        "--rm",
        "--sbom",
        "--security-opt",
        "--squash",
        "--ulimit",
    ]
)
