"""argparse types for numeric options with an allowed range: a nonsense value (a 0 crop, a negative batch size,
NaN seconds) is refused while the command line is read, before any work, as
`argument --crop: expected an integer >= 1, got 0`."""
from __future__ import annotations

import argparse
import math
from typing import Callable

SEED_MAX = 2**32 - 1   # numpy's and torch's generators both accept 0 .. 2**32 - 1


def _allowed(kind: str, low: float | None, high: float | None, low_open: bool) -> str:
    def show(bound: float) -> str:
        return str(bound) if isinstance(bound, int) else f"{bound:g}"

    if low is not None and high is not None:
        return f"{kind} in {'(' if low_open else '['}{show(low)}, {show(high)}]"
    if low is not None:
        return f"{kind} {'>' if low_open else '>='} {show(low)}"
    return f"{kind} <= {show(high)}" if high is not None else kind


def _ranged(kind: str, convert: Callable[[str], float], low: float | None, high: float | None,
            low_open: bool) -> Callable[[str], float]:
    allowed = _allowed(kind, low, high, low_open)

    def parse(text: str) -> float:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}") from None
        below = low is not None and (value <= low if low_open else value < low)
        if not math.isfinite(value) or below or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text}")
        return value

    return parse


def integer(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """A whole number in [low, high] (either bound may be None)."""
    return _ranged("an integer", int, low, high, False)


def number(low: float | None = None, high: float | None = None, low_open: bool = False) -> Callable[[str], float]:
    """A finite number in [low, high] ((low, high] with `low_open`); NaN and infinities are refused."""
    return _ranged("a finite number", float, low, high, low_open)


positive_int = integer(1)
random_seed = integer(0, SEED_MAX)
