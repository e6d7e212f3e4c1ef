"""Start-up: a standard module that is imported on a build's way to its CLI but not used there,
loaded only when something first reads from it.

`dataclasses` imports `inspect` (with ast, dis, tokenize and linecache: ~4 ms of the 20-25 a
build's start takes before its CLI runs, benchmarks/README.md) and uses it only to write a
signature into the docstring of a dataclass that has none. dbugbuild's process (cli.py's
process_main, never an in-process caller's) puts a stand-in for it in sys.modules first: an
`import inspect` binds the stand-in, and the first attribute read from it imports the real
module, which from then on is sys.modules' own and whose names the stand-in holds too
(modules that bound it see the real one's functions). Thread-safe: one thread imports it,
the others wait for it.
"""

from __future__ import annotations

import sys
from _thread import RLock

TYPE_CHECKING = False  # not typing's (cli.py)
if TYPE_CHECKING:
    from types import ModuleType
else:
    ModuleType = type(sys)  # types' own, without importing types at the process's start

_LOADING = RLock()


class Deferred(ModuleType):
    """A module's stand-in until one of its attributes is read (defer())."""

    def __getattr__(self, attr: str) -> object:  # only what the stand-in lacks: before loading
        name = self.__name__
        with _LOADING:
            if sys.modules.get(name) is self:
                del sys.modules[name]
                try:
                    real = __import__(name)
                except BaseException:
                    sys.modules[name] = self
                    raise
                vars(self).update(vars(real))
        try:
            return vars(self)[attr]
        except KeyError:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}") from None


def defer(name: str) -> None:
    """Load the top-level module `name` when it is first used, not when it is imported (no-op
    when it is loaded already)."""
    if name not in sys.modules:
        sys.modules[name] = Deferred(name)
