"""Benchmark lmtool's n-gram engine on brown-bengio2003 against KenLM's figures and nltk.lm.

Measures, for each order (default 3 and 5), on the Brown split of Bengio et al. (2003):

- estimation wall time (counting + modified Kneser-Ney, best of five after a warm-up run),
  against lmplz's times on this machine quoted in the issue (order 5 about 1.3 s; order 3 about 1-3 s, taken as 1.3 s);
- scoring throughput (tokens/s) over the test split, repeated to about a million tokens;
- peak memory of the estimation (tracemalloc; numpy reports its buffers to it) and of the
  whole process (ru_maxrss), bytes per stored n-gram in memory and in the .npz file;
- test and valid perplexity against lmplz's published 147.70 / 156.92 (order 3) and
  146.74 / 156.00 (order 5);
- nltk.lm's KneserNeyInterpolated fitted on the same train ids (same vocabulary, as strings;
  the faster of two fits, so both sides get a best-of time) and scoring the first N test
  trigrams (it manages about 13 tokens/s), printed as ratios.
  nltk's ``fit`` only counts (its Kneser-Ney arithmetic runs at query time), so the fair
  end-to-end figure is fit + scoring the test split, extrapolated from the N tokens.

Run: .venv/bin/python bench/bench_ngram.py [--orders 3 5] [--nltk-order 3] [--nltk-tokens 300]
(needs NLTK's Brown corpus: NLTK_DATA=../shared/nltk_data, set automatically when present).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import sys
import tempfile
import time
import tracemalloc

import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED_NLTK = REPO.parent / "shared" / "nltk_data"
if SHARED_NLTK.is_dir():
    os.environ.setdefault("NLTK_DATA", str(SHARED_NLTK))

from lmtool.ngram import fit_ngram, save_ngram  # noqa: E402
from lmtool.ngram.counting import padded_stream, token_positions  # noqa: E402
from lmtool.text import EncodedSplit, load_corpus  # noqa: E402

KENLM_PPL = {3: (147.70, 156.92), 5: (146.74, 156.00)}
LMPLZ_SECONDS = {3: 1.3, 5: 1.3}


def repeated(split: EncodedSplit, target: int) -> EncodedSplit:
    """``split`` concatenated with itself until it holds at least ``target`` tokens."""
    times = max(1, -(-target // split.n_tokens))
    ids = np.tile(split.ids, times)
    offsets = np.arange(times, dtype=np.int64)[:, None] * split.n_tokens
    starts = np.concatenate([(split.starts[:-1][None, :] + offsets).ravel(), [len(ids)]])
    return EncodedSplit(ids=ids, starts=starts, n_chars=split.n_chars * times)


def bench_lmtool(corpus, order: int) -> dict:
    """Estimation time/memory, scoring speed, storage and perplexities of one order."""
    model = fit_ngram(corpus, order)  # the first run also pays for imports and page faults
    fit_seconds = min(_timed(lambda: fit_ngram(corpus, order)) for _ in range(5))
    tracemalloc.start()
    fit_ngram(corpus, order)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    big = repeated(corpus.splits["test"], 1_000_000)
    model.score(big)  # warm the lookup keys
    best = min(_timed(lambda: model.score(big)) for _ in range(3))
    tables = model.tables
    n_ngrams = sum(len(g) for g in tables.ngrams)
    in_memory = sum(a.nbytes for arrays in (tables.ngrams, tables.log10_probs, tables.log10_backoffs) for a in arrays)
    with tempfile.TemporaryDirectory() as directory:
        path = pathlib.Path(directory) / "m.npz"
        save_ngram(model, path)
        file_bytes = path.stat().st_size
    return {
        "order": order,
        "ngrams": tables.n_listed(),
        "fit_seconds": fit_seconds,
        "fit_peak_mb": traced_peak / 2**20,
        "score_tokens": big.n_tokens,
        "score_tokens_per_second": big.n_tokens / best,
        "bytes_per_ngram_memory": in_memory / n_ngrams,
        "bytes_per_ngram_file": file_bytes / n_ngrams,
        "test_ppl": model.perplexity(corpus.splits["test"]),
        "valid_ppl": model.perplexity(corpus.splits["valid"]),
        "model": model,
    }


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def _timed_nltk_fit(model_class, pipeline, order: int, sentences: list) -> tuple[float, object]:
    """Seconds nltk.lm takes to pad, count and fit ``sentences``, and the fitted model."""
    started = time.perf_counter()
    grams, vocab = pipeline(order, sentences)
    lm = model_class(order)
    lm.fit(grams, vocab)
    return time.perf_counter() - started, lm


def bench_nltk(corpus, model, order: int, n_tokens: int) -> dict:
    """nltk.lm KneserNeyInterpolated on the same ids: fit time, and scoring of ``n_tokens`` test tokens."""
    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import padded_everygram_pipeline

    tokens = np.array(corpus.vocabulary.tokens, dtype=object)
    train = corpus.splits["train"]
    sentences = [list(tokens[s[:-1]]) for s in train.segments()]  # nltk pads with </s> itself
    first_seconds, _ = _timed_nltk_fit(KneserNeyInterpolated, padded_everygram_pipeline, order, sentences)
    second_seconds, lm = _timed_nltk_fit(KneserNeyInterpolated, padded_everygram_pipeline, order, sentences)
    fit_seconds = min(first_seconds, second_seconds)
    # the first n_tokens predictions of the test split, each with lmtool's context (<s> once)
    test = corpus.splits["test"]
    stream, _ = padded_stream(test.ids, test.starts)
    target = token_positions(test.starts)
    segment_start = np.repeat(test.starts[:-1] + np.arange(test.n_segments), np.diff(test.starts))
    positions = target[:n_tokens]
    contexts = [tuple(tokens[stream[max(segment_start[i], p - order + 1) : p]]) for i, p in enumerate(positions)]
    words = [tokens[stream[p]] for p in positions]
    started = time.perf_counter()
    nltk_scores = [lm.logscore(w, c) for w, c in zip(words, contexts)]
    score_seconds = time.perf_counter() - started
    ours = model.score(EncodedSplit(ids=test.ids, starts=test.starts, n_chars=0))[:n_tokens] / np.log(2)
    finite = np.isfinite(nltk_scores)
    return {
        "order": order,
        "fit_seconds": fit_seconds,
        "score_tokens": n_tokens,
        "score_tokens_per_second": n_tokens / score_seconds,
        "subset_ppl_nltk": float(2 ** -np.mean(np.array(nltk_scores)[finite])),
        "subset_ppl_lmtool": float(2 ** -np.mean(ours[finite])),
        "nltk_infinite": int((~finite).sum()),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--nltk-order", type=int, default=3, help="order of the nltk.lm comparison (0: skip)")
    parser.add_argument("--nltk-tokens", type=int, default=300, help="test tokens nltk.lm scores")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    corpus = load_corpus("brown-bengio2003")
    sizes = {name: split.n_tokens for name, split in corpus.splits.items()}
    print(f"brown-bengio2003: vocabulary {len(corpus.vocabulary):,}, tokens {sizes} "
          f"(loaded in {time.perf_counter() - started:.1f} s)")
    results = {"corpus": sizes, "lmtool": [], "nltk": None}
    models = {}
    print(f"{'order':>5} {'fit s':>7} {'vs lmplz':>8} {'peak MB':>8} {'score tok/s':>12} {'B/ngram':>8} "
          f"{'B/ngram file':>12} {'test ppl':>9} {'KenLM':>7} {'valid ppl':>9} {'KenLM':>7}")
    for order in args.orders:
        r = bench_lmtool(corpus, order)
        models[order] = r.pop("model")
        results["lmtool"].append(r)
        kt, kv = KENLM_PPL.get(order, (float("nan"), float("nan")))
        print(f"{order:>5} {r['fit_seconds']:>7.2f} {r['fit_seconds'] / LMPLZ_SECONDS.get(order, np.nan):>7.2f}x "
              f"{r['fit_peak_mb']:>8.0f} {r['score_tokens_per_second']:>12,.0f} {r['bytes_per_ngram_memory']:>8.1f} "
              f"{r['bytes_per_ngram_file']:>12.1f} {r['test_ppl']:>9.2f} {kt:>7.2f} {r['valid_ppl']:>9.2f} {kv:>7.2f}")
        print(f"      n-grams per order {r['ngrams']}; test ppl off KenLM by {100 * (r['test_ppl'] / kt - 1):+.3f}%, "
              f"valid by {100 * (r['valid_ppl'] / kv - 1):+.3f}%")
    if args.nltk_order:
        order = args.nltk_order
        model = models.get(order) or fit_ngram(corpus, order)
        ours = next((r for r in results["lmtool"] if r["order"] == order), None) or bench_lmtool(corpus, order)
        print(f"nltk.lm KneserNeyInterpolated order {order}: fitting on the full train split ...", flush=True)
        n = bench_nltk(corpus, model, order, args.nltk_tokens)
        results["nltk"] = n
        print(f"  fit {n['fit_seconds']:.1f} s (lmtool {ours['fit_seconds']:.2f} s: "
              f"{n['fit_seconds'] / ours['fit_seconds']:.0f}x faster)")
        print(f"  scoring {n['score_tokens_per_second']:.1f} tokens/s on {n['score_tokens']} test tokens "
              f"(lmtool {ours['score_tokens_per_second']:,.0f} tokens/s: "
              f"{ours['score_tokens_per_second'] / n['score_tokens_per_second']:,.0f}x faster)")
        test_tokens = corpus.splits["test"].n_tokens
        nltk_total = n["fit_seconds"] + test_tokens / n["score_tokens_per_second"]
        ours_total = ours["fit_seconds"] + test_tokens / ours["score_tokens_per_second"]
        print(f"  fit + score the whole test split ({test_tokens:,} tokens): nltk about {nltk_total:,.0f} s "
              f"(extrapolated), lmtool {ours_total:.2f} s: {nltk_total / ours_total:,.0f}x faster")
        print(f"  perplexity on those tokens: nltk {n['subset_ppl_nltk']:.2f} (its KN: one discount 0.1, "
              f"n-1 <s> pads), lmtool {n['subset_ppl_lmtool']:.2f}; nltk gave -inf to {n['nltk_infinite']}")
    print(f"peak resident memory of the whole run: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
