"""The training loop: it learns, it is deterministic, it resumes exactly, it survives NaN; the optimiser's decay groups."""

from __future__ import annotations

import pytest
import torch

from lmtool.errors import LmtoolError
from lmtool.neural.config import OPTIMIZERS, TrainOptions
from lmtool.neural.network import RnnNetwork
from lmtool.neural.optimisation import OPTIMIZER_CLASSES, make_optimizer
from lmtool.neural.training import Trainer

from .conftest import repeated_ids, tiny_config


def train(tmp_path, options: TrainOptions, resume: bool = False, events=None, **changes) -> Trainer:
    torch.manual_seed(options.seed)
    ids = repeated_ids()
    trainer = Trainer(RnnNetwork(tiny_config(**changes)), ids, ids[:70], options, out_path=tmp_path / "best.rnn",
                      checkpoint_dir=tmp_path / "ckpt", meta={"fingerprint": "test"}, device=torch.device("cpu"),
                      on_event=events.append if events is not None else None)
    if resume:
        trainer.resume()
    trainer.run()
    return trainer


def weights(trainer: Trainer) -> list[torch.Tensor]:
    return [p.detach().clone() for p in trainer.model.parameters()]


@pytest.mark.parametrize("optimizer, lr", [("adam", 0.05), ("sgd", 5.0)])
def test_overfits_a_repeated_sentence(tmp_path, optimizer, lr):
    events = []
    train(tmp_path, TrainOptions(bptt=7, batch_size=4, optimizer=optimizer, lr=lr, epochs=12), events=events, layers=1)
    valid = [e["valid_loss"] for e in events if e["event"] == "valid"]
    # the sequence is deterministic after one sentence: loss falls from ln(10) = 2.3 towards 0
    assert valid[-1] < 0.05 and valid[0] > valid[-1]
    assert (tmp_path / "best.rnn").exists() and (tmp_path / "ckpt" / "last.safetensors").exists()


def test_same_seed_same_weights_other_seed_other_weights(tmp_path):
    options = dict(bptt=5, batch_size=2, optimizer="adamw", max_steps=15, weight_decay=0.01)
    changes = dict(dropout_input=0.3, dropout_output=0.3)  # dropout draws from the seeded RNG
    a = weights(train(tmp_path / "a", TrainOptions(seed=1, **options), **changes))
    b = weights(train(tmp_path / "b", TrainOptions(seed=1, **options), **changes))
    c = weights(train(tmp_path / "c", TrainOptions(seed=2, **options), **changes))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))


@pytest.mark.parametrize("random_windows", [False, True])
def test_resume_reaches_the_uninterrupted_weights_bit_for_bit(tmp_path, random_windows):
    common = dict(bptt=5, batch_size=2, optimizer="adam", valid_every=4, seed=3, random_windows=random_windows,
                  schedule="constant")
    changes = dict(dropout_input=0.2, dropout_between=0.2, cell="lstm")
    whole = train(tmp_path / "whole", TrainOptions(max_steps=22, **common), **changes)
    train(tmp_path / "cut", TrainOptions(max_steps=9, **common), **changes)  # "killed" after 9 steps
    resumed = train(tmp_path / "cut", TrainOptions(max_steps=22, **common), resume=True, **changes)
    assert resumed.step == whole.step == 22
    assert all(torch.equal(x, y) for x, y in zip(weights(whole), weights(resumed)))


def test_plateau_schedule_divides_the_learning_rate_by_four(tmp_path):
    events = []
    # lr so small that nothing improves: every validation is a plateau
    train(tmp_path, TrainOptions(bptt=7, batch_size=2, optimizer="sgd", lr=1e-9, valid_every=3, max_steps=9,
                                 patience=0), events=events)
    steps = {e["step"]: e["lr"] for e in events if e["event"] == "step"}
    assert steps[4] == steps[3]  # validation after step 3 is the first: it sets the best
    assert steps[7] == pytest.approx(steps[6] / 4)  # validation after step 6 fails to improve -> lr / 4


def test_early_stopping_after_patience(tmp_path):
    events = []
    trainer = train(tmp_path, TrainOptions(bptt=7, batch_size=2, optimizer="sgd", lr=1e-9, valid_every=2,
                                           patience=2, max_steps=100), events=events)
    # validation 1 sets the best, validations 2 and 3 fail -> stop at step 6
    assert trainer.step == 6 and events[-1]["stopped"] == "early-stopping"


def test_nan_loss_rolls_back_then_stops_with_a_clear_message(tmp_path):
    events = []
    with pytest.raises(LmtoolError, match="training diverged: non-finite loss .* after 3 rollbacks"):
        train(tmp_path, TrainOptions(bptt=7, batch_size=2, optimizer="sgd", lr=1e30, clip=0, max_steps=50),
              events=events, cell="rnn-relu")
    assert [e["event"] for e in events].count("rollback") == 3
    lrs = [e["lr"] for e in events if e["event"] == "rollback"]
    assert lrs[1] == pytest.approx(lrs[0] / 4)


def test_weight_decay_shrinks_matrices_only():
    # SGD with decay wd and a zero gradient: p <- p - lr * wd * p = 0.9 p for lr 1, wd 0.1
    model = RnnNetwork(tiny_config(layers=1))
    optimizer = make_optimizer(model, TrainOptions(optimizer="sgd", lr=1.0, weight_decay=0.1))
    decayed = {id(p) for group in optimizer.param_groups if group["weight_decay"] > 0 for p in group["params"]}
    assert decayed == {id(p) for p in model.parameters() if p.dim() >= 2}  # embedding, rnn and output matrices
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    for name, p in model.named_parameters():
        expected = 0.9 * before[name] if p.dim() >= 2 else before[name]
        assert torch.allclose(p, expected), name
    assert {"encoder.weight", "rnn.weight_hh_l0", "decoder.weight"} <= {n for n, p in model.named_parameters()
                                                                         if p.dim() >= 2}
    assert all(n.endswith(("bias", "bias_ih_l0", "bias_hh_l0")) for n, p in model.named_parameters() if p.dim() < 2)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_without_weight_decay_steps_equal_a_single_group_optimizer(name):
    torch.manual_seed(0)
    grouped, single = RnnNetwork(tiny_config(layers=1)), RnnNetwork(tiny_config(layers=1))
    single.load_state_dict(grouped.state_dict())
    options = TrainOptions(optimizer=name, lr=0.01)
    optimizers = [make_optimizer(grouped, options), OPTIMIZER_CLASSES[name](single.parameters(), lr=0.01,
                                                                            weight_decay=0.0)]
    ids = torch.from_numpy(repeated_ids(3)).long()[None, :]  # (1, 21)
    for _ in range(3):
        for model, optimizer in zip((grouped, single), optimizers):
            _, loss, _ = model(ids[:, :-1], None, ids[:, 1:])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(grouped.parameters(), single.parameters()))
    assert set(OPTIMIZER_CLASSES) == set(OPTIMIZERS)
