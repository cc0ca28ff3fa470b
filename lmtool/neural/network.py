"""The recurrent network: embedding -> stacked RNN/LSTM/GRU -> dropout -> softmax.

One pure :class:`torch.nn.Module` (:class:`RnnNetwork`) configured by one dataclass
(:class:`RnnConfig`), as in nanoGPT: ``forward(x, hidden, targets)`` returns logits and loss so
that training, validation and scoring share one path. The hidden state is built from the
model's own parameters (device and dtype), as in PyTorch's word-language-model example.

``<s>`` is only ever context (the token accounting of :mod:`lmtool.evaluate`), so the softmax
excludes it: its logit is masked to ``-inf`` in both the full and the adaptive softmax, and
every distribution the model gives sums to one over the other ``V - 1`` tokens.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lmtool.neural.config import ADAPTIVE_DIV, RnnConfig
from lmtool.text import BOS_ID


class RnnNetwork(nn.Module):
    """Embedding -> dropout -> recurrent stack -> dropout -> (full | adaptive) softmax over V."""

    def __init__(self, config: RnnConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        c = config
        self.encoder = nn.Embedding(c.vocab_size, c.emb_size)
        self.drop_in = nn.Dropout(c.dropout_input)
        self.drop_out = nn.Dropout(c.dropout_output)
        between = c.dropout_between if c.layers > 1 else 0.0
        if c.cell == "lstm":
            self.rnn = nn.LSTM(c.emb_size, c.hidden_size, c.layers, dropout=between, batch_first=True)
        elif c.cell == "gru":
            self.rnn = nn.GRU(c.emb_size, c.hidden_size, c.layers, dropout=between, batch_first=True)
        else:
            nonlinearity = c.cell.split("-")[1]
            self.rnn = nn.RNN(c.emb_size, c.hidden_size, c.layers, nonlinearity=nonlinearity,
                              dropout=between, batch_first=True)
        if c.adaptive_cutoffs:
            self.decoder = None
            self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(
                c.hidden_size, c.vocab_size, list(c.adaptive_cutoffs), div_value=ADAPTIVE_DIV)
        else:
            self.adaptive = None
            self.decoder = nn.Linear(c.hidden_size, c.vocab_size)
            if c.tied:
                self.decoder.weight = self.encoder.weight
        self._init_weights()

    def _init_weights(self) -> None:
        """Uniform(-0.1, 0.1) embeddings and output layer, zero output bias (PyTorch's example)."""
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        if self.decoder is not None:
            nn.init.zeros_(self.decoder.bias)
            if not self.config.tied:
                nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def init_hidden(self, batch_size: int):
        """Zero state for ``batch_size`` rows, on the parameters' device and dtype."""
        weight = next(self.parameters())
        shape = (self.config.layers, batch_size, self.config.hidden_size)
        if self.config.cell == "lstm":
            return (weight.new_zeros(shape), weight.new_zeros(shape))
        return weight.new_zeros(shape)

    def forward(self, x: torch.Tensor, hidden=None, targets: torch.Tensor | None = None,
                reduction: str = "mean"):
        """Run ``x`` (B, T) from ``hidden``; return ``(logits, loss, hidden)``.

        Without ``targets``: ``logits`` (B, T, V) are log-softmax-able scores (for the adaptive
        softmax they are already log-probabilities), ``loss`` is None. With ``targets`` (B, T):
        ``loss`` is the mean negative log-likelihood in nats (``reduction="none"``: per token,
        (B, T)) and ``logits`` is None, which spares the adaptive softmax the full distribution.
        """
        output, hidden = self.features(x, hidden)  # (B, T, H)
        flat = output.reshape(-1, output.size(-1))  # (B*T, H)
        if targets is None:
            logits = self._log_probs(flat) if self.adaptive is not None else self._logits(flat)
            return logits.view(x.size(0), x.size(1), -1), None, hidden  # (B, T, V)
        nll = -self.target_log_probs(flat, targets.reshape(-1))  # (B*T,)
        loss = nll.mean() if reduction == "mean" else nll.view_as(targets)
        return None, loss, hidden

    def features(self, x: torch.Tensor, hidden=None):
        """The recurrent stack's output (B, T, H) before the softmax, and the final hidden state.

        The part of :meth:`forward` that truncated-context scoring and gradient-flow measurements
        (:mod:`lmtool.neural.memory`) run on their own, reading the output only where they need it.
        """
        if hidden is None:
            hidden = self.init_hidden(x.size(0))
        emb = self.drop_in(self.encoder(x))  # (B, T, E)
        output, hidden = self.rnn(emb, hidden)  # (B, T, H)
        return self.drop_out(output), hidden

    def target_log_probs(self, flat: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Natural-log probability of ``targets`` (N,) given the features ``flat`` (N, H), <s> excluded."""
        if self.adaptive is not None:
            return self._adaptive_target_log_probs(flat, targets)
        return -F.cross_entropy(self._logits(flat), targets, reduction="none")

    def log_distribution(self, flat: torch.Tensor) -> torch.Tensor:
        """The natural-log distribution over the vocabulary (N, V) given the features ``flat`` (N, H), <s> at -inf."""
        if self.adaptive is not None:
            return self._log_probs(flat)
        return F.log_softmax(self._logits(flat), dim=-1)

    def _logits(self, flat: torch.Tensor) -> torch.Tensor:
        return without_bos(self.decoder, flat)  # (N, V)

    def _head(self, flat: torch.Tensor) -> torch.Tensor:
        return without_bos(self.adaptive.head, flat)  # (N, shortlist + clusters)

    def _log_probs(self, flat: torch.Tensor) -> torch.Tensor:
        """Full (N, V) log-distribution of the adaptive softmax, <s> excluded."""
        return self.adaptive._get_full_log_prob(flat, self._head(flat))

    def _adaptive_target_log_probs(self, flat: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """log p(target) under the adaptive softmax with <s> masked in its head (N,).

        The same computation as ``AdaptiveLogSoftmaxWithLoss.forward``; written out because the
        <s> mask must enter the head's normaliser. One loop iteration per cluster, not per token.
        """
        asm = self.adaptive
        head_lp = F.log_softmax(self._head(flat), dim=1)  # (N, shortlist + clusters)
        column = targets.clone()
        out = flat.new_zeros(targets.size(0))
        for i in range(asm.n_clusters):
            low, high = asm.cutoffs[i], asm.cutoffs[i + 1]
            rows = ((targets >= low) & (targets < high)).nonzero().squeeze(1)
            if rows.numel() == 0:
                continue
            column[rows] = asm.shortlist_size + i
            cluster_lp = F.log_softmax(asm.tail[i](flat[rows]), dim=1)  # (n_i, high - low)
            out = out.index_add(0, rows, cluster_lp.gather(1, (targets[rows] - low).unsqueeze(1)).squeeze(1))
        return out + head_lp.gather(1, column.unsqueeze(1)).squeeze(1)


def without_bos(layer: nn.Linear, flat: torch.Tensor) -> torch.Tensor:
    """``layer(flat)`` with the ``<s>`` column at ``-inf``, the mask entering through the bias.

    Writing ``-inf`` into the output in place would make autograd clone the whole (N, V)
    gradient in the backward pass: 7% of a full-softmax training step on Brown.
    """
    mask = torch.zeros(layer.out_features, dtype=flat.dtype, device=flat.device)
    mask[BOS_ID] = float("-inf")
    return F.linear(flat, layer.weight, mask if layer.bias is None else layer.bias + mask)


def detach_hidden(hidden):
    """Cut the graph behind ``hidden`` so truncated BPTT stops at the window edge."""
    if isinstance(hidden, tuple):
        return tuple(h.detach() for h in hidden)
    return hidden.detach()

