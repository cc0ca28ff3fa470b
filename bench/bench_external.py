"""Out-of-core n-gram estimation (``fit-ngram --memory``) on a generated corpus 10x its budget.

Writes a generated word corpus (default 240 MB) to a temporary file, then fits the same order-3
modified Kneser-Ney model three ways, each ``lmtool fit-ngram`` in a fresh process: in memory,
``--memory BUDGET --workers 1`` and ``--workers 2``. Prints wall time, peak RSS (while counting
and overall, estimation included) against the budget, the ratio to the in-memory fit, and
whether the three models are identical array by array.

The corpus: a first-order walk over V words, ``x[t+1] = (x[t] + step) mod V`` with the step drawn
from 20 fixed offsets with Zipf weights (vectorised as a cumulative sum), 1% of the tokens
replaced by Zipf noise over 20 V other words, cut into lines of 5-25 words. Its text grows with
the length much faster than its n-gram tables (the walk alone has at most V*20 bigrams and
V*400 trigrams), so a corpus far larger than the budget still has a model that fits in memory.
Being artificial, its counts-of-counts can leave a Kneser-Ney discount out of range, so every
fit passes ``--discount-fallback`` (the same deterministic discounts in all three runs).

    .venv/bin/python bench/bench_external.py                 # 240 MB, --memory 20M, order 3
    .venv/bin/python bench/bench_external.py --size-mb 20 --memory 4M   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def write_corpus(path: str, size_mb: float, vocab: int = 2000, seed: int = 0) -> int:
    """Write the generated corpus (see the module docstring) of about ``size_mb`` MB; returns bytes."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    spellings = {"".join(rng.choice(letters, rng.integers(2, 9))) for _ in range(vocab * 30)}
    words = np.array(sorted(spellings)[: 21 * vocab])
    rng.shuffle(words)
    offsets = rng.choice(np.arange(1, vocab), 20, replace=False)
    weights = 1.0 / np.arange(1, 21)
    state, written, block = 0, 0, 1_000_000
    with open(path, "w") as out:
        while written < size_mb * 1e6:
            walk = (state + np.cumsum(rng.choice(offsets, block, p=weights / weights.sum()))) % vocab
            state = int(walk[-1])
            # 1% of the tokens are Zipf noise over 20x more words: rare types, as discounts need
            noise = rng.random(block) < 0.01
            walk[noise] = vocab + np.minimum(rng.zipf(1.2, int(noise.sum())), 20 * vocab) - 1
            lengths = rng.integers(5, 26, block // 5)
            ends = np.cumsum(lengths)
            ends = ends[ends <= block]
            tokens = words[walk[: ends[-1]]].tolist()
            lines = [" ".join(tokens[a:b]) for a, b in zip(np.concatenate([[0], ends[:-1]]).tolist(), ends.tolist())]
            text = "\n".join(lines) + "\n"
            out.write(text)
            written += len(text)
    return written


def fit(corpus: str, output: str | None, order: int, extra: list[str]) -> dict:
    """One ``lmtool fit-ngram --json`` in a fresh process (``output`` None: no ``-o``, the ARPA file
    of ``extra`` alone): its summary plus the wall time."""
    command = [sys.executable, "-m", "lmtool", "fit-ngram", "--corpus", corpus, "--order", str(order),
               "--split-fractions", "1", "--discount-fallback", "--json", *(["-o", output] if output else []), *extra]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}")
    summary = json.loads(result.stdout)
    summary["wall"] = wall
    return summary


def identical(path_a: str, path_b: str) -> bool:
    """Whether two model files hold the same tables, array by array, and the same vocabulary."""
    from lmtool.ngram import load_ngram

    a, b = load_ngram(path_a), load_ngram(path_b)
    same = a.vocabulary == b.vocabulary and a.discounts == b.discounts
    for name in ("ngrams", "log10_probs", "log10_backoffs"):
        same &= all(np.array_equal(x, y) for x, y in zip(getattr(a.tables, name), getattr(b.tables, name)))
    return bool(same)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=240.0,
                        help="corpus size in MB (default 240: over 10x --memory 20M)")
    parser.add_argument("--memory", default="20M", help="--memory budget (default 20M)")
    parser.add_argument("--order", type=int, default=3)
    parser.add_argument("--tmp", default=None, help="directory for the corpus, the models and the runs")
    parser.add_argument("--write-only", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_only:
        write_corpus(args.write_only, args.size_mb)
        return
    with tempfile.TemporaryDirectory(prefix="lmtool-bench-external-", dir=args.tmp) as work:
        corpus = os.path.join(work, "corpus.txt")
        started = time.perf_counter()
        # in its own process: Linux carries a parent's peak RSS into the ru_maxrss of the children it
        # starts afterwards, so this process must stay small for the fits' figures to be their own
        subprocess.run([sys.executable, __file__, "--size-mb", str(args.size_mb), "--write-only", corpus], check=True)
        size = os.path.getsize(corpus)
        print(f"corpus: {size / 1e6:.0f} MB generated in {time.perf_counter() - started:.0f} s; budget {args.memory}; "
              f"order {args.order}", flush=True)
        runs = {"in memory": fit(corpus, os.path.join(work, "memory.npz"), args.order, [])}
        print(f"  in memory done ({runs['in memory']['wall']:.0f} s)", flush=True)
        for workers in (1, 2):
            name = f"--memory {args.memory} --workers {workers}"
            runs[name] = fit(corpus, os.path.join(work, f"external{workers}.npz"), args.order,
                             ["--memory", args.memory, "--workers", str(workers), "--tmp", work])
            print(f"  {name} done ({runs[name]['wall']:.0f} s)", flush=True)
        reference = runs["in memory"]
        print(f"\ntokens {reference['training']['tokens']:,}, n-grams {reference['ngrams']}, "
              f"text/budget {size / (int(runs[name]['external']['memory_bytes'])):.1f}x")
        print(f"{'run':<28}{'wall s':>8}{'x memory':>10}{'RSS counting MiB':>18}{'RSS overall MiB':>17}"
              f"{'counts MiB':>12}{'runs':>7}{'spilled MiB':>13}  identical")
        for index, (name, run) in enumerate(runs.items()):
            ext = run.get("external") or {}
            same = "-" if not ext else ("yes" if identical(os.path.join(work, "memory.npz"),
                                                            os.path.join(work, f"external{ext['workers']}.npz")) else "NO")
            print(f"{name:<28}{run['wall']:>8.1f}{run['wall'] / reference['wall']:>10.2f}"
                  f"{ext.get('peak_rss_counting_mb', float('nan')):>18.0f}"
                  f"{ext.get('peak_rss_mb', run['peak_memory_mb']):>17.0f}{ext.get('counts_mb', float('nan')):>12.0f}"
                  f"{ext.get('runs', 0):>7}"
                  f"{ext.get('spilled_mb', 0):>13.0f}  {same}")


if __name__ == "__main__":
    main()
