"""The music recipe, measured: how many sampled folk tunes are well-formed ABC, per model.

Trains a character LSTM for a time budget and fits character n-grams of a few orders on
``../shared/data/irish-abc/irish.abc`` (character stream, first 90% train, then 5% valid, 5%
test), samples N tunes from each (prompt ``X:``, ending at a blank line), checks every tune
with ``abc2midi`` and prints the valid fraction per model, next to the same check on the
corpus's own test tunes (the ceiling: some real tunes fail too). MIDI files of the valid tunes
go to ``--out``.

    .venv/bin/python bench/music_recipe.py --budget 180 --orders 3,5,7 --num 50 --temperatures 1.0,0.7

Needs ``abc2midi`` (``apt-get install abcmidi``).
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lmtool.abc_notation import abc2midi_path, check_tunes, split_tunes, summary  # noqa: E402
from lmtool.compare import CompareOptions, fit_ngrams, train_rnn  # noqa: E402
from lmtool.lm import perplexity  # noqa: E402
from lmtool.sampling import sample  # noqa: E402
from lmtool.text import load_corpus  # noqa: E402

DEFAULT_ABC = REPO.parent / "shared" / "data" / "irish-abc" / "irish.abc"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--abc", default=str(DEFAULT_ABC), help="ABC collection (tunes separated by blank lines)")
    parser.add_argument("--budget", type=float, default=180.0, help="LSTM training time in seconds (0 = no LSTM)")
    parser.add_argument("--orders", default="3,5,7", help="character n-gram orders")
    parser.add_argument("--methods", default="modified-kneser-ney,witten-bell", help="n-gram smoothing methods")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--num", type=int, default=50, help="tunes sampled per model")
    parser.add_argument("--max-tokens", type=int, default=1200, help="characters per sampled tune at most")
    parser.add_argument("--temperatures", default="1.0,0.7", help="sampling temperatures, each a row per model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "music"), help="MIDI files and results.json")
    return parser.parse_args()


def first_tunes(samples) -> list[str]:
    """One tune per sample (what a sample holds from ``X:`` to the blank line); "" when none."""
    tunes = [split_tunes(s.text) for s in samples]
    return [t[0] if t else "" for t in tunes]


def main() -> None:
    args = arguments()
    abc2midi_path()
    out = pathlib.Path(args.out)
    started = time.perf_counter()
    corpus = load_corpus(args.abc, tokenizer="char", unit="stream", split_fractions="0.9,0.05,0.05")
    test_text = corpus.splits["test"]
    reference = summary(check_tunes(split_tunes(_split_text(args.abc, 0.95))))
    options = CompareOptions(orders=[int(o) for o in args.orders.split(",")], methods=args.methods.split(","),
                             rnn_time=args.budget,
                             hidden=args.hidden, emb=64, layers=args.layers, bptt=100, batch_size=32,
                             lr=3e-3, valid_every=100, seed=args.seed)
    models, _ = fit_ngrams(corpus, options)
    if args.budget > 0:
        out.mkdir(parents=True, exist_ok=True)
        models["lstm"] = train_rnn(corpus, options, out / "abc-lstm.safetensors")
    rows = []
    for name, model in models.items():
        bits = perplexity(model.score(test_text, reset_per_sentence=False))[0]
        for temperature in (float(t) for t in args.temperatures.split(",")):
            t0 = time.perf_counter()
            samples = sample(model, "X:", max_tokens=args.max_tokens, num=args.num, temperature=temperature,
                             seed=args.seed, stop="\n\n")
            result = summary(check_tunes(first_tunes(samples), out / f"{name}-T{temperature:g}"))
            rows.append({"model": name, "temperature": temperature, "test_bits_per_char": bits,
                         "tunes": result["tunes"], "valid": result["valid"], "valid_fraction": result["valid_fraction"],
                         "sample_seconds": round(time.perf_counter() - t0, 1)})
    lstm_training = models["lstm"].meta.get("training", {}) if "lstm" in models else {}
    print(f"corpus {args.abc}: {corpus.splits['train'].n_tokens:,} train chars, vocabulary {len(corpus.vocabulary)}")
    print(f"reference: {reference['valid']} of {reference['tunes']} real test tunes pass abc2midi "
          f"({reference['valid_fraction']:.0%})")
    if lstm_training:
        print(f"lstm: hidden {args.hidden} x {args.layers} layer(s), {lstm_training.get('steps')} steps in "
              f"{lstm_training.get('elapsed_s')} s")
    print(f"{'model':8} {'test bits/char':>14} {'T':>4} {'valid tunes':>12} {'fraction':>9}")
    for row in rows:
        print(f"{row['model']:8} {row['test_bits_per_char']:14.3f} {row['temperature']:4g} {row['valid']:>5} of "
              f"{row['tunes']:<4} {row['valid_fraction']:9.0%}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"reference": {k: v for k, v in reference.items() if k != "midi_files"},
                                                  "rows": rows, "args": vars(args),
                                                  "lstm_training": lstm_training,
                                                  "seconds": round(time.perf_counter() - started, 1)}, indent=2,
                                                 default=lambda v: None if isinstance(v, float) and not math.isfinite(v) else str(v)))
    print(f"total {time.perf_counter() - started:.0f} s; MIDI files of valid tunes under {out}/<model>/")


def _split_text(path: str, start_fraction: float) -> str:
    """The text from ``start_fraction`` of the file's characters on (the char-stream test split)."""
    text = pathlib.Path(path).read_text(encoding="utf-8")
    return text[int(len(text) * start_fraction):]


if __name__ == "__main__":
    main()
