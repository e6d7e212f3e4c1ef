"""The house rules, read from the source (docs/architecture.md): the pure packages and modules
import nothing that does I/O and do none; dependencies point one way, never back up; only the
engine imports docker or runs a container CLI; no source file is a wall."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TESTS

SRC = TESTS.parent / "src" / "dbugbuild"

# Pure: whole packages, and the pure modules of the others.
PURE_PACKAGES = ("dockerfile", "logs", "report", "diagnosis", "compose")
PURE_MODULES = (
    "choices",
    "errors",
    "options",
    "command_options",
    "debug.stepenv",
    "debug.layer",
    "debug.commands",
    "backends.choice",
    "backends.triggers",
    "bisect",
    "bisect.search",
    "bisect.layers",
    "bisect.result",
    "bisect.render",
    "backends.sources",
)
# What a pure module must not import: I/O, processes, terminals, the network, the clock,
# randomness, the environment (os, sys).
FORBIDDEN = frozenset(
    {
        "docker", "requests", "urllib3", "subprocess", "prompt_toolkit", "pexpect", "os", "io",
        "sys", "socket", "selectors", "shutil", "pathlib", "tempfile", "glob", "time",
        "datetime", "random", "uuid", "signal", "threading", "multiprocessing", "asyncio",
        "importlib",
    }
)  # fmt: skip
FORBIDDEN_CALLS = frozenset({"open", "print", "input", "exec", "eval", "__import__", "breakpoint"})

# The one-way rule: a module imports only from its own layer or below.
LAYERS = (
    ("pure", ()),  # PURE_PACKAGES and PURE_MODULES
    ("io", ("engine", "inputs", "console")),
    ("phases", ("backends", "debug", "bisect", "samples", "clean")),
    ("app", ("app", "compose_project", "outcome")),
    ("cli", ("cli", "arguments", "compose_cli", "deferred", "__main__", "__init__")),
)
ENGINE_ONLY = frozenset({"docker", "pexpect", "subprocess", "requests"})
MAX_LINES = 400
DATA_TABLES = frozenset({"diagnosis.tables"})  # data, allowed to grow


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def is_pure(module: str) -> bool:
    return module.split(".")[0] in PURE_PACKAGES or module in PURE_MODULES


def layer(module: str) -> int:
    if is_pure(module):
        return 0
    top = module.split(".")[0]
    for rank, (_, tops) in enumerate(LAYERS):
        if top in tops:
            return rank
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS in test_layout.py")


def imports(tree: ast.AST) -> list[str]:
    """Every module an AST imports (absolute; dbugbuild's own as dotted names without the
    package), also inside functions: a late import is an import."""
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, "relative imports are not used here"
            out.append(node.module)
            if node.module == "dbugbuild":  # from dbugbuild import report, logs
                out += [f"dbugbuild.{a.name}" for a in node.names]
    return out


def _own(name: str) -> str | None:
    if name == "dbugbuild" or not name.startswith("dbugbuild."):
        return None
    return name.removeprefix("dbugbuild.")


def purity_violations(source: str) -> list[str]:
    """What makes a module's source not pure: forbidden imports, I/O or environment calls."""
    tree = ast.parse(source)
    found = []
    for name in imports(tree):
        own = _own(name)
        if own is not None:
            if not is_pure(own):
                found.append(f"imports dbugbuild.{own}, which is not pure")
        elif name.split(".")[0] in FORBIDDEN:
            found.append(f"imports {name}")
    for node in ast.walk(tree):
        func = node.func if isinstance(node, ast.Call) else None
        if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
            found.append(f"calls {func.id}()")
    return found


def _source(module: str) -> str:
    return MODULES[module].read_text()


PURE = sorted(m for m in MODULES if is_pure(m))


def test_layout_pure_modules_are_known() -> None:
    assert set(PURE_MODULES) <= set(MODULES)
    assert set(PURE_PACKAGES) <= set(MODULES)
    assert len(PURE) > 30


@pytest.mark.parametrize("module", PURE)
def test_layout_pure_module_does_no_io(module: str) -> None:
    assert purity_violations(_source(module)) == []


@pytest.mark.parametrize(
    "source",
    [
        "import docker",
        "from os import environ",
        "import subprocess",
        "def f():\n    import prompt_toolkit",
        "data = open('x').read()",
        "print('hi')",
        "from dbugbuild.engine import Engine",
        "from dbugbuild import inputs",
        "import time\nnow = time.time()",
    ],
)
def test_layout_purity_check_can_fail(source: str) -> None:
    assert purity_violations(source)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_layout_dependencies_point_one_way(module: str) -> None:
    """cli -> app -> {debug, bisect, backends, samples, clean} -> {engine, inputs, console}
    -> pure."""
    mine = layer(module)
    above = [
        f"dbugbuild.{own} ({LAYERS[layer(own)][0]})"
        for name in imports(ast.parse(_source(module)))
        if (own := _own(name)) is not None and own in MODULES and layer(own) > mine
    ]
    assert above == [], f"{module} ({LAYERS[mine][0]}) imports from above"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_layout_only_the_engine_talks_to_engines(module: str) -> None:
    talking = {n.split(".")[0] for n in imports(ast.parse(_source(module)))} & ENGINE_ONLY
    if module.split(".")[0] != "engine":
        assert talking == set()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_layout_no_source_file_is_a_wall(module: str) -> None:
    lines = len(_source(module).splitlines())
    assert module in DATA_TABLES or lines <= MAX_LINES, f"{module}: {lines} lines"


def test_layout_bisect_and_reports_do_not_load_prompt_toolkit() -> None:
    """A report-only run, --exec and bisect pay nothing for the session's terminal."""
    code = (
        "import sys; import dbugbuild.cli, dbugbuild.app, dbugbuild.bisect.driver, "
        "dbugbuild.debug.runner, dbugbuild.debug.batch; "
        "print(sorted(m for m in sys.modules if m.startswith(('prompt_toolkit', 'pexpect'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
