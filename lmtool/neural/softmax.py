"""The output layer every lmtool network shares: a softmax over the vocabulary, full or adaptive, ``<s>`` masked.

The recurrent network (:mod:`lmtool.neural.network`) and the feed-forward neural n-gram
(:mod:`lmtool.neural.feedforward`) both end in :class:`VocabularySoftmax`: they compute
features (B*T or B rows of width F) and hand them to :meth:`VocabularySoftmax.vocabulary_output`,
which returns the distribution's scores or the loss. Written once, so that both families mask
``<s>`` the same way and share the adaptive softmax (Grave et al. 2017).

``<s>`` is only ever context (the token accounting of :mod:`lmtool.evaluate`), so its logit is
masked to ``-inf`` in both the full and the adaptive softmax, and every distribution sums to one
over the other ``V - 1`` tokens. The layers are attributes of the network itself (``decoder``,
``adaptive``), so the weights keep their names in model files.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lmtool.neural.config import ADAPTIVE_DIV
from lmtool.text import BOS_ID


class VocabularySoftmax(nn.Module):
    """Base class of lmtool's networks: ``decoder`` (full softmax) or ``adaptive``, built by :meth:`build_softmax`."""

    decoder: nn.Linear | None
    adaptive: nn.AdaptiveLogSoftmaxWithLoss | None

    def build_softmax(self, features: int, vocab_size: int, cutoffs: list[int], tie_to: nn.Embedding | None) -> None:
        """The output layer from ``features`` to ``vocab_size`` ids (adaptive when ``cutoffs``; tied to ``tie_to``)."""
        if cutoffs:
            self.decoder = None
            self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(features, vocab_size, list(cutoffs), div_value=ADAPTIVE_DIV)
        else:
            self.adaptive = None
            self.decoder = nn.Linear(features, vocab_size)
            if tie_to is not None:
                self.decoder.weight = tie_to.weight

    def init_softmax(self, tied: bool) -> None:
        """Zero output bias and a Uniform(-0.1, 0.1) output matrix (PyTorch's example); the adaptive softmax keeps torch's."""
        if self.decoder is not None:
            nn.init.zeros_(self.decoder.bias)
            if not tied:
                nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def vocabulary_output(self, flat: torch.Tensor, targets: torch.Tensor | None, reduction: str = "mean",
                          extra_logits: torch.Tensor | None = None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """``(scores, loss)`` of the (N, F) features ``flat``.

        Without ``targets``: ``scores`` (N, V) are log-softmax-able (for the adaptive softmax they
        are already log-probabilities) and ``loss`` is None. With ``targets`` (any shape holding N
        ids): ``loss`` is the mean negative log-likelihood in nats (``reduction="none"``: per
        token, shaped like ``targets``) and ``scores`` is None, which spares the adaptive softmax
        the full distribution. ``extra_logits`` (N, V) are added before the full softmax (the
        feed-forward network's direct connections).
        """
        if targets is None:
            if self.adaptive is not None:
                return self._adaptive_log_probs(flat), None
            return self._logits(flat, extra_logits), None
        nll = -self.target_log_probs(flat, targets.reshape(-1), extra_logits)  # (N,)
        return None, nll.mean() if reduction == "mean" else nll.view_as(targets)

    def target_log_probs(self, flat: torch.Tensor, targets: torch.Tensor,
                         extra_logits: torch.Tensor | None = None) -> torch.Tensor:
        """Natural-log probability of ``targets`` (N,) given the features ``flat`` (N, F), <s> excluded."""
        if self.adaptive is not None:
            return self._adaptive_target_log_probs(flat, targets)
        return -F.cross_entropy(self._logits(flat, extra_logits), targets, reduction="none")

    def log_distribution(self, flat: torch.Tensor, extra_logits: torch.Tensor | None = None) -> torch.Tensor:
        """The natural-log distribution over the vocabulary (N, V) given the features ``flat`` (N, F), <s> at -inf."""
        if self.adaptive is not None:
            return self._adaptive_log_probs(flat)
        return F.log_softmax(self._logits(flat, extra_logits), dim=-1)

    def _logits(self, flat: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        logits = without_bos(self.decoder, flat)  # (N, V)
        return logits if extra is None else logits + extra

    def _head(self, flat: torch.Tensor) -> torch.Tensor:
        return without_bos(self.adaptive.head, flat)  # (N, shortlist + clusters)

    def _adaptive_log_probs(self, flat: torch.Tensor) -> torch.Tensor:
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
