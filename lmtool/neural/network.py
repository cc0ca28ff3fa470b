"""The recurrent network: embedding -> stacked RNN/LSTM/GRU -> dropout -> softmax.

One pure :class:`torch.nn.Module` (:class:`RnnNetwork`) configured by one dataclass
(:class:`RnnConfig`), as in nanoGPT: ``forward(x, hidden, targets)`` returns logits and loss so
that training, validation and scoring share one path. The hidden state is built from the
model's own parameters (device and dtype), as in PyTorch's word-language-model example. The
softmax over the vocabulary (full or adaptive, ``<s>`` masked) is
:class:`lmtool.neural.softmax.VocabularySoftmax`, shared with the feed-forward network.
"""

from __future__ import annotations

import torch
from torch import nn

from lmtool.neural.config import RnnConfig
from lmtool.neural.softmax import VocabularySoftmax


class RnnNetwork(VocabularySoftmax):
    """Embedding -> dropout -> recurrent stack -> dropout -> (full | adaptive) softmax over V."""

    #: the "format" of this network's model files (lmtool.neural.checkpoint)
    file_format = "lmtool-rnn"
    config_class = RnnConfig
    #: tokens of context the network sees: None, unbounded (the recurrent state)
    context_size = None

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
        self.build_softmax(c.hidden_size, c.vocab_size, c.adaptive_cutoffs, self.encoder if c.tied else None)
        self._init_weights()

    def _init_weights(self) -> None:
        """Uniform(-0.1, 0.1) embeddings and output layer, zero output bias (PyTorch's example)."""
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        self.init_softmax(self.config.tied)

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
        logits, loss = self.vocabulary_output(flat, targets, reduction)
        if logits is not None:
            logits = logits.view(x.size(0), x.size(1), -1)  # (B, T, V)
        return logits, loss, hidden

    def features(self, x: torch.Tensor, hidden=None):
        """The recurrent stack's output (B, T, H) before the softmax, and the final hidden state.

        The part of :meth:`forward` that truncated-context scoring and gradient-flow measurements
        (:mod:`lmtool.neural.memory`) run on their own, reading the output only where they need it
        (through :meth:`~lmtool.neural.softmax.VocabularySoftmax.target_log_probs` and
        :meth:`~lmtool.neural.softmax.VocabularySoftmax.log_distribution`).
        """
        if hidden is None:
            hidden = self.init_hidden(x.size(0))
        emb = self.drop_in(self.encoder(x))  # (B, T, E)
        output, hidden = self.rnn(emb, hidden)  # (B, T, H)
        return self.drop_out(output), hidden


def detach_hidden(hidden):
    """Cut the graph behind ``hidden`` so truncated BPTT stops at the window edge (None stays None)."""
    if isinstance(hidden, tuple):
        return tuple(h.detach() for h in hidden)
    return hidden.detach() if hidden is not None else None
