"""Out-of-core counting, stages 1 and 2: count the chunks and spill each one's counts as a run.

Each chunk of ids is padded with ``<s>`` (:func:`~lmtool.ngram.counting.pad_segments`, as in
memory) and counted by the in-memory counter (:func:`~lmtool.ngram.counting.count_padded`);
its counts (per order: unique rows sorted lexicographically, and their counts) go to one *run*
file of ``.npy`` records (:func:`write_run`), which :mod:`.merge` reads back as raw
int32/int64 data, never unpickled. With several workers, chunks are counted and spilled by a
pool of processes.

A chunk that ``continues`` the previous one (one long stream-unit segment cut in pieces) drops
its ``<s>`` and is prefixed with the previous chunk's last ``order - 1`` positions (the
*overlap*). Its counts are those of the whole prefixed chunk minus those of the overlap alone,
i.e. exactly the n-grams that END inside the chunk; each n-gram is thus counted once, in the
chunk where it ends.
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_all_start_methods, get_context
from typing import Iterable

import numpy as np

from lmtool.errors import DataError
from lmtool.files import write_npy
from lmtool.ngram.counting import count_padded, pad_segments
from lmtool.ngram.external.merge import combine
from lmtool.text import BOS_ID


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


def spill_runs(chunks: Iterable, order: int, vocab_size: int, workdir: str, stats: ExternalStats) -> np.ndarray:
    """Count every chunk and spill its run to ``workdir``, in ``stats.workers`` processes when
    there are several; returns each id's first padded position. The workers have exited on
    return (so RUSAGE_CHILDREN knows their peak memory), and on any error."""
    # fork where there is one: workers start at once and need no `if __name__ == "__main__"` guard
    method = "fork" if "fork" in get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(stats.workers, mp_context=get_context(method)) if stats.workers > 1 else None
    try:
        return _count_chunks(chunks, order, vocab_size, workdir, pool, stats)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _count_chunks(chunks: Iterable, order: int, vocab_size: int, workdir: str, pool: ProcessPoolExecutor | None,
                  stats: ExternalStats) -> np.ndarray:
    """:func:`spill_runs` with the ``pool`` of workers (None: count in this process)."""
    first_position = np.full(vocab_size, np.iinfo(np.int64).max, dtype=np.int64)
    offset = 0  # padded positions of the whole stream before this chunk
    tail = np.zeros(0, dtype=np.int32)
    pending: set = set()
    for chunk in chunks:
        ids = np.asarray(chunk.ids, dtype=np.int32)
        if np.any(ids == BOS_ID):
            raise DataError("the train ids contain <s> (id 1), which only pads segments: "
                            "encode text with the vocabulary")
        stream = pad_segments(ids, chunk.starts)  # int32, as the runs' rows
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
        prefix = run_path(workdir, stats.chunks)
        stats.chunks += 1
        if pool is None:
            _record(stats, count_and_spill(stream, overlap, order, vocab_size, prefix))
            continue
        with open(prefix + ".chunk.npy", "wb") as out:
            write_npy(out, stream)
        pending.add(pool.submit(count_file, prefix, overlap, order, vocab_size))
        if len(pending) >= stats.workers:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                _record(stats, future.result())
    for future in pending:
        _record(stats, future.result())
    return first_position


def _record(stats: ExternalStats, result: tuple[int, list[int]]) -> None:
    """Add one spilled run (bytes written, rows per order) to ``stats``."""
    spilled, rows = result
    stats.runs += 1
    stats.spilled_bytes += spilled
    stats.run_rows.append(sum(rows))


def segment_starts(stream: np.ndarray) -> np.ndarray:
    """Where the segments of a padded stream begin: at each ``<s>`` (a chunk that continues a
    segment begins without one)."""
    return np.flatnonzero(stream == BOS_ID)


def _last_segment_start(stream: np.ndarray) -> int:
    """Position of the last ``<s>`` of a padded stream (0 when it has none: it continues a segment)."""
    starts = segment_starts(stream)
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
    tables = count_chunk(stream, overlap, order, vocab_size)
    return write_run(prefix + ".run", tables), [len(rows) for rows, _ in tables]


def count_chunk(stream: np.ndarray, overlap: int, order: int, vocab_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per order, the unique rows (sorted) and counts of the n-grams of the padded ``stream`` that
    end after its first ``overlap`` positions (the previous chunk's tail; see the module docstring).
    Shared with the cluster's counting (:mod:`lmtool.ngram.cluster`), which counts one partition at a time."""
    counted = count_padded(stream, segment_starts(stream), order, vocab_size)
    inner = count_padded(stream[:overlap], segment_starts(stream[:overlap]), order, vocab_size) if overlap else None
    tables = []
    for k in range(order):
        rows, counts = counted.ngrams[k], counted.counts[k]
        if inner is not None:  # every overlap n-gram also occurs in the chunk: subtract, drop zeros
            rows, counts = combine([rows, inner.ngrams[k]], [counts, -inner.counts[k]])
            rows, counts = rows[counts > 0], counts[counts > 0]
        tables.append((rows, counts))
    return tables


def run_path(workdir: str, chunk: int) -> str:
    """The path prefix of chunk number ``chunk``'s files (``.run``, and ``.chunk.npy`` for a worker)."""
    return os.path.join(workdir, f"run-{chunk:06d}")


def write_run(path: str, tables: list[tuple[np.ndarray, np.ndarray]]) -> int:
    """Write a run as one file of ``.npy`` records back to back: rows (int32) then counts (int64)
    of order 1, then of order 2, ... (one file, not one per array: creating files is slow).
    Returns the bytes written."""
    with open(path, "wb") as out:
        for rows, counts in tables:
            write_npy(out, np.asarray(rows, dtype=np.int32))
            write_npy(out, np.asarray(counts, dtype=np.int64))
        return out.tell()
