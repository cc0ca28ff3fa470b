"""From counts to tables: the smoothing-method registry and its one dispatch function.

Every method compiles into :class:`lmtool.ngram.tables.BackoffTables`. ``modified-kneser-ney``
lives in :mod:`lmtool.ngram.modified_kn`; the others in :mod:`lmtool.ngram.estimators`, one
module each, found here by name so that a method whose module is absent is reported as such
instead of failing at import time.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field

from lmtool.errors import UsageError
from lmtool.ngram.counting import NgramCounts
from lmtool.ngram.tables import BackoffTables


@dataclass(frozen=True)
class Method:
    """A smoothing method: where its estimator lives and what it is."""

    target: str  # "module:function"
    normalised: bool
    summary: str


METHODS: dict[str, Method] = {
    "modified-kneser-ney": Method(
        "lmtool.ngram.modified_kn:estimate_modified_kneser_ney", True,
        "interpolated, D1/D2/D3+ per order from counts-of-counts (KenLM lmplz, SRILM -kndiscount -interpolate)"),
    "kneser-ney": Method(
        "lmtool.ngram.estimators.kneser_ney:estimate_kneser_ney", True, "interpolated, one discount per order"),
    "absolute": Method(
        "lmtool.ngram.estimators.absolute:estimate_absolute", True, "interpolated absolute discounting"),
    "witten-bell": Method(
        "lmtool.ngram.estimators.witten_bell:estimate_witten_bell", True, "interpolated Witten-Bell"),
    "katz": Method("lmtool.ngram.estimators.katz:estimate_katz", True, "Good-Turing discounts, backoff"),
    "add-k": Method("lmtool.ngram.estimators.add_k:estimate_add_k", True, "Lidstone add-k"),
    "laplace": Method("lmtool.ngram.estimators.add_k:estimate_laplace", True, "add-one"),
    "mle": Method("lmtool.ngram.estimators.mle:estimate_mle", True, "maximum likelihood (unseen events get 0)"),
    "stupid-backoff": Method(
        "lmtool.ngram.estimators.stupid_backoff:estimate_stupid_backoff", False,
        "Brants et al. 2007; scores, NOT normalised probabilities"),
}

DEFAULT_METHOD = "modified-kneser-ney"


@dataclass
class Estimate:
    """What :func:`estimate` returns: the tables and what reports say about them."""

    tables: BackoffTables
    method: str
    normalised: bool
    parameters: dict
    discounts: list | None = None
    notes: list[str] = field(default_factory=list)


def _resolve(method: str):
    if method not in METHODS:
        raise UsageError(f"unknown smoothing method {method!r}: choose one of {', '.join(METHODS)}")
    module_name, function_name = METHODS[method].target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        module = None
    function = getattr(module, function_name, None)
    if function is None:
        raise UsageError(f"smoothing method {method!r} is not available in this build; use modified-kneser-ney")
    return function


def estimate(counts: NgramCounts, method: str = DEFAULT_METHOD, **params) -> Estimate:
    """Estimate ``method``'s tables from ``counts``; ``params`` are the method's options.

    Options a method does not take (say ``k`` for ``witten-bell``) are a :class:`UsageError`;
    options left at ``None`` are not passed.
    """
    function = _resolve(method)
    given = {name: value for name, value in params.items() if value is not None}
    accepted = set(inspect.signature(function).parameters) - {"counts"}
    unknown = sorted(set(given) - accepted)
    if unknown:
        options = ", ".join("--" + name.replace("_", "-") for name in unknown)
        raise UsageError(f"{options} does not apply to {method}; it takes {', '.join(sorted(accepted)) or 'no options'}")
    result = function(counts, **given)
    discounts = None
    if isinstance(result, BackoffTables):
        tables = result
    else:  # estimators that report discounts return (tables, info dict)
        tables, info = result
        discounts = info.get("discounts")
    return Estimate(tables=tables, method=method, normalised=METHODS[method].normalised,
                    parameters=given, discounts=discounts)
