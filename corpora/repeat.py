"""``gen:repeat``: a key symbol that must be repeated after a long gap of random filler.

Options: ``keys`` (K <= 26 upper-case key symbols, default 4), ``fillers`` (F <= 26 lower-case
filler symbols, default 4), ``gap`` (G filler symbols between the two copies of the key,
default 20), ``seed`` (default 0), ``length`` (symbols in all splits, default 100000).

The text is a run of independent blocks of L = G + 2 symbols::

    K1 f f f ... f K1   K2 f f ... f K2   ...       (G fillers between the copies)

The first key is uniform over K symbols, the fillers uniform over F, and the closing key is
determined by the opening one. Key and filler alphabets are disjoint, so the block phase is
known after the first key seen, and the entropy rate is exactly

    H = (log2 K + G log2 F) / (G + 2)       bits per symbol.

Predicting the closing key needs G + 1 symbols of context: an n-gram of order n <= G + 1
cannot see the opening key (it pays about log2 K + a guess of where the block ends), while an
LSTM can carry it across the gap. The text starts at a random phase of a block.
"""

from __future__ import annotations

import math
import string
from typing import Sequence

import numpy as np

from corpora import check_memory, generated_splits, int_options
from lmtool.errors import UsageError
from lmtool.text.sources import Source

DEFAULTS = {"keys": 4, "fillers": 4, "gap": 20, "seed": 0, "length": 100_000}
MINIMA = {"keys": 1, "fillers": 1, "gap": 0, "seed": 0, "length": 1}
#: bytes per block position while generating (int64 draws and the uint8 blocks), and per symbol of
#: the text that the text layer then reads (17 measured at 4M symbols)
BYTES_PER_POSITION, BYTES_PER_SYMBOL = 9, 24


def entropy_rate_bits(keys: int, fillers: int, gap: int) -> float:
    """Exact entropy rate in bits per symbol: block entropy over block length."""
    return (math.log2(keys) + gap * math.log2(fillers)) / (gap + 2)


def generate(keys: int, fillers: int, gap: int, length: int, seed: int) -> str:
    """``length`` symbols of the block process, starting at a random phase."""
    rng = np.random.default_rng(seed)
    block = gap + 2
    n_blocks = length // block + 2
    key_letters = np.frombuffer(string.ascii_uppercase.encode("ascii"), dtype=np.uint8)
    filler_letters = np.frombuffer(string.ascii_lowercase.encode("ascii"), dtype=np.uint8)
    key = key_letters[rng.integers(keys, size=n_blocks)]
    blocks = np.empty((n_blocks, block), dtype=np.uint8)  # (blocks, G + 2)
    blocks[:, 0] = key
    blocks[:, 1:-1] = filler_letters[rng.integers(fillers, size=(n_blocks, gap))]
    blocks[:, -1] = key
    phase = int(rng.integers(block))
    return blocks.ravel()[phase : phase + length].tobytes().decode("ascii")


def source(options: dict[str, str], fractions: Sequence[float]) -> Source:
    values = int_options("repeat", options, DEFAULTS, MINIMA)
    if values["keys"] > 26 or values["fillers"] > 26:
        raise UsageError("gen:repeat: keys and fillers must each be at most 26 (letters)")
    block = values["gap"] + 2
    positions = (values["length"] // block + 2) * block  # whole blocks generated (see generate)
    check_memory("repeat", values, BYTES_PER_POSITION * positions + BYTES_PER_SYMBOL * values["length"],
                 "give a smaller length or gap")
    text = generate(values["keys"], values["fillers"], values["gap"], values["length"], values["seed"])
    spec = "gen:repeat:" + ",".join(f"{key}={value}" for key, value in values.items())
    rate = entropy_rate_bits(values["keys"], values["fillers"], values["gap"])
    return generated_splits(spec, text, fractions, rate)
