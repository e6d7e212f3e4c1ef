#!/usr/bin/env bash
# The tools the test suite's second daemons need (tests/daemons.py), installed when missing.
#
# Called by `make test` (not by `make demo`). Idempotent, quiet and fast when all is
# there; says what it installed. As root on Debian it installs what is missing:
#   from Debian trixie (private apt configuration, scripts/lib-apt.sh; dependencies from
#   the machine's release): the docker-buildx and docker-compose CLI plugins;
#   from the machine's release: openssl, openssh-server + openssh-client (an sshd on
#   loopback), docker-registry (Distribution 2.8, a private registry), apache2-utils
#   (htpasswd), crun (a second OCI runtime).
# Elsewhere it names what is missing and exits 0: the tests that need it then skip
# (or fail under CI=true).
set -euo pipefail

say() { printf 'setup-test-tools: %s\n' "$*" >&2; }
# shellcheck source=scripts/lib-apt.sh
. "$(dirname "$0")/lib-apt.sh"

have_plugin() { docker "$1" version >/dev/null 2>&1; }

trixie=()
have_plugin buildx || trixie+=(docker-buildx)
have_plugin compose || trixie+=(docker-compose)

bookworm=()
command -v openssl >/dev/null 2>&1 || bookworm+=(openssl)
[ -x /usr/sbin/sshd ] || bookworm+=(openssh-server)
command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1 || bookworm+=(openssh-client)
command -v docker-registry >/dev/null 2>&1 || bookworm+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || bookworm+=(apache2-utils)
command -v crun >/dev/null 2>&1 || bookworm+=(crun)

if [ ${#trixie[@]} -eq 0 ] && [ ${#bookworm[@]} -eq 0 ]; then
    exit 0
fi

if ! can_apt; then
    say "missing: ${trixie[*]} ${bookworm[*]}; not root on Debian, so not installed."
    say "the tests that need them will skip (fail under CI=true)."
    exit 0
fi

if [ ${#bookworm[@]} -gt 0 ]; then
    say "installing ${bookworm[*]} ..."
    apt_install "${bookworm[@]}"
    for pkg in "${bookworm[@]}"; do
        say "installed $pkg $(dpkg-query -W -f='${Version}' "$pkg")"
    done
fi
if [ ${#trixie[@]} -gt 0 ]; then
    if [ "$(debian_codename)" = bookworm ]; then
        trixie_install "${trixie[@]}"
    else
        apt_install "${trixie[@]}"
        for pkg in "${trixie[@]}"; do
            say "installed $pkg $(dpkg-query -W -f='${Version}' "$pkg")"
        done
    fi
fi
