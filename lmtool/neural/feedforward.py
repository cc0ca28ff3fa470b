"""The feed-forward neural n-gram (Bengio, Ducharme, Vincent and Jauvin 2003): a fixed window, learned embeddings.

::

    context ids (B, K) -> embeddings (B, K, m) -> x = concatenation (B, K*m)
    hidden  h = tanh(d + H x)                       (B, h), ``layers`` times
    output  y = b + U h  [+ W x, direct connections] -> softmax over V, <s> masked

It makes an n-gram's Markov assumption (it sees the K = n - 1 previous tokens and nothing
else) but smooths by the similarity of learned word vectors instead of by counts, which is
what puts it between the count-based n-grams and the recurrent networks on the ladder.
:class:`NnlmNetwork` follows the recurrent network's interface (``forward(x, hidden, targets)``
returns ``(logits, loss, hidden)`` with no hidden state), so the one :class:`Trainer` trains
both; :func:`score_windows` scores a whole split position by position in parallel.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lmtool.neural.batching import context_windows, segment_start_of
from lmtool.neural.config import NnlmConfig
from lmtool.neural.softmax import VocabularySoftmax


class NnlmNetwork(VocabularySoftmax):
    """Embeddings of the K previous tokens -> tanh layer(s) -> (full | adaptive) softmax, optional direct connections."""

    #: the "format" of this network's model files (lmtool.neural.checkpoint)
    file_format = "lmtool-nnlm"
    config_class = NnlmConfig

    def __init__(self, config: NnlmConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        c = config
        self.encoder = nn.Embedding(c.vocab_size, c.emb_size)
        self.drop = nn.Dropout(c.dropout)
        widths = [c.context * c.emb_size] + [c.hidden_size] * c.layers
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.direct = nn.Linear(c.context * c.emb_size, c.vocab_size, bias=False) if c.direct else None
        self.build_softmax(c.hidden_size, c.vocab_size, c.adaptive_cutoffs, self.encoder if c.tied else None)
        self._init_weights()

    @property
    def context_size(self) -> int:
        """Tokens of context the network sees (K = n - 1)."""
        return self.config.context

    def _init_weights(self) -> None:
        """Uniform(-0.1, 0.1) embeddings, output and direct matrices, zero output bias; torch's default for H."""
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        if self.direct is not None:
            nn.init.uniform_(self.direct.weight, -0.1, 0.1)
        self.init_softmax(self.config.tied)

    def init_hidden(self, batch_size: int) -> None:
        """No state: every prediction reads its own window."""
        return None

    def forward(self, x: torch.Tensor, hidden=None, targets: torch.Tensor | None = None, reduction: str = "mean"):
        """Predict from the contexts ``x`` (B, K), oldest first; return ``(logits, loss, None)``.

        Without ``targets``: ``logits`` (B, V) are log-softmax-able scores (already
        log-probabilities for the adaptive softmax). With ``targets`` (B,): ``loss`` is the
        mean negative log-likelihood in nats (``reduction="none"``: per example, (B,)).
        ``hidden`` is accepted and ignored, as the recurrent network's interface has it.
        """
        features = self.drop(self.encoder(x).reshape(x.size(0), -1))  # (B, K*m)
        h = features
        for layer in self.hidden:
            h = self.drop(torch.tanh(layer(h)))  # (B, h)
        direct = self.direct(features) if self.direct is not None else None  # (B, V)
        logits, loss = self.vocabulary_output(h, targets, reduction, direct)
        return logits, loss, None


def score_windows(net: NnlmNetwork, ids: np.ndarray, starts: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Natural-log probability of every id of a split (``starts`` as in EncodedSplit), float64.

    Every position reads its K previous ids inside its segment, ``<s>`` before the segment's
    start; ``chunk`` positions go through the network at once (memory: ``chunk`` V-wide rows).
    """
    ids = np.asarray(ids, dtype=np.int64)
    segment_start = segment_start_of(starts)
    device = next(net.parameters()).device
    out = np.empty(len(ids), dtype=np.float64)
    was_training = net.training
    net.eval()
    with torch.no_grad():
        for begin in range(0, len(ids), chunk):
            positions = np.arange(begin, min(begin + chunk, len(ids)))
            x = torch.from_numpy(context_windows(ids, segment_start, positions, net.config.context)).to(device)
            y = torch.from_numpy(ids[positions]).to(device)
            _, nll, _ = net(x, None, y, reduction="none")
            out[positions] = -nll.double().cpu().numpy()
    net.train(was_training)
    return out
