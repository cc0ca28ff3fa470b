"""Out-of-core counting: n-gram counts of a corpus larger than memory, identical to ``count_ngrams``.

The manner of KenLM's disk-based ``lmplz``, in three stages, read top to bottom in
:func:`count_external`:

1. **Chunks.** The train split arrives as chunks of ids (:mod:`lmtool.text.streaming`), each
   small enough that counting it fits the memory budget (:func:`chunk_tokens`).
2. **Spill** (:mod:`.spill`). Each chunk is padded and counted by the in-memory counter, and its
   counts are spilled to a fresh temporary directory as one sorted *run*; with ``workers > 1``
   by a pool of processes. A chunk cut inside a segment counts exactly the n-grams that end in it.
3. **Merge** (:mod:`.merge`). Per order, a block-by-block k-way merge of all runs; then the
   orders are linked (``prefixes``/``suffixes``), and ``first_seen`` comes from the first global
   position of each id, so the :class:`NgramCounts` equals ``count_ngrams`` on the whole split
   array by array.

**Memory.** Counting a chunk takes about ``40 + 40 * order`` bytes per padded position (int64
keys, ranks and an argsort per order, and the chunk's tables; measured); the chunk size is the
budget divided by that times the number of processes counting at once. The merge sizes its
blocks from the budget as well. The counts themselves (the model's input) must fit in memory:
the budget bounds the working memory of counting, not the size of the result. A spawned
interpreter with numpy adds ~35 MiB per process; the bench measures the rest.

**Failures.** Runs live in a fresh directory under ``tmp`` that is removed on success, on any
error, on Ctrl-C and on SIGTERM; a full disk becomes one :class:`LmtoolError` line naming
``--tmp``. The directory is named for its process (``lmtool-ngram-runs.HOST-PID.*``, see
:mod:`lmtool.files`), so the next run removes those that SIGKILLed runs left.
"""

from __future__ import annotations

import errno
import os
import re
import resource
import shutil
import time
from concurrent.futures.process import BrokenProcessPool
from typing import Iterable

import numpy as np

from lmtool.errors import DataError, LmtoolError, UsageError
from lmtool.files import owned_name
from lmtool.ngram.counting import NgramCounts, check_order, first_seen_ranks
from lmtool.ngram.external.merge import link_orders, merge_runs
from lmtool.ngram.external.spill import ExternalStats, run_path, spill_runs
from lmtool.ngram.fit import check_fit_options, model_from_counts
from lmtool.text.streaming import stream_train

__all__ = ["ExternalStats", "chunk_tokens", "count_external", "fit_external", "parse_memory"]

#: working bytes of count_padded per padded position: about BASE + PER_ORDER * order (tracemalloc
#: peaks of a run on 1M Zipf tokens: 44-125 bytes at order 3, 115-213 at order 5, V = 60-70,000)
BYTES_PER_TOKEN_BASE, BYTES_PER_TOKEN_PER_ORDER = 40, 40
#: bytes per token the reading process holds while it tokenizes and pads a chunk
READER_BYTES_PER_TOKEN = 40
#: the smallest budget accepted (counting a chunk needs a few hundred tokens to be worth it)
MIN_MEMORY = 64 * 1024
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_memory(text: str, option: str = "--memory", minimum: int = MIN_MEMORY) -> int:
    """A size such as ``500M``, ``2G``, ``1.5G`` or ``65536`` (bytes; K/M/G/T are powers of 1024);
    errors name ``option`` (the cluster's size options are read here too)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", str(text))
    if match is None:
        raise UsageError(f"{option} takes a size such as 500M or 2G, got {text!r}")
    size = int(float(match[1]) * _UNITS[match[2].upper()])
    if size < minimum:
        raise UsageError(f"{option} {text} is below the minimum of {minimum // 1024}K: give a larger size")
    return size


def chunk_tokens(memory: int, workers: int, order: int) -> int:
    """Tokens per chunk so that ``workers`` chunks being counted and one being read fit ``memory``."""
    counting = BYTES_PER_TOKEN_BASE + BYTES_PER_TOKEN_PER_ORDER * order
    return max(64, memory // (counting * workers + READER_BYTES_PER_TOKEN))


#: counting processes at most: 4 per CPU (100,000 filled the memory with idle interpreters)
MAX_WORKERS = 4 * (os.cpu_count() or 1)


def count_external(chunks: Iterable, order: int, vocab_size: int, memory: int, tmp: str | None = None,
                   workers: int = 1, stats: ExternalStats | None = None) -> NgramCounts:
    """The :class:`NgramCounts` of the split that ``chunks`` (:class:`lmtool.text.streaming.Chunk`)
    cut, equal to ``count_ngrams`` on the whole split; runs go to a fresh directory under ``tmp``
    (default: the system's temporary directory), removed on success and on failure."""
    check_order(order)
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    if workers > MAX_WORKERS:
        raise UsageError(f"--workers {workers} is more processes than {MAX_WORKERS} (4 per CPU of this machine): "
                         f"each holds a chunk of the budget, so more only thrash; give {MAX_WORKERS} or less")
    stats = stats or ExternalStats(chunk_tokens(memory, workers, order), workers)
    workdir = owned_name("lmtool-ngram-runs", parent=tmp)
    try:
        try:  # created inside the block that removes it: a signal cannot come between the two
            os.mkdir(workdir, 0o700)
        except OSError as error:
            raise UsageError(f"--tmp {tmp}: cannot create a directory there ({error.strerror}): "
                             "give a writable directory") from None
        first_position = spill_runs(chunks, order, vocab_size, workdir, stats)
        if stats.tokens == 0:
            raise DataError("the training split is empty: give a corpus with text in its train split")
        ngrams, counts = [], []
        for k in range(order):
            rows, values = merge_runs([run_path(workdir, c) + ".run" for c in range(stats.chunks)], k, memory)
            ngrams.append(rows)
            counts.append(values)
        prefixes, suffixes = link_orders(ngrams, vocab_size)
        seen = np.flatnonzero(first_position < np.iinfo(np.int64).max)
        # ids in order of first appearance: first_seen_ranks gives them the ranks of the whole stream
        first_seen = first_seen_ranks(seen[np.argsort(first_position[seen], kind="stable")], vocab_size)
        stats.peak_rss_counting_mb = max(resource.getrusage(who).ru_maxrss / 1024.0
                                         for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        tables = [*ngrams, *counts, *prefixes, *suffixes]
        stats.counts_mb = sum(table.nbytes for table in tables) / 2**20
        return NgramCounts(order, vocab_size, ngrams, counts, prefixes, suffixes, first_seen)
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise LmtoolError(f"no space left on the device of {os.path.dirname(workdir)} while spilling n-gram runs: "
                              "free disk space or give --tmp on a larger disk") from None
        raise LmtoolError(f"cannot write n-gram runs in {workdir} ({error.strerror or error}): "
                          "give a writable --tmp") from None
    except BrokenProcessPool:
        raise LmtoolError("a counting worker died (out of memory?): lower --memory or --workers") from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def fit_external(spec: str, order: int, method: str, memory: int, tmp: str | None = None, workers: int = 1,
                 corpus_options: dict | None = None, **params):
    """:func:`lmtool.ngram.fit_ngram` on the train split of ``spec`` without loading it: the text is
    streamed (:func:`lmtool.text.streaming.stream_train`) and counted out of core; the model is
    identical to the in-memory one. Returns ``(model, ExternalStats)``."""
    check_fit_options(order, method, params)
    started = time.perf_counter()
    train = stream_train(spec, **(corpus_options or {}))
    stats = ExternalStats(chunk_tokens(memory, workers, int(order)), workers)
    counts = count_external(train.chunks(stats.chunk_tokens), int(order), len(train.vocabulary), memory, tmp,
                            workers, stats)
    training = {"corpus": train.source, "unit": train.unit, "segments": stats.segments, "tokens": stats.tokens,
                "unk_tokens": stats.unk_tokens}
    model = model_from_counts(counts, method, params, train.tokenizer, train.vocabulary, train.unit, training, started)
    return model, stats
