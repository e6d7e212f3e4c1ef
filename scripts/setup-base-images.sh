#!/usr/bin/env bash
# Provide the base images the samples and tests build FROM, without a registry.
#
# For each tag: keep it if the daemon has it; else try to pull it; else make it
# locally (busybox FROM scratch with Debian's static busybox; Debian bookworm
# from debootstrap --variant=minbase, imported with `docker import`).
# Never overwrites a tag that exists. The Debian mirror is read from this
# machine's apt sources, never written here.
set -euo pipefail

say() { printf 'setup-base-images: %s\n' "$*" >&2; }
have() { docker image inspect "$1" >/dev/null 2>&1; }
try_pull() { timeout 60 docker pull -q "$1" >/dev/null 2>&1; }

apt_ready=
apt_install() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        say "need $* to build a base image locally; install it (as root, on Debian) and retry."
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "$apt_ready" ]; then apt-get update -qq >/dev/null; apt_ready=1; fi
    apt-get install -y -qq "$@" >/dev/null
}

debian_mirror() {
    # First deb URI of the main archive in the machine's apt sources (deb822 or one-line).
    local uri
    uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | awk '{print $2}' | grep -v -- '-security' | head -n1 || true)
    if [ -z "$uri" ]; then
        uri=$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
              | awk '{for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
              | grep -v -- '-security' | head -n1 || true)
    fi
    [ -n "$uri" ] || { say "no Debian mirror found in /etc/apt/sources*"; exit 1; }
    printf '%s\n' "$uri"
}

make_busybox() {
    local tag=$1 dir
    # Debian's busybox-static ships a static /bin/busybox (the dynamic one would not run FROM scratch).
    dpkg -s busybox-static >/dev/null 2>&1 || apt_install busybox-static
    dir=$(mktemp -d)
    mkdir -p "$dir/bin"
    cp /bin/busybox "$dir/bin/busybox"
    cat >"$dir/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY bin/busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /tmp /root /etc /home && chmod 1777 /tmp \
 && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd \
 && echo 'root:x:0:' > /etc/group
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["sh"]
DOCKERFILE
    DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$dir" >/dev/null 2>&1 \
        || { rm -rf "$dir"; say "building $tag failed"; exit 1; }
    rm -rf "$dir"
}

make_debian() {
    local tag=$1 suite=$2 dir mirror
    command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
    mirror=$(debian_mirror)
    dir=$(mktemp -d)
    say "debootstrap $suite (minbase) from the machine's apt mirror, about 30 s ..."
    debootstrap --variant=minbase "$suite" "$dir" "$mirror" >/dev/null 2>&1 \
        || { rm -rf "$dir"; say "debootstrap failed"; exit 1; }
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    tar -C "$dir" -c . | docker import \
        -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'CMD ["bash"]' - "$tag" >/dev/null
    rm -rf "$dir"
}

ensure() {
    local tag=$1 maker=$2; shift 2
    if have "$tag"; then return 0; fi
    if try_pull "$tag"; then say "pulled $tag"; return 0; fi
    say "making $tag locally (no registry reachable) ..."
    "$maker" "$tag" "$@"
    say "made $tag"
}

ensure busybox:latest make_busybox
ensure debian:bookworm make_debian bookworm
