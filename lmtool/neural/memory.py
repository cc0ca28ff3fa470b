"""What a recurrent network remembers: scores from a truncated context, and gradients through time.

Two measurements of :mod:`lmtool.analysis` that need torch live here.

**Truncated context** (Khandelwal et al. 2018, "Sharp Nearby, Fuzzy Far Away"): the
probability of a target when the network starts from a fresh (zero) state and reads only the
inputs of a window before it. Windows are given as (start, column) pairs over the input stream
(``inputs[s]`` is the input that predicts ``ids[s]``, see :func:`lmtool.neural.batching.input_stream`):
the pair (s, c) runs the network from zero over ``inputs[s : s + c + 1]`` and scores ``ids[s + c]``.
One run from start s serves every column of it, so windows sharing a start cost one run::

    inputs   ... x5 x6 x7 x8 x9 ...        run from s = 6, width 3 (zero state)
    columns          0  1  2
    scores          id6 id7 id8            id8 with context 3, id7 with 2, id6 with 1

Runs are sorted by width and batched (rows x width bounded by ``chunk_tokens``), and the softmax
is evaluated only at the requested columns: no per-token Python loop.

**Gradient flow through time**: for a window of inputs x_0..x_T from a zero state, the norm
of d loss_T / d s_(T-k) for k = 0..T, where loss_T is the negative log-probability of the target
after the last input and s_t is the whole recurrent state after input t (every layer's h, and
c for an LSTM). The network runs one time step at a time so that each state is a node of the
graph; one backward pass gives every k (Bengio et al. 1994, Pascanu et al. 2013).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from lmtool.errors import DataError
from lmtool.neural.batching import input_stream
from lmtool.neural.checkpoint import seed_everything
from lmtool.neural.config import RnnConfig
from lmtool.neural.network import RnnNetwork


def window_features(net: RnnNetwork, inputs: np.ndarray, starts: np.ndarray, columns: np.ndarray,
                    chunk_tokens: int = 1 << 16) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
    """The network's features (its output before the softmax) at the end of every window, batch by batch.

    Window i runs from a zero state over ``inputs[starts[i] : starts[i] + columns[i] + 1]`` (see
    the module docstring). Yields ``(which, features)``: the window indices of one batch (P,) and
    their features (P, H); every window comes once. ``chunk_tokens`` bounds rows x time steps per
    forward pass.
    """
    starts, columns = np.asarray(starts, dtype=np.int64), np.asarray(columns, dtype=np.int64)
    if len(starts) == 0:
        return
    runs, run_of = np.unique(starts, return_inverse=True)  # one run per distinct start
    width = np.zeros(len(runs), dtype=np.int64)
    np.maximum.at(width, run_of, columns + 1)
    order = np.argsort(-width, kind="stable")  # widest runs first
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    pair_rank = rank[run_of]  # where each window's run comes in that order
    pairs = np.argsort(pair_rank, kind="stable")  # windows grouped by run, runs in order
    pair_rank_sorted = pair_rank[pairs]
    stream = torch.from_numpy(np.asarray(inputs, dtype=np.int64))
    device = next(net.parameters()).device
    done_runs = done_pairs = 0
    with torch.no_grad():
        while done_runs < len(runs):
            w = int(width[order[done_runs]])
            group = order[done_runs:done_runs + max(1, chunk_tokens // w)]  # (R,) runs of width <= w
            upto = int(np.searchsorted(pair_rank_sorted, done_runs + len(group)))
            these = pairs[done_pairs:upto]  # the windows read from this group's runs
            index = np.minimum(runs[group][:, None] + np.arange(w)[None, :], len(stream) - 1)  # (R, w)
            features, _ = net.features(stream[torch.from_numpy(index)].to(device))  # (R, w, H)
            rows = torch.from_numpy(pair_rank[these] - done_runs)
            yield these, features[rows, torch.from_numpy(columns[these])]  # (P, H)
            done_runs += len(group)
            done_pairs = upto


def window_log_probs(net: RnnNetwork, inputs: np.ndarray, starts: np.ndarray, columns: np.ndarray,
                     targets: np.ndarray, chunk_tokens: int = 1 << 16) -> np.ndarray:
    """Natural-log probability of ``targets[i]`` at the end of window i (see :func:`window_features`)."""
    out = np.empty(len(starts), dtype=np.float64)
    targets = torch.from_numpy(np.asarray(targets, dtype=np.int64))
    for which, features in window_features(net, inputs, starts, columns, chunk_tokens):
        target = targets[torch.from_numpy(which)].to(features.device)
        out[which] = net.target_log_probs(features, target).double().cpu().numpy()
    return out


def window_top(net: RnnNetwork, inputs: np.ndarray, starts: np.ndarray, columns: np.ndarray, k: int,
               chunk_tokens: int = 1 << 14) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most likely next ids and their natural-log probabilities at the end of each window, (N, k) each.

    The full distribution is built only for one batch of windows at a time (a smaller default
    ``chunk_tokens``: each window costs a V-wide row).
    """
    ids = np.empty((len(starts), k), dtype=np.int64)
    log_probs = np.empty((len(starts), k), dtype=np.float64)
    for which, features in window_features(net, inputs, starts, columns, chunk_tokens):
        top = torch.topk(net.log_distribution(features).double(), k, dim=1)
        ids[which], log_probs[which] = top.indices.cpu().numpy(), top.values.cpu().numpy()
    return ids, log_probs


def state_gradient_norms(net: RnnNetwork, inputs: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """Norm of d loss_T / d s_(T-k) for each window row and k = 0..T (see the module docstring).

    ``inputs`` is (B, T+1) ids read from a zero state, ``targets`` (B,) the ids that follow
    them; returns (B, T+1) float64, column k for the state k steps before the last. Rows are
    independent, so the gradient of the summed loss with respect to row b's state is that of
    row b's own loss. The network should be in eval mode (no dropout) for a clean measurement.
    """
    batch, steps = inputs.shape
    emb = net.drop_in(net.encoder(inputs))  # (B, T+1, E)
    hidden = net.init_hidden(batch)
    states = []
    for t in range(steps):  # one step at a time: each state becomes a node of the graph
        _, hidden = net.rnn(emb[:, t:t + 1], hidden)
        states.append(hidden if isinstance(hidden, tuple) else (hidden,))
    top = states[-1][0][-1]  # (B, H): the last layer's h after the last input (the network's output)
    loss = -net.target_log_probs(net.drop_out(top), targets).sum()
    parts = [part for state in states for part in state]
    # an LSTM's last c does not reach the loss (h does): its gradient is zero, which autograd reports as None
    grads = [torch.zeros_like(p) if g is None else g
             for p, g in zip(parts, torch.autograd.grad(loss, parts, allow_unused=True))]  # each (layers, B, H)
    per_part = len(states[0])
    norms = torch.stack([
        torch.cat([g.permute(1, 0, 2).reshape(batch, -1) for g in grads[t * per_part:(t + 1) * per_part]], dim=1)
        .norm(dim=1) for t in range(steps)], dim=1)  # (B, T+1): column t is the state after input t
    return norms.flip(1).double().cpu().numpy()  # column k: the state k steps before the last


def sample_gradient_norms(net: RnnNetwork, ids: np.ndarray, span: int, count: int, seed: int = 0,
                          batch: int = 128) -> np.ndarray:
    """:func:`state_gradient_norms` over ``count`` windows of ``span + 1`` inputs drawn from the text ``ids``.

    Each window ends at a target drawn uniformly (seeded) among those with ``span`` inputs
    before their own (the stream ``<s>`` + ids, sentences running on); returns (count, span + 1).
    The network is measured in eval mode and left as it was.
    """
    inputs = input_stream(np.asarray(ids, dtype=np.int64))
    eligible = len(ids) - span  # targets t >= span have inputs t - span .. t
    if eligible < 1:
        raise DataError(f"the text has {len(ids)} tokens, too few for windows of {span + 1}: give a smaller span")
    rng = np.random.default_rng(seed)
    targets = span + rng.choice(eligible, size=min(count, eligible), replace=False)
    windows = torch.from_numpy(inputs[targets[:, None] - span + np.arange(span + 1)[None, :]])  # (count, span+1)
    labels = torch.from_numpy(np.asarray(ids, dtype=np.int64)[targets])
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()
    try:
        return np.concatenate([state_gradient_norms(net, windows[i:i + batch].to(device),
                                                    labels[i:i + batch].to(device))
                               for i in range(0, len(targets), batch)])
    finally:
        net.train(was_training)


def initial_network(config: RnnConfig, seed: int) -> RnnNetwork:
    """The network :func:`lmtool.neural.train.train` starts from with ``seed``: its weights at initialisation."""
    seed_everything(seed)
    return RnnNetwork(config)
