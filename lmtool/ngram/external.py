"""Out-of-core counting: n-gram counts of a corpus larger than memory, identical to ``count_ngrams``.

The manner of KenLM's disk-based ``lmplz``, in three stages:

1. **Chunks.** The train split arrives as chunks of ids (:mod:`lmtool.text.streaming`), each
   small enough that counting it fits the memory budget. Each chunk is padded with ``<s>`` as
   :func:`~lmtool.ngram.counting.padded_stream` does and counted by the same code as the
   in-memory counter (:func:`~lmtool.ngram.counting.count_padded`).
2. **Runs.** Every chunk's counts (per order: unique rows sorted lexicographically, and their
   counts) are spilled to a fresh temporary directory: one *run* per chunk, a file of ``.npy``
   records (:func:`write_run`), read back as raw int32/int64 data, never unpickled.
   With ``workers > 1`` chunks are counted and spilled by a pool of processes.
3. **Merge.** Per order, a k-way merge of all runs, block by block: top up a buffer of each
   run with plain file reads (not a memory map, whose pages would count toward the RSS), take
   the rows up to the smallest last row among the buffers of runs not read to their end (every
   row up to it is now buffered), concatenate, lexsort, sum the counts of equal rows and emit.
   No Python loop runs over n-grams, only over runs and blocks.

Then ``prefixes``/``suffixes`` are found by searching each order's rows in the order below
(:func:`link_orders`), and ``first_seen`` from the first global position of each id, so the
:class:`NgramCounts` equals ``count_ngrams`` on the whole split array by array.

**N-grams across a chunk cut.** A line-unit chunk holds whole sentences: nothing spans a cut.
A stream-unit text is one segment cut into chunks; a chunk that ``continues`` the previous one
drops its ``<s>`` and is prefixed with the previous chunk's last ``order - 1`` positions (the
*overlap*). Its counts are those of the whole prefixed chunk minus those of the overlap alone,
i.e. exactly the n-grams that END inside the chunk; each n-gram is thus counted once, in the
chunk where it ends.

**Memory.** Counting a chunk takes about ``40 + 40 * order`` bytes per padded position (int64
keys, ranks and an argsort per order, and the chunk's tables; measured); the chunk size is the
budget divided by that times the number of processes counting at once. The merge sizes its
blocks from the budget as well. The counts themselves (the model's input) must fit in memory:
the budget bounds the working memory of counting, not the size of the result. A spawned
interpreter with numpy adds ~35 MiB per process; the bench measures the rest.

**Failures.** Runs live in a fresh directory under ``tmp`` that is removed on success, on any
error and on Ctrl-C; a full disk becomes one :class:`LmtoolError` line naming ``--tmp``.
"""

from __future__ import annotations

import errno
import os
import re
import resource
import shutil
import tempfile
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_all_start_methods, get_context
from typing import Iterable

import numpy as np

from lmtool.errors import DataError, LmtoolError, UsageError
from lmtool.ngram.counting import NgramCounts, check_order, count_padded, first_seen_ranks
from lmtool.text import BOS_ID

#: working bytes of count_padded per padded position: about BASE + PER_ORDER * order (tracemalloc
#: peaks of a run on 1M Zipf tokens: 44-125 bytes at order 3, 115-213 at order 5, V = 60-70,000)
BYTES_PER_TOKEN_BASE, BYTES_PER_TOKEN_PER_ORDER = 40, 40
#: bytes per token the reading process holds while it tokenizes and pads a chunk
READER_BYTES_PER_TOKEN = 40
#: the smallest budget accepted (counting a chunk needs a few hundred tokens to be worth it)
MIN_MEMORY = 64 * 1024
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_memory(text: str) -> int:
    """A size such as ``500M``, ``2G``, ``1.5G`` or ``65536`` (bytes; K/M/G/T are powers of 1024)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", str(text))
    if match is None:
        raise UsageError(f"--memory takes a size such as 500M or 2G, got {text!r}")
    size = int(float(match[1]) * _UNITS[match[2].upper()])
    if size < MIN_MEMORY:
        raise UsageError(f"--memory {text} is below the minimum of {MIN_MEMORY // 1024}K: give a larger budget")
    return size


def chunk_tokens(memory: int, workers: int, order: int) -> int:
    """Tokens per chunk so that ``workers`` chunks being counted and one being read fit ``memory``."""
    counting = BYTES_PER_TOKEN_BASE + BYTES_PER_TOKEN_PER_ORDER * order
    return max(64, memory // (counting * workers + READER_BYTES_PER_TOKEN))


@dataclass
class ExternalStats:
    """What the out-of-core counter did, for the fit summary."""

    chunk_tokens: int
    workers: int
    chunks: int = 0
    runs: int = 0
    spilled_bytes: int = 0
    tokens: int = 0
    segments: int = 0
    unk_tokens: int = 0
    run_rows: list[int] = field(default_factory=list)
    peak_rss_counting_mb: float = 0.0  # this process and its largest worker, when the counts were done
    counts_mb: float = 0.0  # size of the resulting NgramCounts arrays (held in memory, outside the budget)


def count_external(chunks: Iterable, order: int, vocab_size: int, memory: int, tmp: str | None = None,
                   workers: int = 1, stats: ExternalStats | None = None) -> NgramCounts:
    """The :class:`NgramCounts` of the split that ``chunks`` (:class:`lmtool.text.streaming.Chunk`)
    cut, equal to ``count_ngrams`` on the whole split; runs go to a fresh directory under ``tmp``
    (default: the system's temporary directory), removed on success and on failure."""
    check_order(order)
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    stats = stats or ExternalStats(chunk_tokens(memory, workers, order), workers)
    try:
        workdir = tempfile.mkdtemp(prefix="lmtool-ngram-runs-", dir=tmp)
    except OSError as error:
        raise UsageError(f"--tmp {tmp}: cannot create a directory there ({error.strerror}): "
                         "give a writable directory") from None
    # fork where there is one: workers start at once and need no `if __name__ == "__main__"` guard
    method = "fork" if "fork" in get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(workers, mp_context=get_context(method)) if workers > 1 else None
    try:
        first_position = _spill_runs(chunks, order, vocab_size, workdir, pool, stats)
        if pool is not None:
            pool.shutdown(wait=True)  # the workers' peak RSS is known (RUSAGE_CHILDREN) once they have exited
        if stats.tokens == 0:
            raise DataError("the training split is empty: give a corpus with text in its train split")
        ngrams, counts = [], []
        for k in range(order):
            rows, values = merge_runs([_run_path(workdir, c) + ".run" for c in range(stats.chunks)], k, memory)
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
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(workdir, ignore_errors=True)


def _spill_runs(chunks: Iterable, order: int, vocab_size: int, workdir: str, pool, stats: ExternalStats) -> np.ndarray:
    """Stages 1-2: count every chunk and spill its run; returns each id's first padded position."""
    first_position = np.full(vocab_size, np.iinfo(np.int64).max, dtype=np.int64)
    offset = 0  # padded positions of the whole stream before this chunk
    tail = np.zeros(0, dtype=np.int32)
    pending: set = set()
    for chunk in chunks:
        ids = np.asarray(chunk.ids, dtype=np.int32)
        if np.any(ids == BOS_ID):
            raise DataError("the train ids contain <s> (id 1), which only pads segments: "
                            "encode text with the vocabulary")
        stream = padded_ids(ids, np.asarray(chunk.starts, dtype=np.int64))
        overlap = 0
        if chunk.continues:
            stream = np.concatenate([tail, stream[1:]])  # no <s>: the segment goes on
            overlap = len(tail)
        new = stream[overlap:]
        np.minimum.at(first_position, new, np.arange(offset, offset + len(new), dtype=np.int64))
        offset += len(new)
        tail = stream[max(_last_segment_start(stream), len(stream) - (order - 1)):] if order > 1 else stream[:0]
        stats.tokens += len(ids)
        stats.segments += len(chunk.starts) - 1 - bool(chunk.continues)
        stats.unk_tokens += int(np.count_nonzero(ids == 0))
        prefix = _run_path(workdir, stats.chunks)
        stats.chunks += 1
        if pool is None:
            _record(stats, count_and_spill(stream, overlap, order, vocab_size, prefix))
            continue
        np.save(prefix + ".chunk.npy", stream, allow_pickle=False)
        pending.add(pool.submit(count_file, prefix, overlap, order, vocab_size))
        if len(pending) >= stats.workers:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                _record(stats, future.result())
    for future in pending:
        _record(stats, future.result())
    return first_position


def _record(stats: ExternalStats, result: tuple[int, list[int]]) -> None:
    spilled, rows = result
    stats.runs += 1
    stats.spilled_bytes += spilled
    stats.run_rows.append(sum(rows))


def padded_ids(ids: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``ids`` with one ``<s>`` before each segment (int32; the stream of ``padded_stream``)."""
    lengths = np.diff(starts)
    stream = np.empty(len(ids) + len(lengths), dtype=np.int32)
    token_position = np.arange(len(ids)) + np.repeat(np.arange(1, len(lengths) + 1), lengths)
    stream[token_position] = ids
    stream[starts[:-1] + np.arange(len(lengths))] = BOS_ID
    return stream


def segment_ends(stream: np.ndarray) -> np.ndarray:
    """For each position of a padded stream, the end of its segment: segments begin at each
    ``<s>`` (and at 0, for a chunk that continues a segment)."""
    starts = np.flatnonzero(stream == BOS_ID)
    if len(starts) == 0 or starts[0] != 0:
        starts = np.concatenate([[0], starts])
    ends = np.append(starts[1:], len(stream))
    return np.repeat(ends, ends - starts).astype(np.int64)


def _last_segment_start(stream: np.ndarray) -> int:
    starts = np.flatnonzero(stream == BOS_ID)
    return int(starts[-1]) if len(starts) else 0


def count_file(prefix: str, overlap: int, order: int, vocab_size: int) -> tuple[int, list[int]]:
    """Worker entry point: count the chunk saved at ``prefix.chunk.npy`` and spill its run."""
    path = prefix + ".chunk.npy"
    stream = np.load(path, allow_pickle=False)
    os.unlink(path)
    return count_and_spill(stream, overlap, order, vocab_size, prefix)


def count_and_spill(stream: np.ndarray, overlap: int, order: int, vocab_size: int,
                    prefix: str) -> tuple[int, list[int]]:
    """Count the n-grams of ``stream`` that end after its first ``overlap`` positions and write them
    as one run (:func:`write_run`); returns (bytes written, rows per order)."""
    counted = count_padded(stream, segment_ends(stream), order, vocab_size)
    inner = count_padded(stream[:overlap], segment_ends(stream[:overlap]), order, vocab_size) if overlap else None
    tables = []
    for k in range(order):
        rows, counts = counted.ngrams[k], counted.counts[k]
        if inner is not None:  # every overlap n-gram also occurs in the chunk: subtract, drop zeros
            rows, counts = combine([rows, inner.ngrams[k]], [counts, -inner.counts[k]])
            rows, counts = rows[counts > 0], counts[counts > 0]
        tables.append((rows, counts))
    return write_run(prefix + ".run", tables), [len(rows) for rows, _ in tables]


def _run_path(workdir: str, chunk: int) -> str:
    return os.path.join(workdir, f"run-{chunk:06d}")


def write_run(path: str, tables: list[tuple[np.ndarray, np.ndarray]]) -> int:
    """Write a run as one file of ``.npy`` records back to back: rows (int32) then counts (int64)
    of order 1, then of order 2, ... (one file, not one per array: creating files is slow).
    Returns the bytes written."""
    with open(path, "wb") as out:
        for rows, counts in tables:
            np.save(out, np.ascontiguousarray(rows, dtype=np.int32), allow_pickle=False)
            np.save(out, np.asarray(counts, dtype=np.int64), allow_pickle=False)
        return out.tell()


def combine(rows: list[np.ndarray], counts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate sets of rows, sort them lexicographically and sum the counts of equal rows."""
    rows_all = np.concatenate(rows)
    counts_all = np.concatenate(counts)
    if len(rows_all) == 0:
        return rows_all, counts_all
    order = np.lexsort(rows_all.T[::-1])
    rows_all, counts_all = rows_all[order], counts_all[order]
    new = np.empty(len(rows_all), dtype=bool)
    new[0] = True
    np.any(rows_all[1:] != rows_all[:-1], axis=1, out=new[1:])
    return rows_all[new], np.add.reduceat(counts_all, np.flatnonzero(new))


def rows_up_to(rows: np.ndarray, bound: np.ndarray) -> int:
    """How many leading rows of the lexicographically sorted ``rows`` are <= ``bound``."""
    differ = rows != bound
    column = differ.argmax(axis=1)
    picked = np.arange(len(rows))
    at_most = ~differ[picked, column] | (rows[picked, column] < bound[column])
    return int(np.count_nonzero(at_most))


class RunReader:
    """The rows and counts of one order of a run file (:func:`write_run`), read in blocks with
    plain file reads: a memory map would count every page it has read toward the RSS. The file
    stays open when ``keep_open`` (opening it for every block is slow)."""

    def __init__(self, path: str, k: int, keep_open: bool) -> None:
        self.path = path
        with open(path, "rb") as handle:
            for _ in range(2 * k):  # skip the records of the lower orders
                shape, offset = _npy_record(handle)
                handle.seek(offset + int(np.prod(shape)) * (4 if len(shape) == 2 else 8))
            (self.length, self.width), self.rows_offset = _npy_record(handle)
            handle.seek(self.rows_offset + self.length * self.width * 4)
            _, self.counts_offset = _npy_record(handle)
        self.position = 0  # rows read so far
        self.handle = open(path, "rb") if keep_open else None

    def read(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The next ``n`` rows (fewer at the end) and their counts."""
        n = min(n, self.length - self.position)
        handle = self.handle or open(self.path, "rb")
        try:
            handle.seek(self.rows_offset + self.position * 4 * self.width)
            rows = np.fromfile(handle, dtype=np.int32, count=n * self.width).reshape(n, self.width)
            handle.seek(self.counts_offset + self.position * 8)
            counts = np.fromfile(handle, dtype=np.int64, count=n)
        finally:
            if self.handle is None:
                handle.close()
        self.position += n
        return rows, counts

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def _npy_record(handle) -> tuple[tuple[int, ...], int]:
    """(shape, byte offset of the data) of the ``.npy`` record at the handle's position."""
    version = np.lib.format.read_magic(handle)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, _ = read_header(handle)
    return shape, handle.tell()


def merge_runs(paths: list[str], k: int, memory: int) -> tuple[np.ndarray, np.ndarray]:
    """Stage 3: k-way merge of the order-``k + 1`` n-grams of the run files ``paths``."""
    keep_open = len(paths) + 64 < resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    runs = []
    try:
        runs.extend(RunReader(path, k, keep_open) for path in paths)
        return _merge(runs, paths[0] + ".merged" if paths else "", k + 1, memory)
    finally:
        for run in runs:
            run.close()


def _merge(runs: list[RunReader], output: str, width: int, memory: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge ``runs`` block by block (:func:`_merge_step`) through the files ``output.rows/.counts``."""
    # a block row costs its bytes about three times over (buffer, concatenation, sorted copy) plus the sort index
    block = max(256, memory // (max(1, len(runs)) * (3 * (4 * width + 8) + 16)))
    empty = (np.zeros((0, width), dtype=np.int32), np.zeros(0, dtype=np.int64))
    buffers = [empty] * len(runs)  # rows read from each run and not merged yet
    # merged blocks go to disk (``output``) and come back in one read: holding them in a list and
    # concatenating would need the order's counts twice over
    with open(output + ".rows", "wb") as rows_file, open(output + ".counts", "wb") as counts_file:
        while _merge_step(runs, buffers, block, rows_file, counts_file):
            pass
    merged = os.path.getsize(output + ".rows") // (4 * width)
    rows = np.fromfile(output + ".rows", dtype=np.int32).reshape(merged, width)
    counts = np.fromfile(output + ".counts", dtype=np.int64)
    os.unlink(output + ".rows")
    os.unlink(output + ".counts")
    return rows, counts


def _merge_step(runs: list[RunReader], buffers: list, block: int, rows_file, counts_file) -> bool:
    """One block of the merge: top up the buffers, emit every row up to the bound; False when done."""
    for i, run in enumerate(runs):
        if len(buffers[i][0]) < block and run.position < run.length:
            rows, counts = run.read(block - len(buffers[i][0]))
            buffers[i] = (np.concatenate([buffers[i][0], rows]), np.concatenate([buffers[i][1], counts]))
    live = [i for i in range(len(runs)) if len(buffers[i][0])]
    if not live:
        return False
    # runs not read to their end bound what is complete: every row up to the least of their
    # last buffered rows is in the buffers now
    open_lasts = np.array([buffers[i][0][-1] for i in live if runs[i].position < runs[i].length])
    bound = open_lasts[np.lexsort(open_lasts.T[::-1])[0]] if len(open_lasts) else None
    taken_rows, taken_counts = [], []
    for i in live:
        rows, counts = buffers[i]
        n = len(rows) if bound is None else rows_up_to(rows, bound)
        taken_rows.append(rows[:n])
        taken_counts.append(counts[:n])
        buffers[i] = (rows[n:], counts[n:])
    out_rows, out_counts = combine(taken_rows, taken_counts)
    out_rows.astype(np.int32).tofile(rows_file)
    out_counts.astype(np.int64).tofile(counts_file)
    return True


def link_orders(ngrams: list[np.ndarray], vocab_size: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``prefixes`` and ``suffixes`` of sorted unique n-gram tables (the layout of counting.py).

    A k-gram's key in its order is ``rank(its (k-1)-gram prefix) * V + last word``, the key
    ``count_padded`` sorts by; the keys of an order are therefore sorted, and the row of any
    word sequence is found by ``searchsorted`` of its key, built up one word at a time.
    """
    keys = [ngrams[0][:, 0].astype(np.int64)]
    prefixes = [np.full(len(ngrams[0]), -1, dtype=np.int64)]
    suffixes = [np.full(len(ngrams[0]), -1, dtype=np.int64)]
    for k in range(1, len(ngrams)):
        prefixes.append(_rows_of(ngrams[k], 0, k, keys, vocab_size))
        suffixes.append(_rows_of(ngrams[k], 1, k + 1, keys, vocab_size))
        keys.append(prefixes[k] * vocab_size + ngrams[k][:, -1])
    return prefixes, suffixes


def _rows_of(table: np.ndarray, begin: int, end: int, keys: list[np.ndarray], vocab_size: int) -> np.ndarray:
    """Row of each word sequence ``table[:, begin:end]`` (all present) in the table of its length."""
    row = np.searchsorted(keys[0], table[:, begin]).astype(np.int64)
    for j in range(1, end - begin):
        row = np.searchsorted(keys[j], row * vocab_size + table[:, begin + j])
    return row.astype(np.int64)


def fit_external(spec: str, order: int, method: str, memory: int, tmp: str | None = None, workers: int = 1,
                 corpus_options: dict | None = None, **params):
    """:func:`lmtool.ngram.fit_ngram` on the train split of ``spec`` without loading it: the text is
    streamed (:func:`lmtool.text.streaming.stream_train`) and counted out of core; the model is
    identical to the in-memory one. Returns ``(model, ExternalStats)``."""
    import time

    from lmtool.ngram import model_from_counts
    from lmtool.ngram.fit import check_fit_options
    from lmtool.text.streaming import stream_train

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
