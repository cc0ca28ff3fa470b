"""Out-of-core counting, stage 3: merge the spilled runs into one table per order, and link the orders.

Per order, a k-way merge of all runs (:mod:`.spill`), block by block: top up a buffer of each
run with plain file reads (not a memory map, whose pages would count toward the RSS), take the
rows up to the smallest last row among the buffers of runs not read to their end (every row up
to it is now buffered), concatenate, lexsort, sum the counts of equal rows and emit. No Python
loop runs over n-grams, only over runs and blocks. The merge sizes its blocks from the memory
budget.

Then ``prefixes``/``suffixes`` are found by searching each order's rows in the order below
(:func:`link_orders`), so the result has the layout of :mod:`lmtool.ngram.counting`.
"""

from __future__ import annotations

import os
import resource

import numpy as np

from lmtool.ngram.counting import as_rows


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
    # the file's own write, not tofile: a full disk must raise ENOSPC (see lmtool.files.write_npy)
    rows_file.write(np.ascontiguousarray(out_rows, dtype=np.int32).data)
    counts_file.write(np.ascontiguousarray(out_counts, dtype=np.int64).data)
    return True


def link_orders(ngrams: list[np.ndarray], vocab_size: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``prefixes`` and ``suffixes`` of sorted unique n-gram tables (the layout of counting.py).

    A k-gram's key in its order is ``rank(its (k-1)-gram prefix) * V + last word``, the key
    ``count_padded`` sorts by; the keys of an order are therefore sorted, and the row of any
    word sequence is found by ``searchsorted`` of its key, built up one word at a time.
    """
    keys = [ngrams[0][:, 0].astype(np.int64)]
    prefixes = [as_rows(np.full(len(ngrams[0]), -1), 0)]
    suffixes = [as_rows(np.full(len(ngrams[0]), -1), 0)]
    for k in range(1, len(ngrams)):
        prefix = _rows_of(ngrams[k], 0, k, keys, vocab_size)
        keys.append(prefix * vocab_size + ngrams[k][:, -1])
        prefixes.append(as_rows(prefix, len(ngrams[k - 1])))
        suffixes.append(as_rows(_rows_of(ngrams[k], 1, k + 1, keys, vocab_size), len(ngrams[k - 1])))
    return prefixes, suffixes


def _rows_of(table: np.ndarray, begin: int, end: int, keys: list[np.ndarray], vocab_size: int) -> np.ndarray:
    """Row of each word sequence ``table[:, begin:end]`` (all present) in the table of its length."""
    row = np.searchsorted(keys[0], table[:, begin]).astype(np.int64)
    for j in range(1, end - begin):
        row = np.searchsorted(keys[j], row * vocab_size + table[:, begin + j])
    return row.astype(np.int64)
