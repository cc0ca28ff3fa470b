"""Named corpora and generated corpora of known entropy rate, registered into the text layer.

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

Each module here exposes ``source(...) -> lmtool.text.sources.Source``. The text layer never
imports this package (imports flow one way): :func:`register` puts the sources in
:mod:`lmtool.text.registry`, and ``pyproject.toml`` declares it as the ``lmtool.corpora`` entry
point, so the registry calls it the first time a spec names a corpus it does not know.
"""

from __future__ import annotations

from typing import Sequence

from lmtool.errors import UsageError
from lmtool.limits import check_fits
from lmtool.text.registry import register_corpus, register_generator
from lmtool.text.sources import SPLIT_NAMES, Source
from lmtool.text.splits import split_sizes


def register() -> None:
    """Register lmtool's corpora (the ``lmtool.corpora`` entry point; running it twice is harmless)."""
    from corpora import brown_bengio2003, markov, repeat  # here: they import the helpers below

    register_corpus("brown-bengio2003", brown_bengio2003.source)
    register_generator("markov", markov.source)
    register_generator("repeat", repeat.source)


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


def check_memory(name: str, values: dict[str, int], need: int, fix: str = "give a smaller length") -> None:
    """Refuse a generator's options when making its text would take ``need`` bytes, more than this
    machine's memory: one clear error with the size, rather than an allocation error or swapping."""
    options = ",".join(f"{key}={value}" for key, value in values.items())
    check_fits(f"generating gen:{name}:{options}", need, fix)


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
