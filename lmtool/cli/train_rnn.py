"""``lmtool train-rnn``: train an Elman RNN, LSTM or GRU language model by truncated BPTT."""

from __future__ import annotations

import click

from lmtool.cli.options import corpus_options
from lmtool.cli.training import network_options, output_options, run_training, train_options, training_options
from lmtool.neural.config import CELLS, RnnConfig


@click.command("train-rnn", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--corpus", "spec", required=True, help="Corpus SPEC (see `lmtool corpus --help`).")
@corpus_options
@click.option("--cell", type=click.Choice(CELLS), default="lstm", show_default=True,
              help="Recurrent cell (rnn-*: the simple recurrent network h = f(U h + W x + b)).")
@network_options(emb=200, hidden=200, layers=2, layers_help="Stacked recurrent layers.")
@click.option("--dropout", type=float, default=0.2, show_default=True, help="Dropout on input, between layers and output.")
@click.option("--dropout-input", type=float, default=None, help="Dropout on the embeddings (default --dropout).")
@click.option("--dropout-between", type=float, default=None, help="Dropout between layers (default --dropout).")
@click.option("--dropout-output", type=float, default=None, help="Dropout before the softmax (default --dropout).")
@click.option("--bptt", type=int, default=35, show_default=True, help="Truncated-BPTT window (time steps).")
@click.option("--random-windows", is_flag=True, help="Random-start windows from a zero state instead of contiguous rows.")
@training_options(batch_size=20, batch_help="Batch rows (global under torchrun).", optimizer="sgd",
                  lr_help="Learning rate (default 20 for sgd, 1e-3 for adam/adamw).", clip=0.25)
@output_options
def train_rnn(spec: str, **p) -> None:
    """Train a recurrent language model on --corpus and write it to -o MODEL.

    --seed seeds both the corpus split (for corpora without their own) and training
    (initialisation, dropout, random windows): the same seed gives the same weights on CPU.
    A NaN/inf loss rolls back to the last validated state and divides the learning rate by
    --lr-decay; after 3 such rollbacks the run stops (exit 1), keeping the best model.
    Runs unchanged under `torchrun --nproc_per_node N` (DistributedDataParallel).

    Example: lmtool train-rnn --corpus brown-bengio2003 --cell lstm --emb 200 --hidden 200
    --adaptive-softmax --max-time 30m -o brown.rnn --log brown.jsonl
    """
    drop = {name: p[f"dropout_{name}"] if p[f"dropout_{name}"] is not None else p["dropout"]
            for name in ("input", "between", "output")}

    def make_config(vocab_size: int, cutoffs: list[int]) -> RnnConfig:
        config = RnnConfig(vocab_size=vocab_size, cell=p["cell"], emb_size=p["emb"], hidden_size=p["hidden"],
                           layers=p["layers"], dropout_input=drop["input"], dropout_between=drop["between"],
                           dropout_output=drop["output"], tied=p["tied"], adaptive_cutoffs=cutoffs)
        config.validate()
        return config

    options = train_options(p, bptt=p["bptt"], random_windows=p["random_windows"])
    run_training(spec, p, options, make_config)
