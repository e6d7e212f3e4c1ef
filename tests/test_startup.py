"""Start-up costs nothing that is not needed: `--version`, `--help` and a mistyped option load
none of the heavy modules, and a build's CLI starts before docker-py (or the parsers, the
report, the diagnosis tables) is imported. Read from a fresh interpreter's sys.modules: no
timing here (benchmarks/ measures the time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dbugbuild
from conftest import note_build_output, own_label, remove_build
from dbugbuild.engine import Engine

# What must wait until it is needed: the API client and its transport, the terminal, the
# test-only schema validator, and dbugbuild's own heavy parts.
HEAVY = (
    "docker",
    "requests",
    "urllib3",
    "prompt_toolkit",
    "pexpect",
    "jsonschema",
    "dbugbuild.diagnosis",
    "dbugbuild.engine",
    "dbugbuild.logs",
    "dbugbuild.report",
    "dbugbuild.app",
)

# Runs main(argv) in a fresh interpreter and writes the modules it had loaded, as JSON, to the
# file LOADED_TO names.
_LOADED = """
import json, os, sys
from dbugbuild.cli import main
try:
    code = main(sys.argv[1:])
finally:
    with open(os.environ["LOADED_TO"], "w") as out:
        json.dump(sorted(sys.modules), out)
sys.exit(code)
"""

# Records the modules loaded when the first process is started (the build's CLI), and its
# argv, then runs main.
_AT_SPAWN = """
import json, os, subprocess, sys
seen = []
real = subprocess.Popen.__init__
def spy(self, *args, **kwargs):
    if not seen:
        seen.append((sorted(sys.modules), list(args[0] if args else kwargs["args"])))
    return real(self, *args, **kwargs)
subprocess.Popen.__init__ = spy
from dbugbuild.cli import main
try:
    code = main(sys.argv[1:])
finally:
    with open(os.environ["LOADED_TO"], "w") as out:
        modules, argv = seen[0] if seen else (None, None)
        json.dump({"at_spawn": modules, "argv": argv}, out)
sys.exit(code)
"""


def _heavy(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def _run(script: str, args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    loaded = cwd / "loaded.json"
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "LOADED_TO": str(loaded)},
        check=False,
    )
    return done, loaded.read_text()


def _python(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`script` run by a fresh interpreter (this one's), its output captured."""
    return subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        [".", "--version"],
        ["--help"],
        ["bisect", "--help"],
        ["compose", "--help"],
        ["clean", "--help"],
        ["--no-such-option"],
        ["--format", "yaml"],
        ["bisect", "."],  # no --check
    ],
    ids=lambda a: " ".join(a),
)
def test_startup_loads_nothing_heavy(tmp_path: Path, args: list[str]) -> None:
    done, loaded = _run(_LOADED, args, tmp_path)
    assert done.returncode in (0, 2), done.stderr
    assert _heavy(json.loads(loaded)) == []


# Standard library modules that cost --help more than its parsing (dataclasses pulls in
# inspect, ast and dis: 15-20 ms of a 60 ms start); the help of a build, bisect or clean
# needs none of them.
STDLIB_HEAVY = ("dataclasses", "typing", "inspect")


@pytest.mark.parametrize(
    "args",
    [["--version"], ["--help"], ["bisect", "--help"], ["clean", "--help"]],
    ids=lambda a: " ".join(a),
)
def test_startup_help_loads_no_heavy_stdlib(tmp_path: Path, args: list[str]) -> None:
    done, loaded = _run(_LOADED, args, tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(set(json.loads(loaded)) & set(STDLIB_HEAVY)) == []


def test_startup_version_without_argparse_is_argparse_s_answer(tmp_path: Path) -> None:
    """`--version` alone skips argparse; its answer is the one argparse gives after a PATH."""
    fast, loaded = _run(_LOADED, ["--version"], tmp_path)
    slow, _ = _run(_LOADED, [".", "--version"], tmp_path)
    assert (fast.returncode, fast.stdout, fast.stderr) == (0, slow.stdout, "")
    assert "argparse" not in json.loads(loaded)


def test_startup_argument_error_is_one_line(tmp_path: Path) -> None:
    done, _ = _run(_LOADED, ["--no-such-option"], tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        "dbugbuild: error: unknown option --no-such-option. See 'dbugbuild --help'\n"
    )


@pytest.mark.docker
def test_startup_build_starts_before_docker_py_loads(engine: Engine, tmp_path: Path) -> None:
    """The build's CLI is the first process dbugbuild starts, and docker-py, the parsers, the
    report and the diagnosis are not loaded yet: they load while it runs."""
    (tmp_path / "Dockerfile").write_text(f"FROM busybox\nRUN echo {own_label()} && exit 3\n")
    done, loaded = _run(_AT_SPAWN, ["--no-shell", "--format", "json", "."], tmp_path)
    note_build_output(done.stdout + done.stderr)
    report = json.loads(done.stdout)
    try:
        assert done.returncode == 3, done.stderr
        assert report["failed_step"]["exit_code"] == 3
        at_spawn = json.loads(loaded)["at_spawn"]
        assert at_spawn is not None
        # The engine's modules are there (they run the build), docker-py's and the rest not.
        loaded = [
            m for m in _heavy(at_spawn) if not m.startswith(("dbugbuild.engine", "dbugbuild.app"))
        ]
        assert loaded == []
        assert "dbugbuild.engine.build" in at_spawn  # the engine runs it, without docker-py
    finally:
        remove_build(engine, report)


# dbugbuild's modules that may be loaded when a build's CLI starts, by backend: what makes its
# argv and environment, and the checks that come first (the path, the Dockerfile, the choice
# of backend, the daemon's socket). The rest loads while the build runs.
AT_SPAWN_OWN = frozenset(
    f"dbugbuild{'.' if m else ''}{m}"
    for m in (
        "", "cli", "errors", "debug", "debug.signals", "arguments", "choices", "options",
        "console", "app", "inputs", "outcome", "backends", "backends.choice", "engine",
        "engine.reach", "engine.daemon", "engine.build", "engine.connect", "engine.endpoint",
        "engine.failures", "engine.sdk", "engine.images", "engine.containers",
        "engine.volumes", "engine.sweeping", "engine.leftovers",
    )
)  # fmt: skip
AT_SPAWN_BACKEND = {
    "buildkit": {"dbugbuild.backends.buildkit", "dbugbuild.backends.classic"},
    # (its note of what the Dockerfile wants BuildKit for is made while it runs: choice.noted)
    "classic": {"dbugbuild.backends.classic", "dbugbuild.backends.triggers"},
    "podman": {  # the podman build's watch for what a cancelled build leaves
        "dbugbuild.backends.podman",
        "dbugbuild.backends.buildkit",
        "dbugbuild.backends.classic",
        "dbugbuild.engine.podman",
    },
}
# The standard library's modules a build's start need not pay for (typing alone was ~4 ms;
# socket's enums 4-6 ms: the daemon's socket is knocked on by _socket).
AT_SPAWN_NOT = ("typing", "tarfile", "tempfile", "random", "socket")


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("buildkit", marks=pytest.mark.docker),
        pytest.param("classic", marks=pytest.mark.docker),
        pytest.param("podman", marks=pytest.mark.podman),
    ],
)
def test_startup_a_build_s_cli_starts_with_only_what_makes_it(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """The first process a report-only run starts is the build's CLI, and when it starts only
    the modules that make its argv and environment are loaded (issue 14): not the Podman
    service's, the probe's, the terminal's, the tunnel's, the other commands' options, nor
    typing; nor the Dockerfile's parser: a forced builder's choice does not read it."""
    (tmp_path / "Dockerfile").write_text(f"FROM busybox\nRUN echo {own_label()} && exit 3\n")
    args = ["--no-shell", "--format", "json", "--backend", backend, "."]
    if backend == "podman":
        request.getfixturevalue("podman_no_leaks")
    done, loaded = _run(_AT_SPAWN, args, tmp_path)
    note_build_output(done.stdout + done.stderr)
    report = json.loads(done.stdout)
    try:
        assert (done.returncode, report["builder"]) == (3, backend), done.stderr
        spawned = json.loads(loaded)
        argv = spawned["argv"]
        # BuildKit's is the buildx plugin itself, as `docker buildx` would run it (build.py's
        # plugin_binary): not the docker CLI's two process starts before it.
        first = {"podman": "podman", "buildkit": "docker-buildx"}.get(backend, "docker")
        assert (os.path.basename(argv[0]), argv[1]) == (first, "build")
        own = {m for m in spawned["at_spawn"] if m.split(".")[0] == "dbugbuild"}
        assert sorted(own - AT_SPAWN_OWN - AT_SPAWN_BACKEND[backend]) == []
        assert sorted(set(spawned["at_spawn"]) & set(AT_SPAWN_NOT)) == []
    finally:
        if backend != "podman":
            remove_build(request.getfixturevalue("engine"), report)


@pytest.mark.docker
@pytest.mark.parametrize("backend", ["buildkit", "classic"])
def test_startup_report_only_never_imports_docker_py(
    engine: Engine, tmp_path: Path, backend: str
) -> None:
    """A BuildKit build's report needs nothing from the Engine API (no image per step to look
    in, no failed container to remove); the classic builder's asks for the failed step's
    image and removes its container by plain requests on the local socket (plainapi.py):
    docker-py is never imported for either, and the failed container is gone all the same."""
    (tmp_path / "Dockerfile").write_text(f"FROM busybox\nRUN echo {own_label()} && exit 3\n")
    done, loaded = _run(
        _LOADED, ["--no-shell", "--format", "json", "--backend", backend, "."], tmp_path
    )
    note_build_output(done.stdout + done.stderr)
    report = json.loads(done.stdout)
    try:
        assert (done.returncode, report["builder"]) == (3, backend), done.stderr
        loaded_modules = json.loads(loaded)
        assert "docker" not in loaded_modules
        # Nor hashlib (OpenSSL's loading, 3-4 ms after the build): the Dockerfile's two reads
        # are compared as they are.
        assert "hashlib" not in loaded_modules
        assert (
            report["failed_container"] is None
            or engine.container_config(report["failed_container"]) is None
        ), "the failed container was left"
    finally:
        remove_build(engine, report)


# Runs the process's own entry (process_main, which ends with os._exit once the atexit
# callbacks ran) and writes, from an atexit callback, whether inspect ever loaded.
_PROCESS_INSPECT = """
import atexit, json, os, sys
from dbugbuild.cli import process_main

def written():
    with open(os.environ["LOADED_TO"], "w") as out:
        module = sys.modules.get("inspect")
        json.dump({"inspect": type(module).__name__ if module else None,
                   "ast": "ast" in sys.modules}, out)

atexit.register(written)
sys.argv = ["dbugbuild", *sys.argv[1:]]
sys.exit(process_main())
"""


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("buildkit", marks=pytest.mark.docker),
        pytest.param("classic", marks=pytest.mark.docker),
        pytest.param("podman", marks=pytest.mark.podman),
    ],
)
def test_startup_a_report_never_loads_inspect(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """dataclasses imports inspect and dbugbuild's process defers it (deferred.py): a
    report-only run, from its start to its report, never uses it, so it never loads (~4 ms
    of the start before the build's CLI, and nothing after)."""
    (tmp_path / "Dockerfile").write_text(f"FROM busybox\nRUN echo {own_label()} && exit 3\n")
    if backend == "podman":
        request.getfixturevalue("podman_no_leaks")
    args = ["--no-shell", "--format", "json", "--backend", backend, "."]
    done, loaded = _run(_PROCESS_INSPECT, args, tmp_path)
    note_build_output(done.stdout + done.stderr)
    report = json.loads(done.stdout)
    try:
        assert (done.returncode, report["builder"]) == (3, backend), done.stderr
        assert report["diagnosis"]["class"]  # the diagnosis and its look ran
        assert json.loads(loaded) == {"inspect": "Deferred", "ast": False}
    finally:
        if backend != "podman":
            remove_build(request.getfixturevalue("engine"), report)


def test_startup_the_process_entry_freezes_what_the_run_made(tmp_path: Path) -> None:
    """The `dbugbuild` script and `python -m dbugbuild` end with gc.freeze(), so that the
    interpreter's exit does not walk the run's objects once more (benchmarks/README.md); an
    in-process main() (tests) leaves the collector alone."""
    script = (
        "import atexit, gc, sys\n"
        "from dbugbuild.cli import main, process_main\n"
        "sys.argv = ['dbugbuild', '--version']\n"
        "main(['--version'])\n"
        "print(gc.get_freeze_count())\n"
        "atexit.register(lambda: print(gc.get_freeze_count() > 0))\n"
        "code = process_main()\n"
    )
    done = _python(script, tmp_path)
    version = f"dbugbuild {dbugbuild.__version__}"
    assert done.stdout.splitlines()[1:] == ["0", version, "True"], done.stderr
    assert done.returncode == 0
    entry = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    assert 'dbugbuild = "dbugbuild.cli:process_main"' in entry
    main_module = Path(__file__).parent.parent / "src" / "dbugbuild" / "__main__.py"
    assert "process_main()" in main_module.read_text()


# Ends with process_main() (a mistyped option: exit 2) after writing to a buffered stdout and
# registering an atexit callback; with `thread`, a thread the interpreter must wait for runs.
_ENDING = """
import atexit, sys, threading
from dbugbuild.cli import process_main
atexit.register(lambda: print("atexit ran"))
print("buffered", end="")
returned = threading.Event()
if sys.argv[1:] == ["thread"]:
    threading.Thread(target=lambda: (returned.wait(), print("joined"))).start()
sys.argv = ["dbugbuild", "--no-such-option"]
code = process_main()
print(" returned", code)
returned.set()
sys.exit(code)
"""


@pytest.mark.parametrize("thread", [False, True], ids=["at-once", "a-thread-to-wait-for"])
def test_startup_the_process_ends_at_once_when_nothing_is_left_to_do(
    tmp_path: Path, thread: bool
) -> None:
    """process_main() ends the process itself (os._exit: the interpreter's teardown of every
    module skipped) with main()'s status, once what the interpreter's exit does first is
    done: buffered output flushed, atexit callbacks run. A thread the interpreter would wait
    for keeps the usual exit: process_main() returns, and the thread is waited for."""
    done = subprocess.run(
        [sys.executable, "-c", _ENDING, *(["thread"] if thread else [])],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "dbugbuild: error: unknown option --no-such-option. See 'dbugbuild --help'\n"
    )
    if thread:
        assert done.stdout == "buffered returned 2\njoined\natexit ran\n"
    else:
        assert done.stdout == "bufferedatexit ran\n"


@pytest.mark.parametrize(
    ("debug", "session", "loads"),
    [
        (False, False, []),
        (True, False, ["dbugbuild.debug.runner"]),
        (True, True, ["dbugbuild.debug.runner", "dbugbuild.debug.session", "prompt_toolkit"]),
    ],
    ids=["report-only", "batch", "session"],
)
def test_startup_a_build_preloads_what_follows_its_report(
    tmp_path: Path, debug: bool, session: bool, loads: list[str]
) -> None:
    """While a build runs, the thread that loads the report's modules goes on with the debug
    phase's when one follows, and with the session's (prompt-toolkit: ~150 ms of a failure's
    way to the prompt when it loaded only after the build) when the run is interactive; a
    report-only run loads neither, a batch run no terminal."""
    script = (
        "import json, sys\n"
        "from dbugbuild.outcome import _Preload\n"
        f"preload = _Preload({debug}, {session})\n"
        "preload.start()\n"
        "preload.join()\n"
        "report = 'dbugbuild.report' in sys.modules\n"
        "preload.join(everything=True)\n"
        "print(json.dumps([report, sorted(sys.modules)]))\n"
    )
    done = _python(script, tmp_path)
    assert done.returncode == 0, done.stderr
    report, modules = json.loads(done.stdout)
    assert report  # join() returns once the report's modules are in
    wanted = ["dbugbuild.debug.runner", "dbugbuild.debug.session", "prompt_toolkit"]
    assert [m for m in wanted if m in modules] == loads
