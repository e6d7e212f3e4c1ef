#!/usr/bin/env bash
# Make a Docker daemon reachable, installing and starting one only when none is there.
#
# Idempotent and quiet when there is nothing to do:
# - a daemon answers `docker info` (DOCKER_HOST and the current docker context are
#   honoured, because we ask the docker CLI): nothing is done;
# - a dockerd is installed but not running: it is started; an engine a user has is
#   never replaced or upgraded;
# - no dockerd at all, as root on Debian: Engine 26 (Debian trixie's docker.io, with the
#   docker-buildx and docker-compose CLI plugins) is installed through a private apt
#   configuration (scripts/lib-apt.sh; the machine's apt sources are never changed), its
#   dependencies coming from the machine's own release. On a Debian release other than
#   bookworm, that release's own docker.io is installed instead.
# dockerd is started in the background, logging to $DBUGBUILD_DOCKERD_LOG.
set -euo pipefail

log=${DBUGBUILD_DOCKERD_LOG:-/var/log/dbugbuild-dockerd.log}
say() { printf 'setup-docker: %s\n' "$*" >&2; }
# shellcheck source=scripts/lib-apt.sh
. "$(dirname "$0")/lib-apt.sh"

reachable() { docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && reachable; then
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    say "no Docker daemon is reachable and we are not root, so we cannot start one."
    say "Start Docker (e.g. 'sudo systemctl start docker') or set DOCKER_HOST, then retry."
    exit 1
fi

if [ -n "${DOCKER_HOST:-}" ]; then
    say "DOCKER_HOST=$DOCKER_HOST is set but does not answer; not starting a local daemon behind its back."
    exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
    if ! can_apt; then
        say "dockerd is not installed and this is not a Debian-like system; install Docker and retry."
        exit 1
    fi
    if [ "$(debian_codename)" = bookworm ]; then
        say "no Docker engine installed: installing Engine 26 (Debian trixie's docker.io," \
            "docker-buildx, docker-compose; dependencies from bookworm) ..."
        trixie_install docker.io docker-buildx docker-compose
    else
        say "no Docker engine installed: installing this release's docker.io ..."
        apt_install docker.io
        say "installed docker.io $(dpkg-query -W -f='${Version}' docker.io)"
    fi
elif ! command -v docker >/dev/null 2>&1; then
    say "dockerd is installed but the docker CLI is not; install it (the docker-cli or docker.io package) and retry."
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
        say "Docker daemon is up ($(docker version --format '{{.Server.Version}}' 2>/dev/null))."
        exit 0
    fi
    sleep 0.5
done
say "dockerd did not come up within 60 s; see $log (tail below)."
tail -n 20 "$log" >&2 || true
exit 1
