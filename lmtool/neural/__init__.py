"""Recurrent language models (Elman RNN, LSTM, GRU): model, batching, training, checkpoints.

The only lmtool package that imports torch; everything else imports it from here, at call time.
"""

from lmtool.neural.model import RnnConfig, RnnLM
from lmtool.neural.rnn import RnnModel, corpus_meta, load_rnn
from lmtool.neural.training import Trainer, TrainOptions

__all__ = ["RnnConfig", "RnnLM", "RnnModel", "TrainOptions", "Trainer", "corpus_meta", "load_rnn"]
