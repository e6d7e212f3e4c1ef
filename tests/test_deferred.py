"""deferred.py: a module deferred by dbugbuild's process (inspect) loads when first used, and
then behaves as the real one for everyone who imported it; every dataclass of dbugbuild has
a docstring, so that making it never uses inspect. Each check in a fresh interpreter: sys.modules
is process-wide."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

SRC = Path(__file__).parent.parent / "src" / "dbugbuild"


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )


def _ok(code: str) -> str:
    done = _python(code)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_deferred_import_binds_a_stand_in_and_loads_nothing() -> None:
    out = _ok(
        """
        import sys
        from dbugbuild.deferred import Deferred, defer
        assert "inspect" not in sys.modules
        defer("inspect")
        import dataclasses, inspect

        @dataclasses.dataclass(frozen=True)
        class Documented:
            '''Has its docstring: dataclasses reads nothing from inspect.'''
            x: int = 1

        print(type(inspect) is Deferred, type(dataclasses.inspect) is Deferred)
        print(sorted({"ast", "dis", "tokenize", "linecache"} & set(sys.modules)))
        print(Documented(2).x, Documented.__doc__.startswith("Has"))
        """
    )
    assert out.splitlines() == ["True True", "[]", "2 True"]


def test_deferred_module_loads_at_first_use_and_is_then_the_real_one() -> None:
    """A dataclass without a docstring has dataclasses read inspect.signature: the real module
    loads then, is sys.modules' own from then on, and the stand-in that dataclasses (and an
    earlier `import inspect`) bound answers with the real module's objects."""
    out = _ok(
        """
        import sys
        from dbugbuild.deferred import Deferred, defer
        defer("inspect")
        import dataclasses
        import inspect as early

        @dataclasses.dataclass
        class Bare:
            x: int
            y: str = "a"

        real = sys.modules["inspect"]
        import inspect as late
        from inspect import signature
        print(type(real) is Deferred, late is real, "ast" in sys.modules)
        print(Bare.__doc__)
        print(early.signature is real.signature, signature is real.signature)
        print(dataclasses.inspect.isclass(Bare), early.__file__ == real.__file__)
        try:
            early.no_such_name
        except AttributeError as exc:
            print(exc)
        """
    )
    assert out.splitlines() == [
        "False True True",
        "Bare(x: int, y: str = 'a')",
        "True True",
        "True True",
        "module 'inspect' has no attribute 'no_such_name'",
    ]


def test_deferred_module_loads_once_when_threads_use_it_together() -> None:
    out = _ok(
        """
        import sys, threading
        from dbugbuild.deferred import defer
        defer("inspect")
        import inspect
        barrier = threading.Barrier(12)
        got = []

        def use():
            barrier.wait()
            got.append(inspect.signature)

        threads = [threading.Thread(target=use) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        real = sys.modules["inspect"]
        print(len(got), all(f is real.signature for f in got), type(real).__name__)
        """
    )
    assert out.split() == ["12", "True", "module"]


def test_deferred_module_that_cannot_load_says_so_at_use_and_stays_deferred() -> None:
    out = _ok(
        """
        import sys
        from dbugbuild.deferred import Deferred, defer
        defer("dbugbuild_no_such_module")
        import dbugbuild_no_such_module as gone
        for _ in range(2):
            try:
                gone.anything
            except ModuleNotFoundError as exc:
                print(exc.name, type(sys.modules["dbugbuild_no_such_module"]) is Deferred)
        """
    )
    assert out.splitlines() == ["dbugbuild_no_such_module True"] * 2


def test_deferring_a_loaded_module_leaves_it() -> None:
    out = _ok(
        """
        import sys, inspect
        from dbugbuild.deferred import defer
        defer("inspect")
        print(sys.modules["inspect"] is inspect)
        """
    )
    assert out.strip() == "True"


def _dataclasses_without_docstring() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef) or ast.get_docstring(node) is not None:
                continue
            for deco in node.decorator_list:
                func = deco.func if isinstance(deco, ast.Call) else deco
                if isinstance(func, ast.Name) and func.id == "dataclass":
                    found.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}")
    return found


def test_every_dataclass_has_a_docstring() -> None:
    """dataclasses writes a docstring-less class one from inspect.signature: inspect would load
    (deferred.py; ~4 ms of a build's start) and each such class cost a signature's making."""
    assert _dataclasses_without_docstring() == []
