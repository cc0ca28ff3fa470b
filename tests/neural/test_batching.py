"""Batch layouts: the module docstring's diagram, windows, random windows, rank shards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmtool.errors import DataError, UsageError
from lmtool.neural.batching import RandomWindows, StreamBatches, rank_rows


def test_stream_layout_matches_the_diagram():
    ids = np.arange(10, 34, dtype=np.int32)  # 24 targets "a".."x" as ids 10..33
    batches = StreamBatches(ids, batch_size=4, bptt=4)
    # L = 24 // 4 = 6 columns; row 1's first input is the last target of row 0 (id 15 = "f")
    assert batches.inputs[:, 0].tolist() == [1, 15, 21, 27]  # <s>, f, l, r
    assert batches.targets[1].tolist() == [16, 17, 18, 19, 20, 21]  # g..l
    assert len(batches) == 2  # windows of 4 then 2 columns
    x, y = batches.window(1)
    assert x.shape == (4, 2) and y.tolist()[0] == [14, 15]
    # teacher forcing: each target is the next input along the row
    assert torch.equal(batches.inputs[:, 1:], batches.targets[:, :-1])


def test_rank_rows_cut_the_batch_into_blocks():
    assert rank_rows(6, 1, 3) == slice(2, 4)
    with pytest.raises(UsageError, match="multiple of the number of processes"):
        rank_rows(5, 0, 2)
    ids = np.arange(10, 34, dtype=np.int32)
    whole, half = StreamBatches(ids, 4, 3), StreamBatches(ids, 4, 3, rows=rank_rows(4, 1, 2))
    assert torch.equal(half.window(1)[0], whole.window(1)[0][2:])


def test_random_windows_depend_on_seed_and_step_only():
    ids = np.arange(3, 103, dtype=np.int32)
    a, b = RandomWindows(ids, 4, 5, seed=7), RandomWindows(ids, 4, 5, seed=7)
    x, y = a.window(3)
    assert torch.equal(x, b.window(3)[0]) and not torch.equal(x, a.window(4)[0])
    assert torch.equal(x[:, 1:], y[:, :-1])  # target = window shifted by one
    assert torch.all(y >= 3)  # a target is never <s>
    assert torch.equal(RandomWindows(ids, 4, 5, seed=7, rows=slice(2, 4)).window(3)[0], x[2:])


def test_too_little_data_is_a_data_error():
    with pytest.raises(DataError, match="fewer than --batch-size"):
        StreamBatches(np.arange(3, dtype=np.int32), batch_size=5, bptt=2)
