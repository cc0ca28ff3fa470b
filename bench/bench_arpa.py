"""ARPA files both ways, whole processes, against KenLM's own programs on the same data.

On the Brown corpus split of Bengio et al. (2003) (``brown-bengio2003``), for each order
(default 5 and 3):

- **fit + ARPA**: ``lmtool fit-ngram --corpus train.txt --split-fractions 1 --order N --arpa
  m.arpa`` (the ARPA file alone, as lmplz writes it) against ``lmplz -o N -S MEM < train.txt >
  k.arpa`` on the same text (the train split written one sentence per line, ``<unk>`` spelled
  ``UNK`` because lmplz refuses ``<unk>`` in its input; no pruning on either side;
  ``--discount_fallback`` is added to both only if lmplz stops without it); and the same fit
  writing its ``.lmt`` model file too (``-o m.lmt --arpa m.arpa``), against the same lmplz run.
- **ARPA -> model file**: ``lmtool fit-ngram --from-arpa k.arpa -o x.lmt`` against
  ``build_binary probing`` and ``build_binary trie`` on the *same* ARPA file (lmplz's, which
  lmtool converts as it reads it: :mod:`lmtool.ngram.arpa.stream`; lmtool's own ARPA files,
  listed in lexicographic order, take the general path of ``read_arpa``); and
  ``read_arpa`` alone, timed in this process (without the interpreter's start, its imports
  and the model file written, which a short file's import is mostly made of).

Every command runs in a fresh process under ``nice -n 5``, ``--repeats`` times (best wall time
kept; the machine may be shared); wall time, CPU time (user + system) and peak RSS come from
``os.wait4`` for exactly that process. Without ``lmplz``/``build_binary`` on PATH (CI, most
users) the script says so, fits and imports lmtool's own ARPA file, and prints lmtool's
figures alone.

    .venv/bin/python bench/bench_arpa.py                  # orders 5 and 3, best of 3
    .venv/bin/python bench/bench_arpa.py --orders 3 --repeats 1   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED_NLTK = pathlib.Path(os.environ.get("LMTOOL_SHARED", REPO.parent / "shared")) / "nltk_data"
if SHARED_NLTK.is_dir():
    os.environ.setdefault("NLTK_DATA", str(SHARED_NLTK))


def write_train_text(path: pathlib.Path) -> int:
    """The brown-bengio2003 train split, one sentence per line, ``<unk>`` as ``UNK``; its token count."""
    import numpy as np

    from lmtool.text import load_corpus

    corpus = load_corpus("brown-bengio2003")
    split = corpus.splits["train"]
    words = np.array(["UNK"] + list(corpus.vocabulary.tokens[1:]), dtype=object)
    with open(path, "w", encoding="utf-8") as out:
        for sentence in split.segments():
            out.write(" ".join(words[sentence[:-1]]) + "\n")  # without its </s>
    return split.n_tokens


# A fresh small process starts each measured command: a child's peak RSS counts the pages of
# the process it was forked from (Linux folds them in at exec), so forking from this process,
# which holds the corpus, would report its size for every command.
_LAUNCHER = """
import json, os, subprocess, sys, time
inp, out, command = sys.argv[1], sys.argv[2], sys.argv[3:]
started = time.perf_counter()
with open(inp or os.devnull, "rb") as stdin, open(out or os.devnull, "wb") as stdout:
    process = subprocess.Popen(command, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
    error = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "wall": time.perf_counter() - started,
                  "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024,
                  "error": error.decode("utf-8", "replace").strip().splitlines()[-3:]}))
"""


def run(command: list[str], stdin: pathlib.Path | None = None, stdout: pathlib.Path | None = None) -> dict:
    """Run ``command`` under nice; wall seconds, CPU seconds and peak RSS (MiB) of that process."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    launch = [sys.executable, "-c", _LAUNCHER, str(stdin or ""), str(stdout or ""), "nice", "-n", "5", *command]
    result = json.loads(subprocess.run(launch, env=env, capture_output=True, check=True, text=True).stdout)
    result["ok"] = result.pop("code") == 0
    return result


def best(command: list[str], repeats: int, **files) -> dict:
    """The fastest of ``repeats`` runs (stops at the first failure, which it returns)."""
    runs = []
    for _ in range(repeats):
        result = run(command, **files)
        if not result["ok"]:
            return result
        runs.append(result)
    return min(runs, key=lambda r: r["wall"])


def counts(arpa: pathlib.Path) -> list[int]:
    """The n-gram counts of an ARPA header."""
    found = []
    with open(arpa, "rb") as handle:
        for line in handle:
            if line.startswith(b"ngram "):
                found.append(int(line.split(b"=")[1]))
            elif line.startswith(b"\\1-grams"):
                return found
    return found


def bench_order(order: int, train: pathlib.Path, work: pathlib.Path, args, kenlm: bool) -> list[tuple]:
    """Rows (task, lmtool figures, reference name, reference figures) for one order."""
    lmtool = [sys.executable, "-m", "lmtool", "-q", "fit-ngram"]
    ours_arpa, their_arpa = work / f"lmtool.o{order}.arpa", work / f"lmplz.o{order}.arpa"
    fallback = []
    rows = []
    if kenlm:
        lmplz = ["lmplz", "-o", str(order), "-S", args.lmplz_memory]
        theirs = best(lmplz, args.repeats, stdin=train, stdout=their_arpa)
        if not theirs["ok"] and any("discount" in line for line in theirs["error"]):
            fallback = ["--discount_fallback"]
            theirs = best(lmplz + fallback, args.repeats, stdin=train, stdout=their_arpa)
    fit = lmtool + ["--corpus", str(train), "--split-fractions", "1", "--order", str(order),
                    "--arpa", str(ours_arpa)] + (["--discount-fallback"] if fallback else [])
    reference = theirs if kenlm else None
    rows.append(("fit + ARPA", best(fit, args.repeats), f"lmplz -S {args.lmplz_memory}", reference))
    ours = best(fit + ["-o", str(work / "m.lmt")], args.repeats)
    rows.append(("  and .lmt file", ours, f"lmplz -S {args.lmplz_memory}", reference))
    source = their_arpa if kenlm and theirs["ok"] else ours_arpa
    size = source.stat().st_size / 2**20 if source.exists() else float("nan")
    print(f"order {order}: lmtool's ARPA {counts(ours_arpa) if ours_arpa.exists() else '-'} n-grams; "
          f"importing {source.name} ({size:.1f} MB, {counts(source) if source.exists() else '-'} n-grams)"
          + (" with --discount_fallback" if fallback else ""), flush=True)
    ours = best(lmtool + ["--from-arpa", str(source), "-o", str(work / "x.lmt")], args.repeats)
    in_process = in_process_read(source, args.repeats)
    for structure in ("probing", "trie"):
        theirs = best(["build_binary", structure, str(source), str(work / f"k.{structure}")], args.repeats) if kenlm else None
        rows.append(("ARPA -> model file", ours, f"build_binary {structure}", theirs))
        rows.append(("  read_arpa alone", in_process, f"build_binary {structure}", theirs))
    return rows


def in_process_read(arpa: pathlib.Path, repeats: int) -> dict:
    """``read_arpa`` timed inside this process (no interpreter start, imports or model file
    written): the fastest of ``repeats``; RSS is not measured here."""
    from lmtool.ngram import read_arpa

    runs = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        read_arpa(arpa)
        runs.append({"ok": True, "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "rss": float("nan")})
    return min(runs, key=lambda r: r["wall"])


def show(order: int, rows: list[tuple]) -> None:
    """One table line per comparison: wall, CPU, peak RSS on both sides and the ratios."""
    known = lambda value: value == value  # noqa: E731 (NaN: not measured)
    for task, ours, name, theirs in rows:
        if not ours["ok"]:
            print(f"{order:>5}  {task:<19} lmtool failed: {' / '.join(ours['error'])}")
            continue
        rss = f"{ours['rss']:>7.0f}" if known(ours["rss"]) else f"{'-':>7}"
        line = f"{order:>5}  {task:<19} {ours['wall']:>7.2f} {ours['cpu']:>7.2f} {rss}"
        if theirs is None:
            print(line + f"  {name:<22} (not on PATH)")
        elif not theirs["ok"]:
            print(line + f"  {name:<22} failed: {' / '.join(theirs['error'])}")
        else:
            memory = f"{ours['rss'] / theirs['rss']:>6.2f}x" if known(ours["rss"]) else f"{'-':>7}"
            print(line + f"  {name:<22} {theirs['wall']:>7.2f} {theirs['cpu']:>7.2f} {theirs['rss']:>7.0f}"
                         f"  {ours['wall'] / theirs['wall']:>6.2f}x {ours['cpu'] / theirs['cpu']:>6.2f}x {memory}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[5, 3])
    parser.add_argument("--repeats", type=int, default=3, help="runs per command; the fastest is kept")
    parser.add_argument("--lmplz-memory", default="1G", help="lmplz -S (its default, 80%% of RAM, mostly measures page faults)")
    parser.add_argument("--keep", type=pathlib.Path, default=None, help="work in this directory and keep the files")
    args = parser.parse_args(argv)

    kenlm = all(shutil.which(name) for name in ("lmplz", "build_binary"))
    if not kenlm:
        print("KenLM's lmplz/build_binary are not on PATH: lmtool's figures alone (its own ARPA files imported)")
    with tempfile.TemporaryDirectory() as scratch:
        work = args.keep or pathlib.Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        train = work / "brown-bengio2003.train.txt"
        tokens = write_train_text(train)
        print(f"brown-bengio2003 train split: {tokens:,} tokens (</s> included), {train.stat().st_size / 2**20:.1f} MB "
              f"of text; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; best of {args.repeats}, "
              f"nice -n 5", flush=True)
        results = [(order, bench_order(order, train, work, args, kenlm)) for order in args.orders]
    print(f"\n{'order':>5}  {'task':<19} {'lmtool':>23}  {'reference':<22} {'':>23}  {'lmtool / reference':>22}")
    print(f"{'':>5}  {'':<19} {'wall s':>7} {'cpu s':>7} {'MiB':>7}  {'':<22} {'wall s':>7} {'cpu s':>7} {'MiB':>7}"
          f"  {'wall':>7} {'cpu':>7} {'MiB':>6}")
    for order, rows in results:
        show(order, rows)
    print(f"load average {os.getloadavg()[0]:.1f} at the end (a shared machine inflates wall times; CPU time "
          f"is steadier)")


if __name__ == "__main__":
    main()
