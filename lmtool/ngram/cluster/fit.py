"""The cluster fit, top to bottom: :func:`fit_cluster` runs the six stages on a Dask client.

Each stage is a function here that submits the tasks of its module (:mod:`.inputs`,
:mod:`.counting`, :mod:`.suffix`, :mod:`.estimate`) through :class:`~.engine.Run` and waits for
them; large data stays on the workers from one stage to the next, small summaries come back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from lmtool.errors import DataError, UsageError
from lmtool.ngram.cluster.arpa_parts import write_arpa_by_partition
from lmtool.ngram.cluster.counting import PartCounts, bucket_of, count_part, first_seen, nbytes, overlaps
from lmtool.ngram.cluster.engine import Progress, Run, StageFigures, peak_memory_mb
from lmtool.ngram.cluster.estimate import (CLUSTER_METHODS, by_context, context_partition,
                                           interpolate_partition, smoothing)
from lmtool.ngram.cluster.inputs import DEFAULT_PART_BYTES, Part, input_files, merge_counts, plan_parts, scan_part
from lmtool.ngram.cluster.lmt_parts import write_model_by_partition
from lmtool.ngram.cluster.suffix import statistics, suffix_partition
from lmtool.ngram.fit import Estimate, check_fit_options, estimator_for, model_from_estimate, plain_discounts
from lmtool.ngram.model import NgramModel
from lmtool.ngram.storage import TablesOutline
from lmtool.ngram.tables import BackoffTables
from lmtool.text import CORPUS_OPTIONS, UNITS, Vocabulary, make_tokenizer
from lmtool.text.readers import check_encoding_errors
from lmtool.text.splits import parse_fractions

#: shuffle partitions per worker thread by default (a few per thread evens out their sizes)
PARTITIONS_PER_THREAD = 2
#: type counts merged per task of the vocabulary's reduction tree
REDUCTION_FAN_IN = 8


@dataclass
class ClusterStats:
    """What the cluster fit did, for ``fit-ngram --json``: sizes and each stage's figures."""

    parts: int
    partitions: int
    part_bytes: int
    tokens: int = 0
    gathered_bytes: int = 0
    stages: dict[str, StageFigures] = field(default_factory=dict)
    peak_memory_mb: dict = field(default_factory=dict)  # the scheduler's and each worker's


@dataclass
class ClusterWritten:
    """A model the workers wrote by partition, never gathered: its files (an ARPA file, a model
    file or both) and what is known of it."""

    arpa: str | None
    model: str | None
    order: int
    method: str
    parameters: dict
    ngrams: list[int]
    discounts: list | None
    vocabulary_size: int
    training: dict
    normalised: bool = True


@dataclass
class ClusterFit:
    """A fit checked and planned before any cluster is involved: its options settled, its files
    found and cut into parts (:func:`plan_fit`)."""

    spec: str
    order: int
    method: str
    parameters: dict
    options: dict
    parts: list[Part]
    part_bytes: int


def plan_fit(spec: str, order: int, method: str, *, part_bytes: int = DEFAULT_PART_BYTES,
             corpus_options: dict | None = None, **params) -> ClusterFit:
    """Check a cluster fit of ``spec``'s files and cut them into parts of ``part_bytes``, on this
    machine and before connecting, so that a typo or a missing file fails at once.

    ``corpus_options`` as for :func:`lmtool.text.load_corpus` (see :func:`cluster_corpus_options`);
    ``params`` the method's options.
    """
    check_fit_options(order, method, params)
    if method not in CLUSTER_METHODS:
        raise UsageError(f"--smoothing {method} does not run on a cluster, which fits {' and '.join(CLUSTER_METHODS)}: "
                         f"drop --cluster to fit {method} in memory (or out of core with --memory)")
    parameters = estimator_for(method).resolve(params)
    options = cluster_corpus_options(corpus_options or {})
    return ClusterFit(spec, int(order), method, parameters, options, plan_parts(input_files(spec), part_bytes), part_bytes)


def fit_cluster(fit: ClusterFit, client, *, partitions: int | None = None, progress: Progress | None = None,
                arpa: str | None = None, model_file: str | None = None) -> tuple[NgramModel | ClusterWritten, ClusterStats]:
    """Run the planned ``fit`` on the Dask cluster of ``client``: the model, equal to
    :func:`lmtool.ngram.fit_ngram` of the same text with ``split_fractions="1"`` (the whole input
    is training text), and the figures. ``partitions``: the shuffle's partitions (default two per
    worker thread); ``progress(stage, done, total)`` hears of every task.

    With ``arpa`` or ``model_file`` (or both), the model is not gathered: the workers write it by
    partition as that ARPA file (:mod:`.arpa_parts`) and that compact model file
    (:mod:`.lmt_parts`, the file :func:`~lmtool.ngram.save_ngram` writes of the gathered model),
    and the first value returned is a :class:`ClusterWritten` describing them."""
    started = time.perf_counter()
    threads = sum(client.nthreads().values())
    stats = ClusterStats(len(fit.parts), partitions or PARTITIONS_PER_THREAD * max(1, threads), fit.part_bytes)
    run, n, order, options = Run(client, progress, stats.stages), stats.partitions, fit.order, fit.options
    shared_vocabulary, tails, interned = vocabulary_stage(run, fit.parts, options, order, fit.spec)
    vocabulary = run.gather([shared_vocabulary])[0]
    size = len(vocabulary)
    counted, pieces = count_stage(run, interned, shared_vocabulary, overlaps(tails, vocabulary, order, options["unit"]),
                                  order, n)
    parts = run.gather(counted)
    run.stages["count n-grams"].shuffle_bytes = sum(part.shuffle_bytes for part in parts)
    suffix, summaries = adjust_stage(run, pieces, counted, parts, order, size, n)
    # stage 4 on the client, whose user sees its warnings and errors; the same as a task for stage 5
    smoothed = smoothing(fit.method, fit.parameters, order, size, *run.gather(summaries))
    shared = run.submit("smoothing", smoothing, fit.method, fit.parameters, order, size, *summaries)
    tables = estimate_stage(run, suffix, shared, order, size, n)
    stats.tokens = sum(part.tokens for part in parts)
    training = {"corpus": fit.spec, "unit": options["unit"], "segments": sum(part.segments for part in parts),
                "tokens": stats.tokens, "unk_tokens": sum(part.unk_tokens for part in parts)}
    if arpa is not None or model_file is not None:
        def described(outline: TablesOutline) -> NgramModel:  # the model file's header, as save_ngram's
            estimate = Estimate(tables=outline, method=fit.method, normalised=True, parameters=fit.parameters,
                                info=smoothed.info)
            return model_from_estimate(estimate, options["tokenizer"], vocabulary, options["unit"], training, started)

        counts = (write_model_by_partition(run, tables, order, vocabulary, described, model_file)
                  if model_file is not None else None)
        if arpa is not None:
            counts = write_arpa_by_partition(run, tables, shared_vocabulary, vocabulary.tokens, order, size, arpa)
        stats.peak_memory_mb = peak_memory_mb(client)
        return ClusterWritten(arpa, model_file, order, fit.method, fit.parameters, counts,
                              plain_discounts(smoothed.info.get("discounts")), size,
                              {**training, "seconds": round(time.perf_counter() - started, 3)}), stats
    tables = run.gather(tables)
    stats.gathered_bytes = nbytes([t.ngrams + t.log10_probs + t.log10_backoffs for t in tables])
    stats.peak_memory_mb = peak_memory_mb(client)
    result = Estimate(tables=assemble(tables, order, size, n), method=fit.method, normalised=True,
                      parameters=fit.parameters, info=smoothed.info)
    return model_from_estimate(result, options["tokenizer"], vocabulary, options["unit"], training, started), stats


def cluster_corpus_options(given: dict) -> dict:
    """The corpus options a cluster fit takes, settled: tokenizer (word, treebank, char), unit,
    min_count, max_vocab, encoding_errors. A :class:`UsageError` for bpe (it learns from the whole
    text before anything is counted) and for a held-out split (the whole input is training text)."""
    options = {**CORPUS_OPTIONS, **{key: value for key, value in given.items() if value is not None}}
    if options["tokenizer"] == "bpe" or options["bpe_vocab_size"] is not None:
        raise UsageError("--tokenizer bpe learns from the whole text before counting, which a cluster does not do: "
                         "use word, treebank or char with --cluster (or prepare the corpus and fit without --cluster)")
    if options["split_fractions"] is not None and parse_fractions(options["split_fractions"])[0] != 1:
        raise UsageError("a cluster fits on all of its input: drop --split-fractions (or give 1) and keep held-out "
                         "text in files of its own")
    if options["unit"] not in UNITS:
        raise UsageError(f"--unit must be one of {', '.join(UNITS)}, got {options['unit']!r}")
    check_encoding_errors(options["encoding_errors"])
    return {**options, "tokenizer": make_tokenizer(options["tokenizer"])}


def vocabulary_stage(run: Run, parts: list, options: dict, order: int, spec: str):
    """Stage 1: read and tokenize every part once; the vocabulary from the summed type counts.
    Returns the future of the vocabulary, each part's tail and the futures of the interned parts."""
    scanned = [run.submit(f"read-{i}", scan_part, part, options["tokenizer"], options["unit"], options["encoding_errors"],
                          order) for i, part in enumerate(parts)]
    run.wait("read and tokenize", scanned)
    scans, level, interned = run.pieces(scanned, 3)
    while len(level) > 1:
        level = [run.submit("merge-types", merge_counts, *level[i:i + REDUCTION_FAN_IN])
                 for i in range(0, len(level), REDUCTION_FAN_IN)]
    summaries = run.gather(scans)
    if sum(scan.tokens for scan in summaries) == 0:
        raise DataError(f"{spec}: the training text is empty (no tokens): give files with text")
    vocabulary = run.submit("vocabulary", Vocabulary.build, level[0], options["min_count"], options["max_vocab"])
    run.wait("vocabulary", [vocabulary])
    return vocabulary, [scan.tail for scan in summaries], interned


def count_stage(run: Run, interned: list, vocabulary, overlap: list, order: int, n: int):
    """Stage 2: count every part, its counts dealt by last word; the futures of the parts' summaries
    and of the pieces."""
    counted = [run.submit(f"count-{i}", count_part, part, vocabulary, order, overlap[i], n)
               for i, part in enumerate(interned)]
    run.wait("count n-grams", counted)
    summary, *pieces = run.pieces(counted, n + 1)
    return summary, pieces


def adjust_stage(run: Run, pieces: list, counted: list, parts: list[PartCounts], order: int, vocab_size: int, n: int):
    """Stage 3: merge each partition by last word and adjust its counts; the futures of the
    partitions and of their statistics. ``counted``: the futures of the parts' summaries ``parts``."""
    ranks = first_seen(vocab_size, *parts)
    seen = np.unique(np.concatenate([part.seen for part in parts]))
    last = int(seen[np.argmax(ranks[seen])])  # the word seen last for the first time: KenLM's quirk starts there
    owner = int(bucket_of(np.array([[last]]), n)[0])
    shared = run.submit("first-seen", first_seen, vocab_size, *counted)  # the same ranks, on a worker
    suffix = [run.submit(f"suffix-{j}", suffix_partition, j, order, vocab_size, shared if j == owner else None,
                         *pieces[j]) for j in range(n)]
    summary = [run.submit(f"statistics-{j}", statistics, partition) for j, partition in enumerate(suffix)]
    run.wait("adjust counts", summary)
    return suffix, summary


def estimate_stage(run: Run, suffix: list, smoothed, order: int, vocab_size: int, n: int) -> list:
    """Stage 5: initial probabilities by context, interpolation by last word; the futures of each
    partition's tables. ``smoothed``: the future of stage 4's :class:`~.estimate.Smoothing`."""
    sources = [run.submit(f"by-context-{j}", by_context, partition, n) for j, partition in enumerate(suffix)]
    contexts = run.shuffle("context", sources, n, context_partition, smoothed, vocab_size)
    run.wait("initial probabilities", contexts)
    summary, *back = run.pieces(contexts, n + 1)
    volumes = run.gather(summary)  # bytes each context partition received and sent back
    run.stages["initial probabilities"].shuffle_bytes = sum(received for received, _ in volumes)
    tables = [run.submit(f"interpolate-{j}", interpolate_partition, j, suffix[j], smoothed, *back[j]) for j in range(n)]
    run.wait("interpolate", tables)
    run.stages["interpolate"].shuffle_bytes = sum(sent for _, sent in volumes)
    return tables


def assemble(parts: list[BackoffTables], order: int, vocab_size: int, n: int) -> BackoffTables:
    """Stage 6 (client): the partitions' tables as one, each order's rows sorted as the model's
    tables are; the unigram probabilities come from partition 0, the backoff weight of each
    unigram from the partition of its word (see :func:`~.estimate.interpolate_partition`)."""
    owner = bucket_of(np.arange(vocab_size)[:, None], n)
    backoffs0 = np.zeros(vocab_size)
    for j, part in enumerate(parts):
        backoffs0[owner == j] = part.log10_backoffs[0]
    ngrams, probs, backoffs = [parts[0].ngrams[0]], [parts[0].log10_probs[0]], [backoffs0]
    for k in range(1, order):
        rows = np.concatenate([part.ngrams[k] for part in parts])
        sort = np.lexsort(rows.T[::-1])
        ngrams.append(rows[sort])
        probs.append(np.concatenate([part.log10_probs[k] for part in parts])[sort])
        backoffs.append(np.concatenate([part.log10_backoffs[k] for part in parts])[sort])
    return BackoffTables(order=order, vocab_size=vocab_size, ngrams=ngrams, log10_probs=probs, log10_backoffs=backoffs)
