"""PURE DATA for the diagnosis rules: package names, other names of programs, install commands,
machine names, apt's vocabulary, exit codes. Only data: the rules that read it are beside it.

Keep each table sorted the way its comment says; a new entry needs no code.
"""

from __future__ import annotations

# The failure classes, one per rule of rules.RULES (docs/failure-classes.md).
CLASSES = (
    "command-not-found",
    "package-not-found",
    "package-manager-misuse",
    "permission-denied",
    "missing-file",
    "build-context",
    "dockerfile-syntax",
    "base-image",
    "network",
    "line-endings",
    "exec-format",
    "disk-full",
    "mount-source",
    "missing-secret",
    "cache-mount",
    "platform-arg",
    "command-failed",
)

# Package managers a layer may have, in the order a hint prefers them.
PACKAGE_MANAGERS = ("apt-get", "apk", "dnf", "microdnf", "yum", "zypper", "pacman")

# How each package manager installs one package, non-interactively (`{package}` is the name).
INSTALL_COMMANDS = {
    "apt-get": "apt-get update && apt-get install -y --no-install-recommends {package}",
    "apk": "apk add --no-cache {package}",
    "dnf": "dnf install -y {package}",
    "microdnf": "microdnf install -y {package}",
    "yum": "yum install -y {package}",
    "zypper": "zypper --non-interactive install {package}",
    "pacman": "pacman -Sy --noconfirm {package}",
}

ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "curl": ("wget",),
    "wget": ("curl",),
    "python": ("python3",),
    "python2": ("python3",),
    "pip": ("pip3",),
    "pip3": ("pip",),
    "bash": ("ash", "sh"),
    "vim": ("vi",),
    "nano": ("vi",),
    "gawk": ("awk",),
    "nc": ("ncat", "netcat"),
    "node": ("nodejs",),
    "nodejs": ("node",),
    "gcc": ("cc", "clang"),
    "cc": ("gcc", "clang"),
    "make": ("gmake",),
    "ifconfig": ("ip",),
    "netstat": ("ss",),
    "which": ("command -v",),
}

PACKAGES: dict[str, tuple[str, str, str]] = {
    "curl": ("curl", "curl", "curl"),
    "wget": ("wget", "wget", "wget"),
    "git": ("git", "git", "git"),
    "make": ("make", "make", "make"),
    "gcc": ("gcc", "gcc", "gcc"),
    "cc": ("gcc", "gcc", "gcc"),
    "g++": ("g++", "g++", "gcc-c++"),
    "python3": ("python3", "python3", "python3"),
    "python": ("python-is-python3", "python3", "python3"),
    "pip": ("python3-pip", "py3-pip", "python3-pip"),
    "pip3": ("python3-pip", "py3-pip", "python3-pip"),
    "node": ("nodejs", "nodejs", "nodejs"),
    "npm": ("npm", "npm", "npm"),
    "ps": ("procps", "procps", "procps-ng"),
    "ping": ("iputils-ping", "iputils", "iputils"),
    "ip": ("iproute2", "iproute2", "iproute"),
    "ssh": ("openssh-client", "openssh-client", "openssh-clients"),
    "unzip": ("unzip", "unzip", "unzip"),
    "zip": ("zip", "zip", "zip"),
    "xz": ("xz-utils", "xz", "xz"),
    "bzip2": ("bzip2", "bzip2", "bzip2"),
    "bash": ("bash", "bash", "bash"),
    "less": ("less", "less", "less"),
    "vim": ("vim", "vim", "vim-enhanced"),
    "nano": ("nano", "nano", "nano"),
    "jq": ("jq", "jq", "jq"),
    "file": ("file", "file", "file"),
    "gpg": ("gnupg", "gnupg", "gnupg2"),
    "sudo": ("sudo", "sudo", "sudo"),
    "openssl": ("openssl", "openssl", "openssl"),
    "nc": ("netcat-openbsd", "netcat-openbsd", "nmap-ncat"),
    "dig": ("dnsutils", "bind-tools", "bind-utils"),
    "nslookup": ("dnsutils", "bind-tools", "bind-utils"),
    "envsubst": ("gettext-base", "gettext", "gettext"),
    "cmake": ("cmake", "cmake", "cmake"),
    "go": ("golang", "go", "golang"),
    "java": ("default-jre-headless", "openjdk17-jre-headless", "java-17-openjdk-headless"),
    "ruby": ("ruby", "ruby", "ruby"),
    "perl": ("perl", "perl", "perl"),
    "patch": ("patch", "patch", "patch"),
    "tini": ("tini", "tini", "tini"),
    "gosu": ("gosu", "gosu", "gosu"),
    "locale-gen": ("locales", "musl-locales", "glibc-locale-source"),
    "update-ca-certificates": ("ca-certificates", "ca-certificates", "ca-certificates"),
    "add-apt-repository": ("software-properties-common", "", ""),
    "useradd": ("passwd", "shadow", "shadow-utils"),
    "adduser": ("adduser", "shadow", "shadow-utils"),
    "crontab": ("cron", "cronie", "cronie"),
}

# The column of PACKAGES for a package manager (every other one reads the dnf column).
PACKAGE_COLUMNS = {"apt-get": 0, "apk": 1}

# Programs that fetch over https need CA certificates, which slim images lack.
NEEDS_CA = frozenset({"curl", "wget", "git"})

# ELF e_machine values, as people name the machines.
ELF_MACHINES = {
    3: "i386 (x86, 32-bit)",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    22: "s390x",
    40: "arm (32-bit)",
    62: "x86_64 (amd64)",
    183: "aarch64 (arm64)",
    243: "riscv64",
}

# `uname -m` -> the ELF e_machine its binaries carry.
UNAME_MACHINES = {
    "x86_64": 62,
    "amd64": 62,
    "aarch64": 183,
    "arm64": 183,
    "i686": 3,
    "i386": 3,
    "armv7l": 40,
    "armv6l": 40,
    "s390x": 22,
    "ppc64le": 21,
    "riscv64": 243,
}

# `uname -m` -> docker's platform architecture, where they differ.
DOCKER_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm/v7"}

# apt-get's operations and the long options a typo is most often of.
APT_OPERATIONS = (
    "update", "upgrade", "install", "reinstall", "remove", "purge", "autoremove", "autopurge",
    "dist-upgrade", "full-upgrade", "source", "build-dep", "satisfy", "check", "download",
    "clean", "autoclean", "changelog", "indextargets",
)  # fmt: skip
APT_OPTIONS = (
    "--no-install-recommends", "--install-recommends", "--no-install-suggests", "--yes",
    "--assume-yes", "--quiet", "--fix-broken", "--fix-missing", "--no-upgrade",
    "--only-upgrade", "--allow-downgrades", "--reinstall", "--purge", "--download-only",
    "--simulate", "--dry-run", "--target-release", "--allow-unauthenticated", "--no-remove",
    "--auto-remove",
)  # fmt: skip

# What an exit code usually means, when it means more than "failed".
EXIT_MEANINGS = {
    1: None,
    2: "2 often means a usage error or a shell syntax error",
    126: "126: the program was found but could not be run",
    127: "127: a program was not found",
    130: "130: interrupted (SIGINT)",
    137: "137: killed by SIGKILL, often the out-of-memory killer (give the daemon more memory, "
    "or make the step use less)",
    139: "139: a segmentation fault (SIGSEGV) in the program",
    143: "143: terminated (SIGTERM)",
}
