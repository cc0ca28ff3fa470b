"""Named corpora and generated corpora of known entropy rate.

Named corpora (a spec that is just a name):

====================  ===========================================================
``brown-bengio2003``  NLTK's Brown corpus split as in Bengio et al. 2003
====================  ===========================================================

Generated corpora (``gen:NAME[:key=value,...]``), character streams whose true entropy rate
in bits per symbol is known exactly, so a report can show how close a model gets to the limit:

============  ====================================================================
``markov``    order-k Markov chain over a small alphabet, seeded random transitions
``repeat``    a key symbol repeated after a long gap of random filler (long range)
============  ====================================================================

Each module here exposes ``source(...) -> lmtool.text.sources.Source``; modules are imported
only when their corpus is asked for.
"""

from __future__ import annotations

import importlib
from typing import Sequence

from lmtool.errors import DataError, UsageError
from lmtool.text.sources import SPLIT_NAMES, Source
from lmtool.text.splits import split_sizes

NAMED = {"brown-bengio2003": "corpora.brown_bengio2003"}
GENERATORS = {"markov": "corpora.markov", "repeat": "corpora.repeat"}


def named_source(name: str) -> Source | None:
    """The named corpus ``name``, or None when there is no such name."""
    module = NAMED.get(name)
    return importlib.import_module(module).source() if module else None


def generated_source(name: str, options: str, fractions: Sequence[float]) -> Source:
    """The generated corpus ``gen:name:options``, cut into splits by ``fractions``."""
    module = GENERATORS.get(name)
    if module is None:
        raise DataError(f"unknown generated corpus gen:{name}: choose one of {', '.join('gen:' + g for g in GENERATORS)}")
    return importlib.import_module(module).source(parse_options(name, options), fractions)


def parse_options(name: str, text: str) -> dict[str, str]:
    """``"order=2,seed=3"`` as ``{"order": "2", "seed": "3"}``."""
    options = {}
    for item in filter(None, text.split(",")):
        key, equals, value = item.partition("=")
        if not equals or not key.strip() or not value.strip():
            raise UsageError(f"gen:{name}: bad option {item!r}: write key=value pairs separated by commas")
        options[key.strip()] = value.strip()
    return options


def int_options(name: str, options: dict[str, str], defaults: dict[str, int], minima: dict[str, int]) -> dict[str, int]:
    """The integer options of generator ``name``: given values checked against ``minima``, else defaults."""
    unknown = set(options) - set(defaults)
    if unknown:
        raise UsageError(f"gen:{name} has no option {', '.join(sorted(unknown))}: it takes {', '.join(defaults)}")
    values = dict(defaults)
    for key, text in options.items():
        try:
            values[key] = int(text)
        except ValueError:
            raise UsageError(f"gen:{name}: {key} must be an integer, got {text!r}") from None
    for key, low in minima.items():
        if values[key] < low:
            raise UsageError(f"gen:{name}: {key} must be at least {low}, got {values[key]}")
    return values


def generated_splits(name: str, symbols: str, fractions: Sequence[float], entropy_rate_bits: float) -> Source:
    """A :class:`Source` of the generated text ``symbols`` cut contiguously by ``fractions``.

    Cutting one stationary sequence keeps every split a sample of the same process.
    """
    splits, start = {}, 0
    for split, fraction, size in zip(SPLIT_NAMES, fractions, split_sizes(len(symbols), fractions)):
        if fraction > 0:  # a split too small to hold a symbol stays, and is reported empty
            piece = symbols[start : start + size]
            splits[split] = lambda piece=piece: iter((piece,))
        start += size
    defaults = {"tokenizer": "char", "unit": "stream"}
    return Source(name, splits=splits, entropy_rate_bits=entropy_rate_bits, defaults=defaults, cut_by_fractions=True)
