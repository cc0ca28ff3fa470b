"""N-gram estimation on a Dask cluster (``fit-ngram --cluster``) against in memory and out of core.

Writes the generated word corpus of ``bench_external.py`` (default 240 MB; see its docstring),
then fits the same order-3 modified Kneser-Ney model five ways, each ``lmtool fit-ngram --json``
in a fresh process: in memory, ``--memory 20M`` out of core, ``--cluster local:1`` and
``--cluster local:2`` (worker processes on this machine, one thread each; the workers write the
``-o`` model file by partition, the client never holds the model), and ``local:2`` with
``--arpa`` alone (written by partition too; compared with the in-memory model n-gram by n-gram,
values as float32). Prints, per run: wall time, peak RSS of the client process (a local
cluster's scheduler runs inside it), of the scheduler and of each worker, and whether the model
is identical to the in-memory one (a model file written by partition: byte for byte but for the
seconds in its header); for the cluster runs, each stage's seconds and the bytes its shuffle
handed between tasks, also per GB of text (the figures the README extrapolates to 100 GB).

    .venv/bin/python bench/bench_cluster.py                        # 240 MB, order 3
    .venv/bin/python bench/bench_cluster.py --size-mb 20           # a quick look
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from bench_external import fit, identical

#: the fifth run: the ARPA file alone, written by partition (the model never gathered to the client)
ARPA_RUN = "local:2, --arpa alone"


def run_all(corpus: str, work: str, order: int, memory: str, part_size: str) -> dict:
    """The five fits, by name: each one's ``fit-ngram --json`` summary with its wall time."""
    runs = {"in memory": fit(corpus, os.path.join(work, "memory.lmt"), order, [])}
    print(f"  in memory done ({runs['in memory']['wall']:.0f} s)", flush=True)
    runs[f"--memory {memory}"] = fit(corpus, os.path.join(work, "external.lmt"), order,
                                     ["--memory", memory, "--workers", "1", "--tmp", work])
    print(f"  --memory {memory} done ({runs[f'--memory {memory}']['wall']:.0f} s)", flush=True)
    for workers in (1, 2):
        name = f"--cluster local:{workers}"
        runs[name] = fit(corpus, os.path.join(work, f"cluster{workers}.lmt"), order,
                         ["--cluster", f"local:{workers}", "--partition-size", part_size])
        print(f"  {name} done ({runs[name]['wall']:.0f} s)", flush=True)
    runs[ARPA_RUN] = fit(corpus, None, order, ["--cluster", "local:2", "--partition-size", part_size,
                                               "--arpa", os.path.join(work, "cluster2.arpa")])
    print(f"  {ARPA_RUN} done ({runs[ARPA_RUN]['wall']:.0f} s)", flush=True)
    return runs


def same_as_arpa(model_path: str, arpa_path: str) -> bool:
    """Whether an ARPA file lists the model file's n-grams with its float32 values (ARPA prints them
    to 9 significant digits, which read back round to the same float32)."""
    from lmtool.ngram import load_ngram, read_arpa

    model, arpa = load_ngram(model_path), read_arpa(arpa_path)
    same = model.vocabulary.tokens == arpa.vocabulary.tokens and model.tables.n_listed() == arpa.tables.n_listed()
    for k in range(model.order):
        same = same and np.array_equal(model.tables.ngrams[k], arpa.tables.ngrams[k])
        for name in ("log10_probs",) + (("log10_backoffs",) if k < model.order - 1 else ()):
            a, b = getattr(model.tables, name)[k], getattr(arpa.tables, name)[k]
            same = same and np.array_equal(a.astype(np.float32), b.astype(np.float32))
    return bool(same)


def same_bytes(path_a: str, path_b: str) -> bool:
    """Whether two model files hold the same header (but for the seconds of training) and the
    same bytes after it."""
    from lmtool.ngram.container import read_header

    contents = []
    for path in (path_a, path_b):
        header, start = read_header(path)
        header["training"].pop("seconds")
        header.pop("file_bytes")
        with open(path, "rb") as handle:
            handle.seek(start)
            contents.append((header, handle.read()))
    return contents[0] == contents[1]


def report(runs: dict, size: int, work: str) -> None:
    """The tables: wall time and peak memory per process; stage seconds and shuffle volumes."""
    reference = runs["in memory"]
    print(f"\ntext {size / 1e6:.0f} MB, tokens {reference['training']['tokens']:,}, n-grams {reference['ngrams']}")
    print(f"{'run':<26}{'wall s':>8}{'x memory':>10}{'client MiB':>12}{'scheduler MiB':>15}{'workers MiB':>16}"
          f"  identical")
    reference_file = os.path.join(work, "memory.lmt")
    for name, run in runs.items():
        cluster = run.get("cluster")
        peaks = cluster["peak_memory_mb"] if cluster else None
        if name == "in memory":
            same = "reference"
        elif name == ARPA_RUN:
            same = "yes" if same_as_arpa(reference_file, os.path.join(work, "cluster2.arpa")) else "NO"
        elif "--memory" in name:
            same = "yes" if identical(reference_file, os.path.join(work, "external.lmt")) else "NO"
        else:
            same = "bytes" if same_bytes(reference_file, os.path.join(work, f"cluster{name[-1]}.lmt")) else "NO"
        workers = ", ".join(f"{mb:,.0f}" for mb in peaks["workers"]) if peaks else "-"
        scheduler = "in client" if cluster and cluster["local"] else "-"
        client = max(run["peak_memory_mb"], (run.get("external") or {}).get("peak_rss_mb", 0))
        print(f"{name:<26}{run['wall']:>8.1f}{run['wall'] / reference['wall']:>10.2f}{client:>12,.0f}{scheduler:>15}"
              f"{workers:>16}  {same}")
    gb = size / 1e9
    for name, run in runs.items():
        cluster = run.get("cluster")
        if not cluster:
            continue
        print(f"\n{name}: {cluster['parts']} parts of {cluster['part_bytes'] / 2**20:.0f} MiB, "
              f"{cluster['partitions']} shuffle partitions; gathered to the client {cluster['gathered_mb']:.1f} MiB "
              f"({cluster['gathered_mb'] / gb:.1f} MiB/GB)")
        print(f"  {'stage':<24}{'tasks':>7}{'seconds':>9}{'s/GB':>8}{'shuffle MiB':>13}{'MiB/GB':>9}")
        for stage, f in cluster["stages"].items():
            print(f"  {stage:<24}{f['tasks']:>7}{f['seconds']:>9.1f}{f['seconds'] / gb:>8.1f}{f['shuffle_mb']:>13.1f}"
                  f"{f['shuffle_mb'] / gb:>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=240.0, help="corpus size in MB (default 240)")
    parser.add_argument("--memory", default="20M", help="--memory budget of the out-of-core run (default 20M)")
    parser.add_argument("--partition-size", default="16M", help="--partition-size of the cluster runs (default 16M)")
    parser.add_argument("--order", type=int, default=3)
    parser.add_argument("--tmp", default=None, help="directory for the corpus, the models and the runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lmtool-bench-cluster-", dir=args.tmp) as work:
        corpus = os.path.join(work, "corpus.txt")
        started = time.perf_counter()
        # in its own process, as bench_external does: the fits' peak RSS figures must be their own
        writer = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_external.py")
        subprocess.run([sys.executable, writer, "--size-mb", str(args.size_mb), "--write-only", corpus], check=True)
        size = os.path.getsize(corpus)
        print(f"corpus: {size / 1e6:.0f} MB generated in {time.perf_counter() - started:.0f} s; order {args.order}",
              flush=True)
        report(run_all(corpus, work, args.order, args.memory, args.partition_size), size, work)


if __name__ == "__main__":
    main()
