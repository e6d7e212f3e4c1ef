#!/usr/bin/env bash
# Make rootful Podman usable for dbugbuild's Podman tests, without touching a user's own set-up.
#
# Idempotent. Steps:
#   1. podman missing: as root on Debian, install the distribution's podman (bookworm: 4.3.1)
#      with --no-install-recommends, and say which packages that added. An installed podman,
#      whatever its version, is used as it is.
#   2. Write a PRIVATE containers.conf (path printed on stdout; default
#      /var/lib/dbugbuild-test/containers.conf, or $DBUGBUILD_PODMAN_CONF) for the tests to
#      use with CONTAINERS_CONF=<path>. It sets `default_ulimits = []` because in this sandbox
#      `podman run` otherwise fails with "error setting rlimit type 7: operation not
#      permitted", the cgroup manager and events logger that work without systemd, and
#      runc on a cgroup v1+v2 hybrid host (where crun cannot run containers).
#      /etc/containers/containers.conf and ~/.config/containers are never written.
#   3. Give podman the base images busybox:latest and debian:bookworm with
#      `docker save TAG | podman load` when podman lacks them; a tag podman has is never
#      loaded over.
# Exits non-zero with one `setup-podman: ...` line when it cannot do one of these.
set -euo pipefail

conf=${DBUGBUILD_PODMAN_CONF:-/var/lib/dbugbuild-test/containers.conf}
base_images=(busybox:latest debian:bookworm)

say() { printf 'setup-podman: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# --- 1. podman ---------------------------------------------------------------------------
if ! command -v podman >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "podman is not installed and we are not root; install podman (e.g. 'sudo apt-get install podman') and retry."
    command -v apt-get >/dev/null 2>&1 || die "podman is not installed and this is not a Debian-like system; install podman and retry."
    export DEBIAN_FRONTEND=noninteractive
    # What apt would add, for the message below (simulation only).
    # `Inst NAME [OLD] (NEW ...)` is an upgrade (bookworm's libsubid4 pulls newer login/passwd).
    plan() {
        apt-get install -s --no-install-recommends podman 2>/dev/null | awk '
            /^Inst / { if ($3 ~ /^\[/) up = up " " $2; else add = add " " $2 }
            END { if (add != "") printf "adds%s", add; if (up != "") printf "; upgrades%s", up }'
    }
    packages=$(plan)
    if [ -z "$packages" ]; then
        apt-get update -qq >/dev/null 2>&1 || die "apt-get update failed; check the machine's apt sources and network, then retry."
        packages=$(plan)
    fi
    [ -n "$packages" ] || die "apt cannot install podman here (apt-get install -s podman printed no plan); install podman by hand and retry."
    say "installing Debian's podman with --no-install-recommends; apt $packages"
    apt-get install -y -qq --no-install-recommends podman >/dev/null 2>&1 \
        || die "apt-get install podman failed; run 'apt-get install --no-install-recommends podman' to see why."
    say "installed $(podman --version)"
fi
podman --version >/dev/null 2>&1 || die "'podman --version' fails; repair the podman installation and retry."

# --- 2. the private containers.conf -----------------------------------------------------------
mkdir -p "$(dirname "$conf")" || die "cannot create $(dirname "$conf"); set DBUGBUILD_PODMAN_CONF to a writable path."
# Without systemd as PID 1 (containers, CI sandboxes) neither the systemd cgroup manager nor
# the journald events logger can work.
engine=''
if [ ! -d /run/systemd/system ]; then
    engine+=$'cgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
fi
# Podman prefers crun when it is installed, but crun (1.8 in bookworm) refuses cgroup v1+v2
# "hybrid" hosts: "cgroups in hybrid mode not supported, drop all controllers from cgroupv2".
# There, pin runc.
if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = tmpfs ] \
    && [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] \
    && command -v runc >/dev/null 2>&1; then
    engine+=$'# cgroup v1+v2 hybrid host: crun cannot run containers here.\nruntime = "runc"\n'
fi
want=$(printf '%s\n' \
    "# Written by scripts/setup-podman.sh for dbugbuild's tests. Use it with" \
    "# CONTAINERS_CONF=$conf; it replaces (for that process only) the system's containers.conf." \
    "[containers]" \
    "# Podman's default RLIMIT_NOFILE/NPROC cannot be set in this sandbox:" \
    "# 'error setting rlimit type 7: operation not permitted'." \
    "default_ulimits = []" \
    "" \
    "[engine]" \
    "${engine%$'\n'}")
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
    printf '%s\n' "$want" >"$conf.tmp.$$" && mv "$conf.tmp.$$" "$conf" || die "cannot write $conf; set DBUGBUILD_PODMAN_CONF to a writable path."
    say "wrote $conf"
fi
export CONTAINERS_CONF=$conf

podman info >/dev/null 2>&1 || die "'CONTAINERS_CONF=$conf podman info' fails; run it to see why."

# --- 3. base images --------------------------------------------------------------------------
for tag in "${base_images[@]}"; do
    if podman image exists "$tag" 2>/dev/null; then
        continue
    fi
    command -v docker >/dev/null 2>&1 && docker image inspect "$tag" >/dev/null 2>&1 \
        || die "podman lacks $tag and Docker has no $tag to copy; run scripts/setup-base-images.sh first."
    # `podman load` names an image from a docker-save archive docker.io/library/NAME:TAG.
    loaded=$(docker save "$tag" | podman load 2>&1) \
        || die "'docker save $tag | podman load' failed: $(printf '%s' "$loaded" | tail -n1)"
    say "copied $tag from Docker to podman (${loaded##*: })"
done

printf '%s\n' "$conf"
