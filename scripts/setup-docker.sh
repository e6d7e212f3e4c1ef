#!/usr/bin/env bash
# Make a Docker daemon reachable, installing and starting one when we may.
#
# Idempotent: does nothing when `docker info` already answers (DOCKER_HOST and
# the current docker context are honoured, because we ask the docker CLI).
# Otherwise, as root on Debian, installs Debian's docker.io and starts dockerd
# in the background, logging to $DBUGBUILD_DOCKERD_LOG.
set -euo pipefail

log=${DBUGBUILD_DOCKERD_LOG:-/var/log/dbugbuild-dockerd.log}
say() { printf 'setup-docker: %s\n' "$*" >&2; }

reachable() { docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && reachable; then
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    say "no Docker daemon is reachable and we are not root, so we cannot start one."
    say "Start Docker (e.g. 'sudo systemctl start docker') or set DOCKER_HOST, then retry."
    exit 1
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1; then
        say "dockerd is not installed and this is not a Debian-like system; install Docker and retry."
        exit 1
    fi
    say "installing Debian's docker.io (dockerd, containerd, runc) ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq docker.io >/dev/null
fi

if [ -n "${DOCKER_HOST:-}" ]; then
    say "DOCKER_HOST=$DOCKER_HOST is set but does not answer; not starting a local daemon behind its back."
    exit 1
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
    say "starting dockerd in the background (log: $log) ..."
    mkdir -p "$(dirname "$log")"
    # setsid: the daemon must outlive this script and the terminal it ran in.
    setsid dockerd >>"$log" 2>&1 </dev/null &
fi

for _ in $(seq 1 120); do
    if [ -S /var/run/docker.sock ] && reachable; then
        say "Docker daemon is up."
        exit 0
    fi
    sleep 0.5
done
say "dockerd did not come up within 60 s; see $log (tail below)."
tail -n 20 "$log" >&2 || true
exit 1
