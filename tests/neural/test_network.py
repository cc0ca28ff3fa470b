"""RnnNetwork: shapes for every cell, normalisation with <s> excluded, the hidden state, tying."""

from __future__ import annotations

import pytest
import torch

from lmtool.neural.config import CELLS
from lmtool.neural.network import RnnNetwork

from .conftest import tiny_config


@pytest.mark.parametrize("cutoffs", [[], [4, 8]], ids=["full", "adaptive"])
@pytest.mark.parametrize("cell", CELLS)
def test_shapes_and_normalisation(cell, cutoffs):
    torch.manual_seed(0)
    model = RnnNetwork(tiny_config(vocab_size=20, cell=cell, adaptive_cutoffs=cutoffs)).eval()
    x = torch.randint(2, 20, (3, 5))  # (B, T)
    logits, loss, hidden = model(x)
    assert logits.shape == (3, 5, 20) and loss is None
    layers_batch_hidden = (2, 3, 16)
    states = hidden if cell == "lstm" else (hidden,)
    assert all(h.shape == layers_batch_hidden for h in states)
    log_probs = torch.log_softmax(logits, dim=-1)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(3, 5), atol=1e-5)
    assert torch.all(log_probs[..., 1] == float("-inf"))  # <s> is never predicted
    # the training path (targets given) computes the same per-token log-probabilities
    _, nll, _ = model(x, None, x, reduction="none")
    assert nll.shape == (3, 5)
    assert torch.allclose(nll, -log_probs.gather(2, x[..., None]).squeeze(-1), atol=1e-5)
    _, mean_loss, _ = model(x, None, x)
    assert mean_loss.item() == pytest.approx(nll.mean().item(), rel=1e-6)


def test_hidden_follows_parameters_dtype():
    model = RnnNetwork(tiny_config(cell="gru")).double()
    assert model.init_hidden(4).dtype == torch.float64


def test_tied_weights_share_one_matrix():
    model = RnnNetwork(tiny_config(emb_size=16, tied=True))
    assert model.decoder.weight is model.encoder.weight
