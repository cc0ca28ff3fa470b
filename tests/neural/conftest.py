"""Tiny fixtures for the neural tests: a word vocabulary, small models, a repeated token stream."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmtool.neural.config import RnnConfig
from lmtool.neural.network import RnnNetwork
from lmtool.neural.language_model import RnnModel
from lmtool.text.prepared import compute_fingerprint
from lmtool.text.tokenizers import make_tokenizer
from lmtool.text.vocabulary import Vocabulary

WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran"]


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and the machine's cores are shared."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def vocabulary() -> Vocabulary:
    return Vocabulary.build({w: 10 - i for i, w in enumerate(WORDS)} | {"</s>": 5})


def tiny_config(vocab_size: int = 11, **changes) -> RnnConfig:
    base = dict(vocab_size=vocab_size, emb_size=8, hidden_size=16, layers=2,
                dropout_input=0.0, dropout_between=0.0, dropout_output=0.0)
    return RnnConfig(**(base | changes))


def tiny_model(vocabulary: Vocabulary, seed: int = 0, **changes) -> RnnModel:
    """An untrained (random) RnnModel over ``vocabulary`` with line units."""
    torch.manual_seed(seed)
    tokenizer = make_tokenizer("word")
    net = RnnNetwork(tiny_config(len(vocabulary), **changes))
    meta = {"format": "lmtool-rnn", "format_version": 1, "unit": "line", "tokenizer": tokenizer.to_json(),
            "vocabulary": vocabulary.to_json(), "fingerprint": compute_fingerprint(tokenizer, vocabulary, "line")}
    return RnnModel(net, tokenizer, vocabulary, meta)


def repeated_ids(n_repeats: int = 60) -> np.ndarray:
    """'the cat sat on the mat </s>' over and over (ids 3 4 5 6 3 7 2)."""
    return np.tile(np.array([3, 4, 5, 6, 3, 7, 2], dtype=np.int32), n_repeats)
