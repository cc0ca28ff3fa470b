"""Stage 6 without gathering: the ARPA file written by partition, for models too large for the client.

Every partition of stage 5 holds complete backoff tables for its share of the n-grams of orders 2
and up (those whose last word hashes to it), so each worker formats its own share as ARPA lines
(:func:`write_partition`, the in-memory writer's :func:`~lmtool.ngram.arpa.write.write_order_lines`)
into one part file per order beside the destination. The client receives only the counts and
the unigram rows (a vocabulary's worth of numbers), writes the header and the unigrams, and
concatenates the parts order by order into the destination (:func:`write_arpa_by_partition`):
the model itself never passes through the client's memory.

The destination's folder must be one that every worker and the client see at the same path (a
shared filesystem; a local cluster shares the machine's). Within an order the lines come
partition by partition, not sorted; ARPA readers (lmtool's, KenLM's, SRILM's) do not need them
sorted, and the model read back is the same.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, replace

import numpy as np

from lmtool.files import atomic_write
from lmtool.ngram.arpa.write import ARPA_END, ArpaWords, arpa_header, check_finite, section_title, write_order_lines
from lmtool.ngram.cluster.counting import bucket_of
from lmtool.ngram.cluster.part_files import check_visible, part_folder
from lmtool.ngram.tables import BackoffTables


@dataclass
class PartitionArpa:
    """What one partition's task sends back: its n-grams per order written (orders 2 and up; 0 for
    the unigrams) and its unigram rows (backoffs of its own words; probabilities from partition 0 only)."""

    counts: list[int]
    unigrams: np.ndarray
    unigram_log10_probs: np.ndarray
    unigram_log10_backoffs: np.ndarray


def part_path(folder: str, index: int, k: int) -> str:
    """The part file of partition ``index``'s (k + 1)-grams in ``folder``."""
    return os.path.join(folder, f"part-{index:05d}.{k + 1}-grams")


def as_stored(values: np.ndarray) -> np.ndarray:
    """``values`` rounded to float32, as a model file stores them (and as ``fit-ngram --arpa`` prints them)."""
    return np.asarray(values, dtype=np.float32).astype(np.float64)


def write_partition(index: int, tables: BackoffTables, vocabulary, folder: str) -> PartitionArpa:
    """Worker task: this partition's ARPA lines of orders 2 and up, one part file per order in ``folder``."""
    check_finite(tables)
    tables = replace(tables, log10_probs=[as_stored(v) for v in tables.log10_probs],
                     log10_backoffs=[as_stored(v) for v in tables.log10_backoffs])
    words = ArpaWords(vocabulary.tokens)
    counts = [0]
    for k in range(1, tables.order):
        with open(part_path(folder, index, k), "wb") as out:
            counts.append(write_order_lines(words, tables, k, out))
    return PartitionArpa(counts, tables.ngrams[0], tables.log10_probs[0], tables.log10_backoffs[0])


def unigram_tables(parts: list[PartitionArpa], order: int, vocab_size: int) -> BackoffTables:
    """The unigram rows assembled as :func:`~lmtool.ngram.cluster.fit.assemble` assembles them: the
    probabilities from partition 0, each word's backoff from the partition of its word; the higher
    orders empty (they are in the part files)."""
    owner = bucket_of(np.arange(vocab_size)[:, None], len(parts))
    backoffs = np.zeros(vocab_size)
    for j, part in enumerate(parts):
        backoffs[owner == j] = part.unigram_log10_backoffs
    empty = [np.zeros((0, k + 1), dtype=np.int32) for k in range(1, order)]
    return BackoffTables(order=order, vocab_size=vocab_size, ngrams=[parts[0].unigrams] + empty,
                         log10_probs=[parts[0].unigram_log10_probs] + [np.zeros(0)] * (order - 1),
                         log10_backoffs=[backoffs] + [np.zeros(0)] * (order - 1))


def write_arpa_by_partition(run, tables: list, vocabulary, vocab_tokens: list[str], order: int, vocab_size: int,
                            destination: str) -> list[int]:
    """Stage 6 by partition: ``tables`` (the futures of stage 5's partitions) written as the ARPA file
    ``destination``, atomically; returns the n-grams per order. ``vocabulary``: its future (the
    workers' copy), ``vocab_tokens`` the client's."""
    with part_folder(destination, "arpa") as folder:
        written = [run.submit(f"write-arpa-{j}", write_partition, j, partition, vocabulary, folder)
                   for j, partition in enumerate(tables)]
        run.wait("write ARPA", written)
        parts = run.gather(written)
        counts = [len(parts[0].unigrams)] + [sum(part.counts[k] for part in parts) for k in range(1, order)]
        unigrams = unigram_tables(parts, order, vocab_size)
        check_finite(unigrams)
        check_visible((part_path(folder, j, k) for j in range(len(parts)) for k in range(1, order)), "--arpa")

        def write(out) -> None:
            out.write(arpa_header(counts) + section_title(0))
            write_order_lines(ArpaWords(vocab_tokens), unigrams, 0, out)
            for k in range(1, order):
                out.write(section_title(k))
                for j in range(len(parts)):
                    with open(part_path(folder, j, k), "rb") as part:
                        shutil.copyfileobj(part, out, 1 << 22)
            out.write(ARPA_END)

        atomic_write(destination, write)
        return counts
