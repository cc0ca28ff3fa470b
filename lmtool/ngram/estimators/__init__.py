"""The smoothing methods estimated from raw counts, one small module each, and their registry.

Each method is a function ``estimate_<method>(counts: NgramCounts, **params)`` that compiles the
counts into the backoff (ARPA) form of :mod:`lmtool.ngram.tables` with array operations over
whole orders (shared helpers in :mod:`._grouping`). It returns the :class:`BackoffTables`, or,
for the methods with discounts a report should show (absolute, kneser-ney, katz), the pair
``(tables, {"discounts": [... per order]})`` as ``estimate_modified_kneser_ney`` does.
:data:`ESTIMATORS` maps the method names the CLI accepts (in the order ``fit-ngram --help``
lists them, after the default) to an :class:`Estimator`: where its function is, whether its
scores are probabilities, and its parameters with defaults and validation. A method's module is
imported when the method first runs, so listing and checking the methods (``fit-ngram`` builds
its ``--smoothing`` choices at start, even to convert an ARPA file) imports none of them.
``modified-kneser-ney`` (the default method) lives in :mod:`lmtool.ngram.modified_kneser_ney`;
:data:`lmtool.ngram.fit.METHODS` adds it first and is the one list of every method.

==================  ==========  ==============================================================
method              normalised  parameters
==================  ==========  ==============================================================
kneser-ney          yes         discount in (0, 1] (default: n1/(n1+2 n2) per order)
absolute            yes         discount in (0, 1] (default: n1/(n1+2 n2) per order)
witten-bell         yes         none
katz                yes         gtmax >= 2 (default 5)
add-k               yes         k >= 0 (default 0.5)
laplace             yes         none (add-k with k = 1)
mle                 yes         none
stupid-backoff      NO          alpha in (0, 1] (default 0.4)
==================  ==========  ==============================================================
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from lmtool.errors import UsageError
from lmtool.ngram.counting import NgramCounts
from lmtool.ngram.tables import BackoffTables


def _number(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"--{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise UsageError(f"--{name} must be a finite number, got {value!r}")
    return number


def check_k(name: str, value: Any) -> float:
    """Lidstone's k: any number >= 0 (0 is maximum likelihood, 1 is Laplace)."""
    k = _number(name, value)
    if k < 0:
        raise UsageError(f"--{name} must be >= 0 (k is added to every count), got {value}: try --{name} 0.5 or --smoothing laplace")
    return k


def check_discount(name: str, value: Any) -> float | None:
    """An absolute discount in (0, 1], or None to estimate one per order from counts-of-counts."""
    if value is None:
        return None
    d = _number(name, value)
    if not 0.0 < d <= 1.0:
        raise UsageError(f"--{name} must be in (0, 1] (it is subtracted from counts >= 1), got {value}: omit it to estimate D = n1/(n1+2 n2) per order")
    return d


def check_gtmax(name: str, value: Any) -> int:
    """Katz's threshold k: an integer >= 2 (k = 1 gives singletons probability 0)."""
    number = _number(name, value)
    if number != int(number) or number < 2:
        raise UsageError(f"--{name} must be an integer >= 2 (counts up to it are Good-Turing discounted), got {value}: the usual value is 5")
    return int(number)


def check_alpha(name: str, value: Any) -> float:
    """Stupid backoff's penalty: a number in (0, 1]."""
    alpha = _number(name, value)
    if not 0.0 < alpha <= 1.0:
        raise UsageError(f"--{name} must be in (0, 1] (the score factor per backoff step), got {value}: Brants et al. use 0.4")
    return alpha


@dataclass(frozen=True)
class Param:
    """One parameter of a method: its name (the CLI flag without ``--``), default and checker."""

    name: str
    default: Any
    check: Callable[[str, Any], Any]
    help: str


@dataclass(frozen=True)
class Estimator:
    """A smoothing method: where its function is, whether it is a probability model, its parameters."""

    name: str
    location: str  # "module:function", imported when the method first runs
    normalised: bool
    params: tuple[Param, ...]
    summary: str

    @property
    def function(self) -> Callable[..., "BackoffTables | tuple[BackoffTables, dict]"]:
        """The estimating function, its module imported on first use."""
        module, name = self.location.split(":")
        return getattr(importlib.import_module(module), name)

    def resolve(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Validated parameters, defaults filled in; ``None`` in ``given`` means "not given".

        A parameter this method does not take is a :class:`UsageError`, so a flag that would
        be silently ignored (``--k`` with ``katz``) is reported instead.
        """
        names = {p.name for p in self.params}
        stray = sorted(key for key, value in given.items() if value is not None and key not in names)
        if stray:
            takes = ", ".join(f"--{n}" for n in sorted(names)) or "no options"
            flags = ", ".join(f"--{s}" for s in stray)
            raise UsageError(f"{flags} does not apply to --smoothing {self.name} (it takes {takes}): drop it or pick another method")
        return {p.name: p.check(p.name, p.default if given.get(p.name) is None else given[p.name]) for p in self.params}

    def estimate(self, counts: NgramCounts, **given: Any) -> tuple[BackoffTables, dict]:
        """Validate ``given``, run the method on ``counts``: the tables and an info dict."""
        result = self.function(counts, **self.resolve(given))
        return result if isinstance(result, tuple) else (result, {})


_DISCOUNT = Param("discount", None, check_discount, "one absolute discount for every order (default: n1/(n1+2 n2) per order)")

ESTIMATORS: dict[str, Estimator] = {
    e.name: e
    for e in (
        Estimator("kneser-ney", f"{__name__}.kneser_ney:estimate_kneser_ney", True, (_DISCOUNT,), "interpolated Kneser-Ney, one discount per order"),
        Estimator("absolute", f"{__name__}.absolute:estimate_absolute", True, (_DISCOUNT,), "interpolated absolute discounting"),
        Estimator("witten-bell", f"{__name__}.witten_bell:estimate_witten_bell", True, (), "interpolated Witten-Bell"),
        Estimator("katz", f"{__name__}.katz:estimate_katz", True, (Param("gtmax", 5, check_gtmax, "counts up to this are Good-Turing discounted"),), "Katz backoff with Good-Turing discounts"),
        Estimator("add-k", f"{__name__}.add_k:estimate_add_k", True, (Param("k", 0.5, check_k, "added to every count (Lidstone)"),), "Lidstone add-k, backed off to the lower orders"),
        Estimator("laplace", f"{__name__}.add_k:estimate_laplace", True, (), "add-one (add-k with k = 1)"),
        Estimator("mle", f"{__name__}.mle:estimate_mle", True, (), "maximum likelihood (unseen events get probability 0)"),
        Estimator("stupid-backoff", f"{__name__}.stupid_backoff:estimate_stupid_backoff", False, (Param("alpha", 0.4, check_alpha, "score factor per backoff step"),), "stupid backoff (Brants et al. 2007): scores, NOT probabilities"),
    )
}


def get_estimator(method: str) -> Estimator:
    """The registered method called ``method``; a :class:`UsageError` naming the choices otherwise."""
    try:
        return ESTIMATORS[method]
    except KeyError:
        choices = ", ".join(["modified-kneser-ney", *ESTIMATORS])
        raise UsageError(f"unknown smoothing method {method!r}: choose one of {choices}") from None


__all__ = ["ESTIMATORS", "Estimator", "Param", "get_estimator"]
