"""``gen:markov``: an order-k Markov chain over a small alphabet with seeded random transitions.

Options: ``order`` (k, default 2), ``alphabet`` (size A <= 26, letters a, b, ...; default 4),
``seed`` (default 0), ``length`` (symbols in all splits together, default 100000).

Each of the A^k contexts gets a next-symbol distribution drawn from a flat Dirichlet. With
every probability positive the chain over contexts is irreducible and aperiodic, so it has a
unique stationary distribution pi, and its entropy rate is exactly

    H = - sum_c pi(c) sum_x P(x | c) log2 P(x | c)      bits per symbol.

The text starts from a context drawn from pi, so every stretch of it is a sample of the
stationary process. An n-gram model of order k+1 can reach H; lower orders cannot.
"""

from __future__ import annotations

import bisect
import string
from typing import Sequence

import numpy as np

from corpora import check_memory, generated_splits, int_options
from lmtool.errors import UsageError
from lmtool.text.sources import Source

DEFAULTS = {"order": 2, "alphabet": 4, "seed": 0, "length": 100_000}
MINIMA = {"order": 0, "alphabet": 2, "seed": 0, "length": 1}
MAX_CONTEXTS = 2**20
#: peak bytes per symbol while sampling (a float draw and list entries per symbol; 61 measured at 4M symbols)
BYTES_PER_SYMBOL = 64


def transitions(order: int, alphabet: int, seed: int) -> np.ndarray:
    """The (A^k, A) matrix of next-symbol probabilities; row c is the context whose base-A digits are
    its last k symbols, oldest first."""
    return np.random.default_rng(seed).dirichlet(np.ones(alphabet), size=alphabet**order)


def stationary(P: np.ndarray) -> np.ndarray:
    """The stationary distribution over contexts of the chain with next-symbol matrix ``P``.

    Context c followed by symbol x moves to context (c * A + x) mod A^k; power iteration
    converges fast because every transition probability is positive.
    """
    contexts, alphabet = P.shape
    successor = (np.arange(contexts)[:, None] * alphabet + np.arange(alphabet)[None, :]) % contexts
    pi = np.full(contexts, 1.0 / contexts)
    for _ in range(100_000):
        new = np.bincount(successor.ravel(), weights=(pi[:, None] * P).ravel(), minlength=contexts)
        if np.abs(new - pi).sum() < 1e-15:
            return new
        pi = new
    return pi


def entropy_rate_bits(P: np.ndarray) -> float:
    """Exact entropy rate (bits per symbol) of the stationary chain with next-symbol matrix ``P``."""
    pi = stationary(P)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_context = -np.where(P > 0, P * np.log2(P), 0.0).sum(axis=1)
    return float(pi @ per_context)


def sample(P: np.ndarray, length: int, seed: int) -> np.ndarray:
    """``length`` symbols of the stationary chain.

    The loop is per symbol because each draw depends on the previous ones; it runs over plain
    Python lists with bisect (about a microsecond a symbol), which is fine at corpus-generation
    sizes.
    """
    contexts, alphabet = P.shape
    rng = np.random.default_rng([seed, 1])
    cumulative = np.cumsum(P, axis=1)
    cumulative[:, -1] = 1.0
    rows = cumulative.tolist()
    draws = rng.random(length + 1).tolist()
    context = min(int(np.searchsorted(np.cumsum(stationary(P)), draws[0], side="right")), contexts - 1)
    symbols = []
    for u in draws[1:]:
        symbol = bisect.bisect_right(rows[context], u)
        symbols.append(symbol)
        context = (context * alphabet + symbol) % contexts
    return np.asarray(symbols, dtype=np.uint8)


def source(options: dict[str, str], fractions: Sequence[float]) -> Source:
    values = int_options("markov", options, DEFAULTS, MINIMA)
    order, alphabet = values["order"], values["alphabet"]
    if alphabet > 26:
        raise UsageError(f"gen:markov: alphabet must be at most 26 (letters a-z), got {alphabet}")
    if alphabet**order > MAX_CONTEXTS:
        raise UsageError(f"gen:markov: alphabet**order = {alphabet ** order} contexts is too many (max {MAX_CONTEXTS})")
    check_memory("markov", values, BYTES_PER_SYMBOL * values["length"])
    P = transitions(order, alphabet, values["seed"])
    letters = np.frombuffer(string.ascii_lowercase.encode("ascii"), dtype=np.uint8)
    text = letters[sample(P, values["length"], values["seed"])].tobytes().decode("ascii")
    spec = "gen:markov:" + ",".join(f"{key}={value}" for key, value in values.items())
    return generated_splits(spec, text, fractions, entropy_rate_bits(P))
