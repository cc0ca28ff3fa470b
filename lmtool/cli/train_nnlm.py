"""``lmtool train-nnlm``: train the feed-forward neural n-gram of Bengio et al. (2003)."""

from __future__ import annotations

import click

from lmtool.cli.options import corpus_options
from lmtool.cli.training import network_options, output_options, run_training, train_options, training_options
from lmtool.neural.config import NnlmConfig


@click.command("train-nnlm", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--corpus", "spec", required=True, help="Corpus SPEC (see `lmtool corpus --help`).")
@corpus_options
@click.option("--context", type=int, default=4, show_default=True,
              help="Tokens of context K (the model is a (K+1)-gram; <s> pads a sentence's start).")
@network_options(emb=60, hidden=100, layers=1, layers_help="Stacked tanh hidden layers.")
@click.option("--dropout", type=float, default=0.2, show_default=True,
              help="Dropout on the concatenated embeddings and after every hidden layer.")
@click.option("--direct", is_flag=True, help="Direct connections from the embeddings to the softmax (the paper's W).")
@training_options(batch_size=512, batch_help="Positions per batch (global under torchrun).", optimizer="adam",
                  lr_help="Learning rate (default 1e-3 for adam/adamw, 20 for sgd).", clip=1.0)
@output_options
def train_nnlm(spec: str, **p) -> None:
    """Train a feed-forward neural n-gram on --corpus and write it to -o MODEL.

    The network of Bengio et al. (2003): the embeddings of the --context previous tokens,
    concatenated, through tanh hidden layers to a softmax over the vocabulary (optionally with
    direct connections). It makes the n-gram's Markov assumption but learns its smoothing, so
    it sits between `fit-ngram` and `train-rnn` on one ladder. Batches are random n-gram windows
    from the whole train split, all positions in parallel; validation scores every position
    exactly. Training options, budgets, checkpoints, --resume, --log and torchrun work as in
    train-rnn; eval, sample, info and compare take the model like any other.

    Example: lmtool train-nnlm --corpus brown-bengio2003 --context 4 --emb 60 --hidden 100
    --adaptive-softmax --lr 2e-3 --max-steps 16000 --valid-every 2000 -o brown5.nnlm
    """

    def make_config(vocab_size: int, cutoffs: list[int]) -> NnlmConfig:
        config = NnlmConfig(vocab_size=vocab_size, context=p["context"], emb_size=p["emb"], hidden_size=p["hidden"],
                            layers=p["layers"], dropout=p["dropout"], direct=p["direct"], tied=p["tied"],
                            adaptive_cutoffs=cutoffs)
        config.validate()
        return config

    run_training(spec, p, train_options(p), make_config)
