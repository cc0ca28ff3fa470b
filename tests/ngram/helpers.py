"""Tiny corpora for the n-gram tests, built in memory (no third-party text).

Plain functions of their arguments, called inside tests and fixtures alike (a fixture would
have to return these functions anyway).
"""

from __future__ import annotations

import numpy as np

from lmtool.ngram.container import read_header
from lmtool.text import EOS_ID, EncodedSplit, Vocabulary

WORDS = ["<unk>", "<s>", "</s>", "a", "b", "c", "d"]


def split_of(sentences: list[list[int]], eos: bool = True) -> EncodedSplit:
    """An EncodedSplit of id lists (each sentence gets </s> when ``eos``)."""
    ids, starts = [], [0]
    for sentence in sentences:
        ids.extend(sentence + ([EOS_ID] if eos else []))
        starts.append(len(ids))
    return EncodedSplit(ids=np.array(ids, dtype=np.int32), starts=np.array(starts, dtype=np.int64), n_chars=0)


def vocabulary(n_words: int = 4) -> Vocabulary:
    tokens = WORDS[: 3 + n_words] if n_words <= 4 else WORDS[:3] + [f"w{i}" for i in range(n_words)]
    return Vocabulary(tokens, np.zeros(len(tokens), dtype=np.int64))


def random_sentences(rng: np.random.Generator, n: int, vocab_size: int, max_len: int = 8) -> list[list[int]]:
    """``n`` sentences of ids 3..vocab_size-1 with a Zipf-ish skew, so counts-of-counts are rich."""
    weights = 1.0 / np.arange(1, vocab_size - 2)
    weights /= weights.sum()
    return [list(rng.choice(np.arange(3, vocab_size), size=rng.integers(1, max_len), p=weights)) for _ in range(n)]


def assert_same_model_file(expected, got) -> None:
    """The two container files hold the same header (but for training seconds and the file's
    length, which follows the header's) and the same bytes after it."""
    headers = []
    for path in (expected, got):
        header, start = read_header(path)
        header["training"].pop("seconds", None)
        header.pop("file_bytes")
        headers.append((header, path.read_bytes()[start:]))
    assert headers[0][0] == headers[1][0]
    assert headers[0][1] == headers[1][1]
