"""The ``.lmt`` model file written by partition (lmtool.ngram.cluster.lmt_parts), byte for byte ``save_ngram``'s.

The stage runs here on a stand-in for the cluster's :class:`~lmtool.ngram.cluster.engine.Run`
whose tasks run at once, over an in-memory model's tables dealt into partitions by last word as
stage 5 leaves them; the cluster itself runs it in ``test_cluster.py``. Every file is compared
with the file ``save_ngram`` writes of the whole model: the same header (but for the seconds of
training and the header's own length) and the same bytes in every array.
"""

from __future__ import annotations

import operator

import numpy as np
import pytest

pytest.importorskip("distributed", reason="the cluster fit needs Dask: pip install 'lmtool[dask]'")

from lmtool.errors import LmtoolError  # noqa: E402
from lmtool.ngram import fit_ngram, save_ngram, stored_model  # noqa: E402
from lmtool.ngram.cluster.counting import bucket_of  # noqa: E402
from lmtool.ngram.cluster.engine import StageFigures  # noqa: E402
from lmtool.ngram.cluster.lmt_parts import (OrderPlan, RangePart, choose_codebook, range_distinct_values,  # noqa: E402
                                           write_model_by_partition)
from lmtool.ngram.container import read_header  # noqa: E402
from lmtool.ngram.tables import BackoffTables  # noqa: E402
from lmtool.ngram.values import encode_exact  # noqa: E402
from tests.ngram.helpers import assert_same_model_file  # noqa: E402


class HereRun:
    """A stand-in for the cluster's Run: every task runs when submitted, here (``folder`` set:
    the tasks write their part files there instead, as workers the client does not share)."""

    def __init__(self, folder=None):
        self.folder = folder
        self.stages = {}

    def submit(self, name, function, *args):
        if self.folder is not None and name.startswith("write-range"):
            args = (*args[:-1], self.folder)
        return function(*args)

    def pieces(self, sources, n):
        return [[operator.getitem(source, j) for source in sources] for j in range(n)]

    def wait(self, name, futures):
        self.stages[name] = StageFigures(len(futures))

    def gather(self, futures):
        return futures


def partitions(tables: BackoffTables, n: int) -> list[BackoffTables]:
    """``tables`` dealt by last word as stage 5 leaves them: the unigrams' probabilities in
    partition 0, each word's backoff in the partition of the word, every higher order's rows
    in the partition of their last word (sorted)."""
    parts = []
    for j in range(n):
        ngrams, probs, backoffs = [], [], []
        for k in range(tables.order):
            mine = bucket_of(tables.ngrams[k][:, -1:], n) == j
            keep = mine if k else (np.ones(len(mine), dtype=bool) if j == 0 else np.zeros(len(mine), dtype=bool))
            ngrams.append(tables.ngrams[k][keep])
            probs.append(tables.log10_probs[k][keep])
            backoffs.append(tables.log10_backoffs[k][mine])
        parts.append(BackoffTables(order=tables.order, vocab_size=tables.vocab_size, ngrams=ngrams,
                                   log10_probs=probs, log10_backoffs=backoffs))
    return parts


def written_by_partition(model, n: int, path, run=None) -> list[int]:
    described = lambda outline: model.with_tables(outline)  # noqa: E731 (the header's facts: the model's own)
    return write_model_by_partition(run or HereRun(), partitions(model.tables, n), model.order, model.vocabulary,
                                    described, str(path))


@pytest.fixture(scope="module")
def zipf_text(tmp_path_factory):
    """About 60,000 Zipf words over 3,000 types: some 40,000 distinct bigrams."""
    rng = np.random.default_rng(3)
    p = 1 / np.arange(1, 3001) ** 1.1
    ids = rng.choice(3000, 60_000, p=p / p.sum())
    lines = [" ".join(f"w{i}" for i in ids[at:at + 12]) for at in range(0, len(ids), 12)]
    path = tmp_path_factory.mktemp("zipf") / "text.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("order", [1, 2, 3, 5])
@pytest.mark.parametrize("n", [1, 3, 8])
def test_the_file_is_save_ngrams_byte_for_byte(zipf_text, tmp_path, order, n):
    model = stored_model(fit_ngram(str(zipf_text), order, "modified-kneser-ney", split_fractions="1"))
    save_ngram(model, tmp_path / "whole.lmt")
    counts = written_by_partition(model, n, tmp_path / "parts.lmt")
    assert counts == model.tables.n_listed()
    assert_same_model_file(tmp_path / "whole.lmt", tmp_path / "parts.lmt")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["parts.lmt", "whole.lmt"]  # no part files left


@pytest.mark.parametrize("distinct", [1, 200, 3000])
def test_codebooks_of_every_width_native_and_packed(zipf_text, tmp_path, distinct):
    """Values drawn from ``distinct`` numbers: codes of 0 bits (one value), 8 bits (stored as
    uint8) and 12 bits (bit-packed, the ranges' slices joined)."""
    model = stored_model(fit_ngram(str(zipf_text), 3, "kneser-ney", split_fractions="1"))
    rng = np.random.default_rng(distinct)
    pool = rng.normal(-2, 1, distinct).astype(np.float32).astype(np.float64)
    tables = model.tables
    draw = lambda k: pool[rng.integers(distinct, size=len(tables.ngrams[k]))] if k else tables.log10_probs[0]  # noqa: E731
    model = model.with_tables(BackoffTables(order=3, vocab_size=tables.vocab_size, ngrams=tables.ngrams,
                                            log10_probs=[draw(k) for k in range(3)],
                                            log10_backoffs=[draw(k) for k in range(3)]))
    save_ngram(model, tmp_path / "whole.lmt")
    written_by_partition(model, 3, tmp_path / "parts.lmt")
    widths = {order["prob"]["width"] for order in read_header(tmp_path / "parts.lmt")[0]["tables"]["orders"][1:]}
    assert widths == {max(0, int(distinct - 1).bit_length())}
    assert_same_model_file(tmp_path / "whole.lmt", tmp_path / "parts.lmt")


def test_long_columns_sampled_and_mostly_distinct_stay_float32(tmp_path):
    """Over 65,536 n-grams of an order: the column is kept float32 on its sample of every 64th
    row, which the ranges take from their own rows at the global positions."""
    rng = np.random.default_rng(8)
    p = 1 / np.arange(1, 3001) ** 1.1
    ids = rng.choice(3000, 200_000, p=p / p.sum())
    (tmp_path / "t.txt").write_text("\n".join(" ".join(f"w{i}" for i in ids[at:at + 12]) for at in range(0, len(ids), 12)))
    model = stored_model(fit_ngram(str(tmp_path / "t.txt"), 3, "modified-kneser-ney", split_fractions="1"))
    save_ngram(model, tmp_path / "whole.lmt")
    written_by_partition(model, 4, tmp_path / "parts.lmt")
    orders = read_header(tmp_path / "parts.lmt")[0]["tables"]["orders"]
    assert min(order["entries"] for order in orders[1:]) > 1 << 16 and orders[2]["prob"]["width"] == 32
    assert_same_model_file(tmp_path / "whole.lmt", tmp_path / "parts.lmt")


@pytest.mark.parametrize("seed", range(6))
def test_the_ranges_choose_the_codebook_encode_exact_chooses(seed):
    """choose_codebook over a column cut into ranges at random == encode_exact of the column."""
    rng = np.random.default_rng(seed)
    m = int(rng.choice([50, 5000, 70_000, 140_000]))
    pool = rng.normal(0, 1, int(rng.choice([1, 30, 2000, m]))).astype(np.float32)
    column = pool[rng.integers(len(pool), size=m)]
    cuts = np.sort(rng.integers(0, m + 1, int(rng.integers(1, 9))))
    found = []
    for first, end in zip(np.concatenate([[0], cuts]), np.concatenate([cuts, [m]])):
        part = RangePart(np.zeros(end - first, dtype=np.uint64), [column[first:end]], np.zeros(0), np.zeros(0))
        found.extend(range_distinct_values(part, OrderPlan(1, 3, 10, m, 20, 4, 1), int(first)))
    expected = encode_exact(column)
    got = choose_codebook(m, found)
    assert (got is None) == (expected.codebook is None)
    if got is not None:
        assert np.array_equal(got, expected.codebook[:len(got)]) and len(got) <= len(expected.codebook)


def test_parts_the_client_cannot_see_are_one_line_and_no_file(zipf_text, tmp_path):
    model = stored_model(fit_ngram(str(zipf_text), 2, "kneser-ney", split_fractions="1"))
    (tmp_path / "worker").mkdir()
    with pytest.raises(LmtoolError, match="filesystem that every worker and this machine share"):
        written_by_partition(model, 2, tmp_path / "m.lmt", HereRun(tmp_path / "worker"))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["worker"]  # no model file, no parts folder left
