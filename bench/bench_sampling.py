"""Lockstep sampling and side-by-side carried scoring against one row at a time, in the same process.

Sampling: ``--num`` samples of ``--max-tokens`` tokens from ``<s>`` (temperature 1, no cut-off
unless ``--temperature`` / ``--top-k`` / ``--top-p`` say otherwise), twice per model:

- *one row at a time* (the reference, written here as lmtool sampled before its lockstep
  sampler): each sample alone, one model call per token through the one-row protocol
  (``start`` / ``next_log_probs`` / ``advance``), shaped and drawn one row at a time;
- *lockstep*: :func:`lmtool.sampling.sample`, every sample a row of one batched call per step.

The models are Brown's (brown-bengio2003): a modified Kneser-Ney 5-gram fitted here (or
``--ngram FILE``), and the README's RNN size, a 2-layer 256-unit LSTM with the adaptive softmax
over Brown's 14,116-token vocabulary, untrained (random weights: the speed does not depend on
them; or ``--rnn FILE``).

Carried scoring: the RNN's valid and test splits with the state carried across sentences,
each split one sequence: ``score`` of each split in turn (one row each) against
``score_splits`` (the two splits as two rows of the same passes), with the largest difference
between their figures. Per-sentence scoring was already batched; a single carried split is
one sequence and stays one row (no exact scorer can cut it).

Every measurement is the best of ``--repeat`` runs under ``nice -n 5``, the reference's and
lmtool's interleaved: the development machine has 2 cores shared with other jobs.

Run: NLTK_DATA=../shared/nltk_data .venv/bin/python bench/bench_sampling.py [--repeat 3] [--num 64]
     [--max-tokens 100] [--ngram brown5.lmt] [--rnn brown.rnn] [--threads N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED_NLTK = pathlib.Path(os.environ.get("LMTOOL_SHARED", REPO.parent / "shared")) / "nltk_data"
if SHARED_NLTK.is_dir():
    os.environ.setdefault("NLTK_DATA", str(SHARED_NLTK))
sys.path.insert(0, str(REPO))

from lmtool.sampling import sample, shaped_probs  # noqa: E402
from lmtool.text import EOS, load_corpus  # noqa: E402

CORPUS = "brown-bengio2003"


def one_row_at_a_time(model, num: int, max_tokens: int, seed: int, temperature: float, top_k: int | None,
                      top_p: float) -> int:
    """The reference: each sample on its own, one model call and one draw per token; returns the tokens drawn."""
    rng = np.random.default_rng(seed)
    tokens = 0
    for _ in range(num):
        state = model.start([])
        for _ in range(max_tokens):
            log_probs = model.next_log_probs(state)
            cumulative = np.cumsum(shaped_probs(log_probs, temperature, top_k, top_p))
            token = np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")
            state = model.advance(state, int(min(token, len(cumulative) - 1)))
            tokens += 1
    return tokens


def best_times(before, after, repeat: int):
    """Best wall seconds of ``before()`` and ``after()`` over ``repeat`` runs each, interleaved (so that a change
    in the machine's load falls on both), and each one's last result."""
    times, results = [float("inf"), float("inf")], [None, None]
    for _ in range(repeat):
        for i, function in enumerate((before, after)):
            start = time.perf_counter()
            results[i] = function()
            times[i] = min(times[i], time.perf_counter() - start)
    return times, results


def bench_sampling(name: str, model, args) -> dict:
    shaping = dict(temperature=args.temperature, top_k=args.top_k or None, top_p=args.top_p)
    sample(model, "", max_tokens=2, num=2, seed=0)  # warm-up (first calls allocate, a compact file decodes)
    (before, after), (tokens, samples) = best_times(
        lambda: one_row_at_a_time(model, args.num, args.max_tokens, args.seed, **shaping),
        lambda: sample(model, "", max_tokens=args.max_tokens, num=args.num, seed=args.seed, **shaping), args.repeat)
    drawn = sum(len(s.tokens) for s in samples)
    assert drawn == tokens == args.num * args.max_tokens
    row = {"model": name, "tokens": tokens, "one_row_s": before, "lockstep_s": after,
           "one_row_tokens_per_s": tokens / before, "lockstep_tokens_per_s": drawn / after, "ratio": before / after}
    print(f"sample {name:<28} {tokens:>7,} tokens   one row at a time {tokens / before:>9,.0f} tok/s   "
          f"lockstep {drawn / after:>9,.0f} tok/s   {before / after:5.1f}x")
    return row


def bench_carried(model, corpus, repeat: int) -> dict:
    splits = [corpus.splits["valid"], corpus.splits["test"]]
    tokens = sum(s.n_tokens for s in splits)
    (before, after), (alone, together) = best_times(
        lambda: [model.score(s, reset_per_sentence=False) for s in splits],
        lambda: model.score_splits(splits, reset_per_sentence=False), repeat)
    gap = max(float(np.max(np.abs(a - b))) for a, b in zip(alone, together))
    print(f"carried scoring, valid + test ({tokens:,} tokens)   one split at a time {tokens / before:>7,.0f} tok/s   "
          f"side by side {tokens / after:>7,.0f} tok/s   {before / after:5.2f}x   largest difference {gap:.1e} nats")
    return {"tokens": tokens, "one_split_at_a_time_s": before, "side_by_side_s": after, "ratio": before / after,
            "largest_difference_nats": gap}


def brown_rnn(corpus):
    """The README's RNN size over Brown's vocabulary, untrained: 2 x 256 LSTM, embedding 256, adaptive softmax."""
    import torch

    from lmtool.neural.config import RnnConfig, default_cutoffs
    from lmtool.neural.language_model import RnnModel, corpus_meta
    from lmtool.neural.network import RnnNetwork

    torch.manual_seed(0)
    size = len(corpus.vocabulary)
    net = RnnNetwork(RnnConfig(vocab_size=size, emb_size=256, hidden_size=256, layers=2,
                               adaptive_cutoffs=default_cutoffs(size)))
    meta = {"format": "lmtool-rnn", "format_version": 1, **corpus_meta(corpus)}
    return RnnModel(net, corpus.tokenizer, corpus.vocabulary, meta)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--num", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--ngram", type=pathlib.Path, default=None,
                        help="an n-gram model file (default: a KN 5-gram fitted here)")
    parser.add_argument("--rnn", type=pathlib.Path, default=None,
                        help="an RNN model file (default: untrained, the README's size)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--no-carried", action="store_true", help="skip the carried-scoring comparison")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    if not args.temperature > 0:
        parser.error("--temperature must be positive (the reference draws; greedy decoding draws nothing)")
    os.nice(5)
    import torch

    from lmtool.models import load_model
    from lmtool.ngram import fit_ngram
    from lmtool.text import encode_corpus

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"{args.num} samples x {args.max_tokens} tokens, temperature {args.temperature}, top-k {args.top_k}, "
          f"top-p {args.top_p}; best of {args.repeat}; torch threads {torch.get_num_threads()}")
    corpus = load_corpus(CORPUS)
    ngram = load_model(str(args.ngram)) if args.ngram else fit_ngram(corpus, 5)
    rnn = load_model(str(args.rnn)) if args.rnn else brown_rnn(corpus)
    figures = {"sampling": [bench_sampling(f"ngram order {ngram.order} ({ngram.method})", ngram, args),
                            bench_sampling("rnn 2 x 256 lstm, adaptive", rnn, args)]}
    if not args.no_carried:
        scored = corpus if not args.rnn else encode_corpus(CORPUS, rnn.tokenizer, rnn.vocabulary, rnn.unit)
        figures["carried"] = bench_carried(rnn, scored, args.repeat)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
