"""The optimiser of a training run and its learning rate at each step: what ``--optimizer``,
``--weight-decay``, ``--schedule`` and ``--warmup`` mean, apart from the training loop that uses them."""

from __future__ import annotations

import math

import torch

from lmtool.neural.config import TrainOptions

#: each of :data:`lmtool.neural.config.OPTIMIZERS` by its torch class
OPTIMIZER_CLASSES = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def make_optimizer(model: torch.nn.Module, options: TrainOptions) -> torch.optim.Optimizer:
    """SGD, Adam or AdamW over ``model``, with weight decay on matrices only, as nanoGPT does.

    Parameters of two or more dimensions (embeddings, input, recurrent and output matrices)
    decay; biases and other vectors do not, since shrinking an offset towards zero is no
    regularisation. With ``weight_decay`` 0 every step equals a single-group optimiser's.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": options.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    groups = [group for group in groups if group["params"]]
    return OPTIMIZER_CLASSES[options.optimizer](groups, lr=options.base_lr)


def schedule_kind(options: TrainOptions, horizon: int | None) -> str:
    """The schedule a run follows: the one asked for, or for ``auto`` a cosine decay when the
    optimiser is adaptive and the run's length (``horizon`` steps) is known, else plateau halving."""
    if options.schedule != "auto":
        return options.schedule
    return "cosine" if options.optimizer != "sgd" and horizon else "plateau"


def learning_rate(options: TrainOptions, step: int, scale: float, schedule: str, horizon: int | None) -> float:
    """The learning rate of optimiser step ``step`` (0-based): the base rate times ``scale`` (what
    plateau halvings and roll-backs left), ramped linearly over the warm-up steps, then for the
    cosine schedule decayed to a tenth of it at step ``horizon``."""
    lr = options.base_lr * scale
    if options.warmup and step < options.warmup:
        return lr * (step + 1) / options.warmup
    if schedule == "cosine":
        progress = min(1.0, (step - options.warmup) / max(1, horizon - options.warmup))
        lr *= 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))
    return lr
