"""The torch-free config module: network and training options reject nonsense, durations parse."""

from __future__ import annotations

import pytest

from lmtool.errors import UsageError
from lmtool.neural.config import RnnConfig, TrainOptions, check_placement, default_cutoffs, parse_duration

from .conftest import tiny_config


def escaped(message: str) -> str:
    return message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize("changes, message", [
    ({"hidden_size": 0}, "--hidden must be at least 1"),
    ({"dropout_output": 1.5}, "dropout output must be in [0, 1)"),
    ({"tied": True}, "tied weights need equal embedding and hidden sizes"),
    ({"cell": "transformer"}, "unknown cell"),
    ({"adaptive_cutoffs": [8, 4]}, "must increase strictly"),
    ({"adaptive_cutoffs": [4], "emb_size": 16, "tied": True}, "cannot be combined"),
])
def test_bad_configuration_is_a_usage_error(changes, message):
    with pytest.raises(UsageError, match=escaped(message)):
        tiny_config(**changes).validate()


def test_config_round_trips_through_dict():
    config = tiny_config(cell="rnn-relu", adaptive_cutoffs=[4])
    assert RnnConfig.from_dict(config.to_dict()) == config


def test_default_cutoffs():
    assert default_cutoffs(50_000) == [2000, 10000]
    assert default_cutoffs(1000) == [200, 500]  # a fifth and a half of V
    assert default_cutoffs(10) == [2, 5]


@pytest.mark.parametrize("changes, message", [
    ({"bptt": 0}, "--bptt must be at least 1"),
    ({"optimizer": "lion"}, "unknown optimizer 'lion'"),
    ({"schedule": "step"}, "unknown schedule 'step'"),
    ({"lr": 0.0}, "--lr must be positive"),
    ({"weight_decay": -1.0}, "cannot be negative"),
    ({"lr_decay": 1.0}, "--lr-decay must be above 1"),
    ({"max_time": 0.0}, "--max-time must be positive"),
    ({"schedule": "cosine"}, "needs --epochs or --max-steps"),
])
def test_bad_training_options_are_usage_errors(changes, message):
    TrainOptions().validate()
    with pytest.raises(UsageError, match=escaped(message)):
        TrainOptions(**changes).validate()


def test_base_lr_defaults_by_optimizer():
    assert TrainOptions(optimizer="sgd").base_lr == 20.0
    assert TrainOptions(optimizer="adam").base_lr == 1e-3
    assert TrainOptions(optimizer="adam", lr=0.5).base_lr == 0.5


def test_placement():
    check_placement("cpu", 1)
    check_placement("auto", None)
    with pytest.raises(UsageError, match="--threads must be at least 1"):
        check_placement("cpu", 0)
    with pytest.raises(UsageError, match="unknown device 'tpu'"):
        check_placement("tpu", None)


def test_durations():
    assert parse_duration(None) is None
    assert [parse_duration(t) for t in ("90", "90s", "1.5m", "2h")] == [90.0, 90.0, 90.0, 7200.0]
    with pytest.raises(UsageError, match="--rnn-time 'soon' is not a duration"):
        parse_duration("soon", "--rnn-time")
