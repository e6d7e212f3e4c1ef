# Shared by the set-up scripts (sourced, not run): Debian packages from the machine's
# own release, and from Debian trixie through a PRIVATE apt configuration.
#
# The machine's apt sources are never written. Trixie is reached on the same mirror the
# machine's sources name, with a sources list, package lists and a cache of our own
# ($DBUGBUILD_TRIXIE_APT, default /var/cache/dbugbuild/trixie-apt); its .debs are then
# installed with `apt-get install ./x.deb`, so the machine's release resolves their
# dependencies (docker.io 26.1.5 installs on bookworm with bookworm's containerd 1.6,
# runc 1.1 and libc 2.36).
#
# The caller defines say().

trixie_dir=${DBUGBUILD_TRIXIE_APT:-/var/cache/dbugbuild/trixie-apt}
apt_updated=
trixie_updated=

debian_mirror() {
    # First deb URI of the main archive in the machine's apt sources (deb822 or one-line).
    local uri
    uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | awk '{print $2}' | grep -v -- '-security' | grep -i debian | head -n1 || true)
    if [ -z "$uri" ]; then
        uri=$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
              | awk '{for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
              | grep -v -- '-security' | grep -i debian | head -n1 || true)
    fi
    [ -n "$uri" ] || { say "no Debian mirror found in /etc/apt/sources*"; return 1; }
    printf '%s\n' "$uri"
}

debian_codename() {
    # shellcheck disable=SC1091
    (. /etc/os-release 2>/dev/null && printf '%s\n' "${VERSION_CODENAME:-}")
}

can_apt() {
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -r /etc/debian_version ]
}

# Run apt-get without starting services from maintainer scripts (openssh-server and
# docker-registry would otherwise start system daemons on :22 and :5000). A
# policy-rc.d that exists is the admin's and is kept; ours is removed afterwards.
quiet_apt_get() {
    local ours= status=0 out
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# dbugbuild set-up: no services started during installs\nexit 101\n' \
            >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        ours=1
    fi
    out=$(mktemp)
    # Maintainer scripts chatter on stderr (key generation, symlinks): shown on failure only.
    DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 \
        apt-get -y -qq -o Dpkg::Use-Pty=0 "$@" >"$out" 2>&1 || status=$?
    if [ -n "$ours" ]; then rm -f /usr/sbin/policy-rc.d; fi
    if [ "$status" != 0 ]; then tail -n 30 "$out" >&2; fi
    rm -f "$out"
    return "$status"
}

# Packages of the machine's own release.
apt_install() {
    if [ -z "$apt_updated" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 \
            || { say "apt-get update failed"; return 1; }
        apt_updated=1
    fi
    quiet_apt_get install --no-install-recommends "$@"
}

trixie_apt() {
    apt-get -o Dir::Etc::SourceList="$trixie_dir/sources.list" \
        -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::State::Lists="$trixie_dir/lists" \
        -o Dir::Cache="$trixie_dir/cache" "$@"
}

# Packages of Debian trixie, dependencies from the machine's release.
trixie_install() {
    local mirror debs=() pkg deb
    if [ -z "$trixie_updated" ]; then
        mirror=$(debian_mirror) || return 1
        mkdir -p "$trixie_dir/lists/partial" "$trixie_dir/cache/archives/partial" "$trixie_dir/debs"
        printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s trixie main\n' \
            "$mirror" >"$trixie_dir/sources.list"
        trixie_apt update -qq >/dev/null 2>&1 \
            || { say "cannot read Debian trixie's package lists from $mirror"; return 1; }
        trixie_updated=1
    fi
    for pkg in "$@"; do
        rm -f "$trixie_dir/debs/${pkg}"_*.deb
        (cd "$trixie_dir/debs" && trixie_apt download -qq "$pkg" >/dev/null 2>&1) \
            || { say "cannot download $pkg from Debian trixie"; return 1; }
        for deb in "$trixie_dir/debs/${pkg}"_*.deb; do debs+=("$deb"); done
    done
    apt_install "${debs[@]}"
    for pkg in "$@"; do
        say "installed $pkg $(dpkg-query -W -f='${Version}' "$pkg") (Debian trixie)"
    done
}
