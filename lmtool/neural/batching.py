"""Training batches over a prepared token stream: contiguous rows with truncated BPTT, random
windows, or the n-gram windows of a feed-forward network.

Both schemes read one flat stream: ``<s>`` followed by the split's ids (the token accounting of
:mod:`lmtool.evaluate`: the input for position t is the previous id; ``<s>`` at the very start;
with line units the previous sentence's ``</s>`` is the input that starts the next sentence).
Teacher forcing throughout: the input is the stream, the target the stream shifted by one.

Contiguous streams (PyTorch's word-language-model layout). The N targets are cut into B equal
rows (the tail that does not fill a row is dropped); row b's inputs are the stream positions
just before its targets, so each row is an unbroken piece of text::

    stream  <s> a b c d e f g h i j k l m n o p q r s t u v w x      (N = 24 targets a..x, B = 4)

    inputs (B, L)                 targets (B, L)          L = N // B = 6
    row 0: <s> a b c d e          a b c d e f
    row 1:  f  g h i j k          g h i j k l
    row 2:  l  m n o p q          m n o p q r
    row 3:  r  s t u v w          s t u v w x
           |--T--|--T--|          windows of T = bptt columns, read left to right

Window k is columns [k*T, (k+1)*T); the hidden state after window k is detached and carried into
window k+1, so gradients flow T steps back while the state sees the whole row. Under
DistributedDataParallel each rank takes a contiguous block of the B rows (:func:`rank_rows`).

Random windows (the char-rnn / music recipe): each batch draws B start positions uniformly, the
input is ``stream[s : s+T]`` and the target ``stream[s+1 : s+T+1]``; every window starts from a
zero state. The draws depend only on ``(seed, step)``, so a resumed run sees the same batches.

N-gram windows (the feed-forward neural n-gram): the example at position t is the K ids before
it and the target ``ids[t]``, with ``<s>`` wherever the window reaches back past the start of t's
segment (the padding of the n-gram models, so training sees exactly the contexts scoring
does). There is no recurrence, so a batch is B positions computed in parallel, taken in the
order of a permutation of all N positions drawn from ``(seed, epoch)``::

    ids       the cat sat </s> a dog ran </s>          (two segments, K = 3)
    position  0   1   2   3    4 5   6   7
    t = 5:    context (<s>, <s>, a)  target dog        (the window stops at the segment start)
    t = 2:    context (<s>, the, cat) target sat

Batch k of epoch e is positions ``perm_e[k*B : (k+1)*B]`` (the last N mod B positions of each
permutation are left out of that epoch), so a resumed run sees the same batches.
"""

from __future__ import annotations

import numpy as np
import torch

from lmtool.errors import DataError, UsageError
from lmtool.text import BOS_ID


def input_stream(ids: np.ndarray) -> np.ndarray:
    """``<s>`` followed by ``ids``: position t of the result is the input that predicts ``ids[t]``."""
    return np.concatenate([np.array([BOS_ID], dtype=np.int64), ids.astype(np.int64)])


def ids_and_starts(data) -> tuple[np.ndarray, np.ndarray]:
    """The ids and segment starts of an :class:`lmtool.text.EncodedSplit`, or of a bare id array read as one segment."""
    if hasattr(data, "starts"):
        return np.asarray(data.ids), np.asarray(data.starts, dtype=np.int64)
    ids = np.asarray(data)
    return ids, np.array([0, len(ids)], dtype=np.int64)


def segment_start_of(starts: np.ndarray) -> np.ndarray:
    """For each position of a split, the offset where its segment starts (``starts`` as in EncodedSplit)."""
    starts = np.asarray(starts, dtype=np.int64)
    return np.repeat(starts[:-1], np.diff(starts))


def context_windows(ids: np.ndarray, segment_start: np.ndarray, positions: np.ndarray, context: int) -> np.ndarray:
    """The ``context`` ids before each of ``positions``, oldest first, ``<s>`` before the segment start: (P, K) int64.

    The one place where the feed-forward model's padding is written: training batches and
    scoring both read their contexts here.
    """
    positions = np.asarray(positions, dtype=np.int64)
    source = positions[:, None] - np.arange(context, 0, -1)[None, :]  # (P, K) oldest first
    inside = source >= segment_start[positions][:, None]  # (P, K)
    return np.where(inside, np.asarray(ids, dtype=np.int64)[np.maximum(source, 0)], BOS_ID)


def rank_rows(batch_size: int, rank: int, world: int) -> slice:
    """The contiguous block of global batch rows that ``rank`` of ``world`` trains on."""
    if batch_size % world:
        raise UsageError(f"--batch-size {batch_size} must be a multiple of the number of processes ({world})")
    per = batch_size // world
    return slice(rank * per, (rank + 1) * per)


class StreamBatches:
    """Contiguous rows with truncated BPTT windows (see the module diagram)."""

    def __init__(self, ids: np.ndarray, batch_size: int, bptt: int, rows: slice | None = None) -> None:
        if batch_size < 1 or bptt < 1:
            raise UsageError(f"--batch-size and --bptt must be at least 1 (got {batch_size}, {bptt})")
        length = len(ids) // batch_size
        if length < 1:
            raise DataError(f"the train split has {len(ids)} tokens, fewer than --batch-size {batch_size}: "
                            "use a smaller batch or a larger corpus")
        stream = input_stream(ids)
        used = length * batch_size
        self.inputs = torch.from_numpy(stream[:used].reshape(batch_size, length))  # (B, L)
        self.targets = torch.from_numpy(stream[1:used + 1].reshape(batch_size, length))  # (B, L)
        if rows is not None:
            self.inputs, self.targets = self.inputs[rows], self.targets[rows]
        self.bptt = bptt
        self.n_windows = -(-length // bptt)

    def __len__(self) -> int:
        return self.n_windows

    def window(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets of window ``k``: (B, T) each, T = bptt except maybe the last."""
        cols = slice(k * self.bptt, (k + 1) * self.bptt)
        return self.inputs[:, cols], self.targets[:, cols]


class RandomWindows:
    """Windows at random start positions, drawn from ``(seed, step)`` alone."""

    def __init__(self, ids: np.ndarray, batch_size: int, bptt: int, seed: int, rows: slice | None = None) -> None:
        if batch_size < 1 or bptt < 1:
            raise UsageError(f"--batch-size and --bptt must be at least 1 (got {batch_size}, {bptt})")
        self.stream = torch.from_numpy(input_stream(ids))
        if len(ids) < bptt:
            raise DataError(f"the train split has {len(ids)} tokens, fewer than --bptt {bptt}: use a shorter window")
        self.batch_size, self.bptt, self.seed = batch_size, bptt, seed
        self.rows = rows if rows is not None else slice(0, batch_size)
        # one epoch = as many windows as cover the stream once on average
        self.n_windows = max(1, len(ids) // (batch_size * bptt))

    def __len__(self) -> int:
        return self.n_windows

    def window(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The (B, T) inputs and targets of global step ``step`` (this rank's rows only)."""
        rng = np.random.default_rng([self.seed, step])
        starts = rng.integers(0, len(self.stream) - self.bptt, size=self.batch_size)[self.rows]  # (B,)
        index = torch.from_numpy(starts)[:, None] + torch.arange(self.bptt + 1)[None, :]  # (B, T+1)
        window = self.stream[index]
        return window[:, :-1], window[:, 1:]


class NgramWindows:
    """Random n-gram windows over every position, an epoch a permutation drawn from ``(seed, epoch)``."""

    def __init__(self, ids: np.ndarray, starts: np.ndarray, context: int, batch_size: int, seed: int,
                 rows: slice | None = None) -> None:
        if batch_size < 1 or context < 1:
            raise UsageError(f"--batch-size and --context must be at least 1 (got {batch_size}, {context})")
        if len(ids) < batch_size:
            raise DataError(f"the train split has {len(ids)} tokens, fewer than --batch-size {batch_size}: "
                            "use a smaller batch or a larger corpus")
        self.ids = np.asarray(ids, dtype=np.int64)
        self.segment_start = segment_start_of(starts)
        self.context, self.batch_size, self.seed = context, batch_size, seed
        self.rows = rows if rows is not None else slice(0, batch_size)
        self.n_windows = len(ids) // batch_size
        self._epoch, self._order = None, None

    def __len__(self) -> int:
        return self.n_windows

    def order(self, epoch: int) -> np.ndarray:
        """The permutation of all positions that epoch ``epoch`` reads in order."""
        if self._epoch != epoch:
            self._epoch, self._order = epoch, np.random.default_rng([self.seed, epoch]).permutation(len(self.ids))
        return self._order

    def window(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Contexts (B, K) and targets (B,) of batch ``index`` counted from the first epoch (this rank's rows)."""
        epoch, k = divmod(index, self.n_windows)
        positions = self.order(epoch)[k * self.batch_size:(k + 1) * self.batch_size][self.rows]  # (B,)
        contexts = context_windows(self.ids, self.segment_start, positions, self.context)
        return torch.from_numpy(contexts), torch.from_numpy(self.ids[positions])
