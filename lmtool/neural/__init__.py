"""Neural language models (Elman RNN, LSTM, GRU, and the feed-forward neural n-gram): config, networks, batching,
training, checkpoints.

The only lmtool package that imports torch. Its names load on first use (PEP 562), so that
``lmtool.neural.config`` (the torch-free options and names the CLI offers) can be imported
without torch; ``from lmtool.neural import load_rnn`` imports torch then.

- :mod:`~lmtool.neural.config`: ``RnnConfig``, ``NnlmConfig``, ``TrainOptions`` and the cell,
  optimiser, schedule and device names (no torch);
- :mod:`~lmtool.neural.network`: ``RnnNetwork``, the recurrent torch module;
  :mod:`~lmtool.neural.feedforward`: ``NnlmNetwork``, the feed-forward neural n-gram (Bengio et
  al. 2003); both end in :mod:`~lmtool.neural.softmax`'s shared output layer;
- :mod:`~lmtool.neural.language_model`: ``RnnModel`` and ``NnlmModel``, trained networks as
  :class:`lmtool.lm.LanguageModel` objects, and ``load_rnn``, ``load_nnlm``;
- :mod:`~lmtool.neural.train`: ``train``, the one training entry point, over
  :mod:`~lmtool.neural.training`'s ``Trainer`` (import it from there: the module has its name).
"""

from __future__ import annotations

import importlib

EXPORTS = {
    "RnnConfig": "lmtool.neural.config",
    "NnlmConfig": "lmtool.neural.config",
    "TrainOptions": "lmtool.neural.config",
    "RnnNetwork": "lmtool.neural.network",
    "NnlmNetwork": "lmtool.neural.feedforward",
    "RnnModel": "lmtool.neural.language_model",
    "NnlmModel": "lmtool.neural.language_model",
    "corpus_meta": "lmtool.neural.language_model",
    "load_rnn": "lmtool.neural.language_model",
    "load_nnlm": "lmtool.neural.language_model",
    "Trainer": "lmtool.neural.training",
}

__all__ = list(EXPORTS)


def __getattr__(name: str):
    if name not in EXPORTS:
        raise AttributeError(f"module 'lmtool.neural' has no attribute {name!r}")
    return getattr(importlib.import_module(EXPORTS[name]), name)
