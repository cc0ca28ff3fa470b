"""RnnLM: shapes for every cell, normalisation with <s> excluded, configuration errors."""

from __future__ import annotations

import pytest
import torch

from lmtool.errors import UsageError
from lmtool.neural.model import CELLS, RnnConfig, RnnLM

from .conftest import tiny_config


@pytest.mark.parametrize("cutoffs", [[], [4, 8]], ids=["full", "adaptive"])
@pytest.mark.parametrize("cell", CELLS)
def test_shapes_and_normalisation(cell, cutoffs):
    torch.manual_seed(0)
    model = RnnLM(tiny_config(vocab_size=20, cell=cell, adaptive_cutoffs=cutoffs)).eval()
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
    model = RnnLM(tiny_config(cell="gru")).double()
    assert model.init_hidden(4).dtype == torch.float64


def test_tied_weights_share_one_matrix():
    model = RnnLM(tiny_config(emb_size=16, tied=True))
    assert model.decoder.weight is model.encoder.weight


@pytest.mark.parametrize("changes, message", [
    ({"hidden_size": 0}, "--hidden must be at least 1"),
    ({"dropout_output": 1.5}, "dropout output must be in [0, 1)"),
    ({"tied": True}, "tied weights need equal embedding and hidden sizes"),
    ({"cell": "transformer"}, "unknown cell"),
    ({"adaptive_cutoffs": [8, 4]}, "must increase strictly"),
    ({"adaptive_cutoffs": [4], "emb_size": 16, "tied": True}, "cannot be combined"),
])
def test_bad_configuration_is_a_usage_error(changes, message):
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        RnnLM(tiny_config(**changes))


def test_config_round_trips_through_dict():
    config = tiny_config(cell="rnn-relu", adaptive_cutoffs=[4])
    assert RnnConfig.from_dict(config.to_dict()) == config
