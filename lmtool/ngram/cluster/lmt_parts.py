"""Stage 6 without gathering, the model file: the ``.lmt`` written by partition, for models too large for the client.

The compact file (:mod:`lmtool.ngram.compact`) stores each order in hash order: an n-gram's key
is its prefix's row one order down times V plus its last word, and its row is its rank by
``mix(key)`` (:class:`~lmtool.ngram.hashing.BucketIndex`). Rows are global, and an order's keys
need the rows of the order below, so the orders are written one after the other. For order k
(k + 1 words), from stage 5's partitions by last word:

1. **prefix rows** (:func:`to_prefixes`, :func:`prefixes_by_range`): every n-gram goes to the
   partition of its second-to-last word, which holds its prefix (an n-gram of order k - 1
   ending in that word) and, from the round before, that prefix's row. A bigram's prefix is a
   unigram, whose row is its word: bigrams skip this shuffle (:func:`bigrams_by_range`);
2. **by hash range**: the key gives the hash, whose top bits are the bucket; the n-grams are
   dealt to ``n`` range partitions, range ``r`` holding the buckets ``b`` with
   ``b * n >> bucket_bits == r``, a contiguous run (:func:`sort_range` sorts each by hash);
3. **the range's slice of the arrays** (:func:`write_range`): the ranges' sizes, summed on the
   client, give each range its first row; it writes its buckets' pointers, its bit-packed
   quotients (:func:`~lmtool.ngram.bitpack.pack_slice`) and its value columns as part files.
   Whether a column is float32 or a codebook is decided for the whole column as
   :func:`~lmtool.ngram.values.encode_exact` decides it, from every 64th row and the union of
   the ranges' distinct values (:func:`range_distinct_values`, :func:`choose_codebook`);
4. each n-gram's row goes back to its partition by last word (:func:`place_rows`), for the
   next order's prefixes.

The client encodes the unigrams (V values), writes the header and the vocabulary, and streams
the part files into the container (:class:`~lmtool.ngram.container.ArrayStream`), joining the
packed slices where two ranges share a word (:func:`~lmtool.ngram.bitpack.join_slices`). The file
is byte for byte what :func:`~lmtool.ngram.storage.save_ngram` writes of the gathered model (but
for the seconds of training in its header), and the model never passes through the client's
memory: it holds one range's part file at a time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from lmtool.errors import LmtoolError
from lmtool.files import atomic_write
from lmtool.ngram.bitpack import NATIVE, U64, join_slices, pack_slice, words_for
from lmtool.ngram.cluster.arpa_parts import unigram_tables
from lmtool.ngram.cluster.counting import bucket_of, deal, nbytes
from lmtool.ngram.cluster.part_files import check_visible, part_folder
from lmtool.ngram.cluster.suffix import listed_in, rows_in
from lmtool.ngram.compact import stored_column, tables_entry, value_kinds
from lmtool.ngram.container import ArrayStream, write_container
from lmtool.ngram.hashing import bucket_bits_for, mix
from lmtool.ngram.sorting import distinct
from lmtool.ngram.storage import TablesOutline, model_header, vocabulary_arrays
from lmtool.ngram.tables import BackoffTables
from lmtool.ngram.values import (SAMPLE_STEP, ValueColumn, code_width, codebook_pays, encode_exact, padded_codebook,
                                 sample_mostly_distinct)


#: the type of row numbers in the shuffles: an order has fewer than 2**32 rows (the compact format's limit)
ROW = np.uint32


@dataclass
class PartitionOutline:
    """What a partition by last word tells the client before the orders are written: its rows per
    order, whether each of its n-grams' suffixes is listed, and its unigram rows (as
    :func:`~.arpa_parts.unigram_tables` takes them)."""

    counts: list[int]
    suffix_closed: bool
    unigrams: np.ndarray
    unigram_log10_probs: np.ndarray
    unigram_log10_backoffs: np.ndarray


def outline(tables: BackoffTables) -> PartitionOutline:
    """Worker task: the outline of one partition. An n-gram's suffix ends in the same word, so it
    is here if anywhere (a bigram's suffix is a unigram, always listed)."""
    closed = all(bool(listed_in(tables.ngrams[k - 1], tables.ngrams[k][:, 1:]).all()) for k in range(2, tables.order))
    return PartitionOutline([len(rows) for rows in tables.ngrams], closed, tables.ngrams[0], tables.log10_probs[0],
                            tables.log10_backoffs[0])


@dataclass
class OrderPlan:
    """What every task of one order's round knows of the whole order (see the module docstring)."""

    k: int
    order: int
    vocab_size: int
    entries: int
    key_bits: int
    bucket_bits: int
    ranges: int

    @classmethod
    def make(cls, k: int, counts: list[int], vocab_size: int, ranges: int) -> "OrderPlan":
        """The plan of order ``k`` of a model with ``counts`` n-grams per order, as
        :func:`~lmtool.ngram.compact.layout` sizes the index of the gathered tables."""
        key_bits = int(counts[k - 1] * vocab_size - 1).bit_length()
        return cls(k, len(counts), vocab_size, counts[k], key_bits, bucket_bits_for(counts[k], key_bits), ranges)

    @property
    def quotient_width(self) -> int:
        return self.key_bits - self.bucket_bits

    @property
    def kinds(self) -> tuple[str, ...]:
        return value_kinds(self.k, self.order)

    @property
    def last(self) -> bool:
        """Whether this is the highest order (whose rows no later order needs)."""
        return self.k == self.order - 1

    def buckets(self, r: int) -> tuple[int, int]:
        """The buckets ``[first, end)`` of range ``r``: those with ``b * n >> bucket_bits == r``."""
        total = 1 << self.bucket_bits
        return -(-r * total // self.ranges), -(-(r + 1) * total // self.ranges)

    def by_range(self, prefix_rows: np.ndarray, words: np.ndarray, arrays: list[np.ndarray]) -> tuple:
        """The n-grams (prefix row, last word) with their aligned ``arrays``, dealt into the
        ``n`` ranges by hash, the hashes first in each piece."""
        hashes = mix(prefix_rows.astype(U64) * U64(self.vocab_size) + words.astype(U64), self.key_bits)
        bucket = (hashes >> U64(self.quotient_width)).astype(np.int64)
        return tuple(deal((bucket * self.ranges) >> self.bucket_bits, self.ranges, [hashes, *arrays]))


def stored_values(tables: BackoffTables, plan: OrderPlan) -> list[np.ndarray]:
    """Order ``plan.k``'s value columns as the file stores them (float32)."""
    columns = {"prob": tables.log10_probs[plan.k], "backoff": tables.log10_backoffs[plan.k]}
    return [np.asarray(columns[kind], dtype=np.float32) for kind in plan.kinds]


def bigrams_by_range(index: int, tables: BackoffTables, plan: OrderPlan) -> tuple:
    """Step 2 for the bigrams of partition ``index``: their prefix row is their first word.
    Returns ``(0, piece 0, ..., piece n-1)`` as :func:`prefixes_by_range` does (no shuffle before)."""
    grams = tables.ngrams[1]
    source, rows = np.full(len(grams), index, dtype=np.int32), np.arange(len(grams), dtype=ROW)
    return (0, *plan.by_range(grams[:, 0], grams[:, 1], [*stored_values(tables, plan), source, rows]))


def to_prefixes(tables: BackoffTables, plan: OrderPlan) -> tuple:
    """Step 1: this partition's n-grams of order ``plan.k`` with their values and row numbers
    here, dealt by the partition of their second-to-last word."""
    grams = tables.ngrams[plan.k]
    rows = np.arange(len(grams), dtype=ROW)
    return tuple(deal(bucket_of(grams[:, -2:-1], plan.ranges), plan.ranges, [grams, *stored_values(tables, plan), rows]))


def prefixes_by_range(plan: OrderPlan, tables: BackoffTables, prefix_rows: np.ndarray, *pieces: list) -> tuple:
    """Steps 1 and 2 at a partition by last word: the n-grams sent here (``pieces[j]`` from
    partition ``j``) find their prefixes among its n-grams of order k - 1, whose rows are
    ``prefix_rows``, and go on by hash range with the partition and row they came from.
    Returns ``(bytes received, piece 0, ..., piece n-1)``."""
    grams, *values, rows = (np.concatenate([piece[i] for piece in pieces]) for i in range(len(pieces[0])))
    source = np.repeat(np.arange(len(pieces), dtype=np.int32), [len(piece[0]) for piece in pieces])
    found = rows_in(tables.ngrams[plan.k - 1], grams[:, :-1])
    return (nbytes(pieces), *plan.by_range(prefix_rows[found], grams[:, -1], [*values, source, rows]))


@dataclass
class RangePart:
    """One range partition of an order: its n-grams sorted by hash, their values, the partition
    by last word and the row there that each came from, and the bytes the shuffle brought it."""

    hashes: np.ndarray
    values: list[np.ndarray]
    source: np.ndarray
    rows: np.ndarray
    received: int = 0


def sort_range(*pieces: list) -> RangePart:
    """Step 2's destination: the pieces every partition sent to this range, sorted by hash (the
    hashes are distinct: a bijection of distinct keys)."""
    hashes, *values, source, rows = (np.concatenate([piece[i] for piece in pieces]) for i in range(len(pieces[0])))
    order = np.argsort(hashes)
    return RangePart(hashes[order], [column[order] for column in values], source[order], rows[order], nbytes(pieces))


def range_size(part: RangePart) -> tuple[int, int]:
    """The range's n-grams and the bytes its shuffle brought (a small summary for the client)."""
    return len(part.hashes), part.received


def range_distinct_values(part: RangePart, plan: OrderPlan, first: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Per value column of this range (whose first row is ``first``): the distinct values among
    its rows of the column's sample (global rows divisible by 64), and all its distinct values,
    or None when they alone are too many for a codebook to pay."""
    found = []
    for values in part.values:
        values_here = distinct(values)
        found.append((distinct(values[-first % SAMPLE_STEP::SAMPLE_STEP]),
                      values_here if codebook_pays(len(values_here), plan.entries) else None))
    return found


def choose_codebook(entries: int, found: list[tuple[np.ndarray, np.ndarray | None]]) -> np.ndarray | None:
    """The codebook of a column of ``entries`` values from each range's :func:`range_distinct_values`,
    or None to store it as float32: :func:`~lmtool.ngram.values.encode_exact`'s rule."""
    if sample_mostly_distinct(len(distinct(np.concatenate([sample for sample, _ in found]))), entries):
        return None
    if any(values is None for _, values in found):
        return None
    codebook = distinct(np.concatenate([values for _, values in found]))
    return codebook if codebook_pays(len(codebook), entries) else None


def part_path(folder: str, k: int, name: str, r: int) -> str:
    """The part file of range ``r``'s slice of order ``k``'s array ``name``."""
    return os.path.join(folder, f"{k}.{name}.{r:05d}.npy")


def write_range(r: int, part: RangePart, plan: OrderPlan, first: int, codebooks: list, folder: str) -> tuple:
    """Step 3: range ``r``'s slices of the order's arrays as part files. Returns ``(bytes sent
    back, piece 0, ..., piece n-1)``, piece ``j`` holding (row there, row in the file) of the
    n-grams from partition ``j`` (nothing at the highest order, whose rows no order needs)."""
    start, end = plan.buckets(r)
    width = plan.quotient_width
    sizes = np.bincount((part.hashes >> U64(width)).astype(np.int64) - start, minlength=end - start)
    np.save(part_path(folder, plan.k, "pointers", r), (first + np.cumsum(sizes) - sizes).astype(np.uint32))
    np.save(part_path(folder, plan.k, "quotients", r), _packed(part.hashes & U64((1 << width) - 1), width, first))
    for kind, values, codebook in zip(plan.kinds, part.values, codebooks):
        if codebook is None:
            stored = values
        elif code_width(len(codebook)) in NATIVE:
            stored = np.searchsorted(codebook, values).astype(NATIVE[code_width(len(codebook))])
        else:
            stored = _packed(np.searchsorted(codebook, values), code_width(len(codebook)), first)
        np.save(part_path(folder, plan.k, kind, r), stored)
    if plan.last:
        return (0, *[()] * plan.ranges)
    back = deal(part.source, plan.ranges, [part.rows, np.arange(first, first + len(part.hashes), dtype=ROW)])
    return (nbytes(back), *back)


def _packed(values: np.ndarray, width: int, first: int) -> np.ndarray:
    """:func:`~lmtool.ngram.bitpack.pack_slice` of a range's fields (nothing for no fields)."""
    return pack_slice(values, width, first) if len(values) else np.zeros(0, dtype=U64)


def place_rows(count: int, *pieces: list) -> np.ndarray:
    """Step 4: the row in the file of each of a partition's ``count`` n-grams of the order."""
    rows = np.empty(count, dtype=ROW)
    for here, there in pieces:
        rows[here] = there
    return rows


def order_arrays(plan: OrderPlan, firsts: list[int], codebooks: list, folder: str) -> tuple[dict, dict]:
    """The header's description of order ``plan.k`` and its arrays, streamed from the part files
    of its ranges (``firsts``: each range's first row)."""
    k, m, width = plan.k, plan.entries, plan.quotient_width

    def paths(name: str) -> list[str]:
        return [part_path(folder, k, name, r) for r in range(plan.ranges)]

    def packed(name: str, field_width: int) -> ArrayStream:
        """A bit-packed array from the ranges' slices, joined where they share a word."""
        total = words_for(m, field_width, native=False)
        slices = lambda: ((first * field_width // 64, _load(path)) for first, path in zip(firsts, paths(name)))  # noqa: E731
        return ArrayStream(np.dtype(U64), total, lambda: join_slices(slices(), total))

    def pointers():
        yield from (_load(path) for path in paths("pointers"))
        yield np.array([m], dtype=np.uint32)

    info = {"entries": m, "key_bits": plan.key_bits, "bucket_bits": plan.bucket_bits}
    arrays = {f"{k}.pointers": ArrayStream(np.dtype(np.uint32), (1 << plan.bucket_bits) + 1, pointers),
              f"{k}.quotients": packed("quotients", width)}
    for kind, codebook in zip(plan.kinds, codebooks):
        if codebook is None:
            column = ValueColumn(None, _concatenated(paths(kind), np.float32, m), 32, m)
        else:
            code_bits = code_width(len(codebook))
            codes = (_concatenated(paths(kind), NATIVE[code_bits], m) if code_bits in NATIVE
                     else packed(kind, code_bits))
            column = ValueColumn(padded_codebook(codebook, code_bits), codes, code_bits, m)
        column_arrays, info[kind] = stored_column(f"{k}.{kind}", column)
        arrays.update(column_arrays)
    return info, arrays


def _load(path: str) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def _concatenated(paths: list[str], dtype, count: int) -> ArrayStream:
    """The part files ``paths``, one after the other, as one array of ``count`` elements."""
    return ArrayStream(np.dtype(dtype), count, lambda: (_load(path) for path in paths))


def unigram_arrays(parts: list[PartitionOutline], order: int, vocab_size: int) -> tuple[dict, dict]:
    """Order 0's description and arrays, encoded here: the unigram row of word w is w."""
    unigrams = unigram_tables(parts, order, vocab_size)
    info, arrays = {"entries": vocab_size}, {}
    columns = {"prob": unigrams.log10_probs[0], "backoff": unigrams.log10_backoffs[0]}
    for kind in value_kinds(0, order):
        column_arrays, info[kind] = stored_column(f"0.{kind}", encode_exact(columns[kind]))
        arrays.update(column_arrays)
    return info, arrays


def write_model_by_partition(run, tables: list, order: int, vocabulary, describe: Callable[[TablesOutline], object],
                             destination: str) -> list[int]:
    """Stage 6 by partition: ``tables`` (the futures of stage 5's partitions) written as the
    compact model file ``destination``, atomically; returns the n-grams per order.
    ``describe(outline)`` is the model (an :class:`~lmtool.ngram.model.NgramModel` over the
    outline) whose ``describe()`` the header holds; ``vocabulary`` is the client's."""
    vocab_size = len(vocabulary)
    with part_folder(destination, "lmt") as folder:
        outlines = [run.submit(f"outline-{j}", outline, partition) for j, partition in enumerate(tables)]
        run.wait("model outline", outlines)
        parts = run.gather(outlines)
        counts = [vocab_size] + [sum(part.counts[k] for part in parts) for k in range(1, order)]
        if max(counts) >= 1 << 32:
            raise LmtoolError(f"{max(counts):,} n-grams of one order: the compact format holds fewer than 2**32; "
                              "write the ARPA file alone (--arpa without -o)")
        info, arrays = unigram_arrays(parts, order, vocab_size)
        orders, prefix_rows = [info], None
        for k in range(1, order):
            plan = OrderPlan.make(k, counts, vocab_size, len(tables))
            info, order_streams, prefix_rows = write_order(run, tables, parts, plan, prefix_rows, folder)
            orders.append(info)
            arrays.update(order_streams)
        closed = all(part.suffix_closed for part in parts)
        header = model_header(describe(TablesOutline(order, vocab_size, counts)),
                              tables_entry(vocab_size, orders, counts, None, closed, False))
        atomic_write(destination, lambda out: write_container(out, header, {**vocabulary_arrays(vocabulary), **arrays}))
        return counts


def write_order(run, tables: list, parts: list[PartitionOutline], plan: OrderPlan, prefix_rows: list | None,
                folder: str) -> tuple[dict, dict, list | None]:
    """One order's round (steps 1 to 4 of the module docstring): its part files written in
    ``folder``; returns its header description, its arrays (streamed from the parts) and the
    futures of each partition's rows of this order (None at the highest order).
    ``prefix_rows``: those of the order below (None for the bigrams)."""
    k, n = plan.k, plan.ranges
    if k == 1:
        sources = [run.submit(f"bigrams-{j}", bigrams_by_range, j, partition, plan) for j, partition in enumerate(tables)]
    else:
        sent = run.pieces([run.submit(f"to-prefixes-{k}-{j}", to_prefixes, partition, plan)
                           for j, partition in enumerate(tables)], n)
        sources = [run.submit(f"prefix-rows-{k}-{p}", prefixes_by_range, plan, tables[p], prefix_rows[p], *sent[p])
                   for p in range(n)]
    to_prefix, *by_hash = run.pieces(sources, n + 1)
    ranges = [run.submit(f"sort-range-{k}-{r}", sort_range, *column) for r, column in enumerate(by_hash)]
    sizes = [run.submit(f"range-size-{k}-{r}", range_size, part) for r, part in enumerate(ranges)]
    run.wait(f"model {k + 1}-grams by hash", sizes)
    sizes, received = zip(*run.gather(sizes))
    run.stages[f"model {k + 1}-grams by hash"].shuffle_bytes = sum(received) + sum(run.gather(to_prefix))
    firsts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
    found = run.gather([run.submit(f"distinct-{k}-{r}", range_distinct_values, part, plan, firsts[r])
                        for r, part in enumerate(ranges)])
    codebooks = [choose_codebook(plan.entries, [values[i] for values in found]) for i in range(len(plan.kinds))]
    written = [run.submit(f"write-range-{k}-{r}", write_range, r, part, plan, firsts[r], codebooks, folder)
               for r, part in enumerate(ranges)]
    run.wait(f"model {k + 1}-grams written", written)
    sent_back, *back = run.pieces(written, n + 1)
    run.stages[f"model {k + 1}-grams written"].shuffle_bytes = sum(run.gather(sent_back))
    rows = None if plan.last else [run.submit(f"rows-{k}-{j}", place_rows, parts[j].counts[k], *back[j])
                                   for j in range(n)]
    check_visible((part_path(folder, k, name, r) for name in ("pointers", "quotients", *plan.kinds) for r in range(n)),
                  "-o")
    return (*order_arrays(plan, firsts, codebooks, folder), rows)
