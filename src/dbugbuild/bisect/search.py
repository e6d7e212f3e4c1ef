"""PURE: the bisection's search, a function of a probe callback (position -> does that layer show
what the final layer shows?). Never does I/O, prints, or reads the clock or the environment.

Guarantees of `search(n, shows)`:
- it probes the final layer first, then the first layer, then gallops back from the
  final layer (1, 2, 4, ... layers) and binary-searches between the last two probes;
- it never probes a position twice, and makes at most `probe_budget(n)`
  (ceil(log2 n) + 2) probes beyond the final layer, wherever the transition is: the
  gallop is cut short when continuing could exceed that;
- a culprit it reports is a real transition: the layer before it was probed and does
  not show the final's behaviour, the culprit's layer was probed and does; and no
  layer probed after it says otherwise (the latest transition the probes saw);
- it reports `inconsistent` when the probes show the final's behaviour at an earlier
  layer than one that does not (the check is not monotonic over the layers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["found", "not-shown", "no-transition"]


@dataclass(frozen=True)
class Search:
    """Where the final layer's behaviour begins, and the probes that showed it."""

    verdict: Verdict
    first_bad: int | None  # the position from which on the probed layers show the final's behaviour
    last_good: int | None  # first_bad - 1: probed, and does not show it
    probes: tuple[tuple[int, bool], ...]  # (position, shows the final's behaviour), in order
    inconsistent: bool


def probe_budget(n: int) -> int:
    """The most probes `search` makes beyond the final layer's: ceil(log2 n) + 2."""
    return (n - 1).bit_length() + 2


def search(n: int, shows: Callable[[int], bool]) -> Search:
    """Find the latest transition into the behaviour the final layer (n - 1) shows.

    `shows(i)` probes position i (0 = the first layer) and says whether it behaves as
    the final layer must: a failing check, or a passing one for --until-pass.
    """
    if n < 1:
        raise ValueError(f"nothing to search: {n} layers")
    log: list[tuple[int, bool]] = []

    def probe(position: int) -> bool:
        if any(p == position for p, _ in log):  # a bug, never the user's: say so loudly
            raise AssertionError(f"position {position} probed twice")
        result = bool(shows(position))
        log.append((position, result))
        return result

    final = n - 1
    if not probe(final):
        return _search("not-shown", None, None, log)
    if n == 1:
        return _search("no-transition", None, None, log)
    # The first layer: whether the other behaviour exists at the start. When it shows the
    # final's behaviour too, it is still taken as the lower bound: a layer found between
    # that does not show it makes a real (latest) transition; none found, there is none.
    probe(0)
    left = probe_budget(n) - 1
    lo, hi = 0, final  # hi shows the final's behaviour; lo does not (or is the first layer)
    galloping, offset = True, 1
    while hi - lo > 1 and left > 0:
        # Invariant: hi - lo <= 2 ** left. Whichever way this probe goes, what remains
        # between lo and hi must be at most half that, so the budget is never exceeded.
        half = 1 << (left - 1)
        target = final - offset if galloping else (lo + hi) // 2
        offset *= 2
        position = min(max(target, hi - half), lo + half)
        position = min(max(position, lo + 1), hi - 1)
        left -= 1
        if probe(position):
            hi = position
        else:
            lo, galloping = position, False
    if all(s for _, s in log):
        return _search("no-transition", None, None, log)
    assert hi == lo + 1, (lo, hi)
    return _search("found", hi, lo, log)


def _search(
    verdict: Verdict, first_bad: int | None, last_good: int | None, log: list[tuple[int, bool]]
) -> Search:
    showing = [p for p, s in log if s]
    other = [p for p, s in log if not s]
    inconsistent = bool(showing and other and min(showing) < max(other))
    return Search(verdict, first_bad, last_good, tuple(log), inconsistent)
