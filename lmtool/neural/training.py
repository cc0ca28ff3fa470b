"""The training loop: truncated BPTT, optimisers and schedules, budgets, validation, checkpoints.

One loop trains every network kind: a recurrent network reads contiguous rows (truncated BPTT)
or random windows; a feed-forward network (one whose ``context_size`` is a number, the neural
n-gram) reads random n-gram windows, every position of a batch in parallel, and is validated on
its exact per-position scores (:mod:`lmtool.neural.batching` has the layouts).

Schedules (``TrainOptions.schedule``; ``auto`` picks ``plateau`` for SGD and ``cosine`` for
Adam/AdamW when the number of steps is known, else ``plateau``):

- ``plateau``: the classic recipe of PyTorch's word-language-model example: whenever a scheduled
  validation fails to improve on the best validation loss, the learning rate is divided by
  ``lr_decay`` (4);
- ``cosine``: linear warm-up over ``warmup`` steps, then a cosine from the peak to a tenth of it
  at the last step;
- ``constant``: the learning rate stays put (after warm-up).

Early stopping: after ``patience`` scheduled validations in a row without improvement the run
ends (0 = never). Validation happens every ``valid_every`` steps, or at the end of each epoch.

Numerical safety (documented in the README): when the loss or the gradient norm is NaN or
infinite, the step is not applied; the model and optimiser roll back to the last validated
state (the start of training before the first validation), the learning rate is divided by
``lr_decay`` and the run goes on with a fresh hidden state. A validation loss that is not
finite, or so large that its perplexity overflows a float (above ~700 nats a token: the
weights have blown up), rolls back the same way. After ``max_rollbacks`` such rollbacks
without a finite validation in between, training stops with an :class:`LmtoolError` naming
the step and the learning rate; the best model already written stays on disk.

Resume: the checkpoint holds the weights, the optimiser and schedule state, the torch, numpy
and Python RNG states (per rank), the data position and the carried hidden state of every batch
row, so that a resumed run reaches bit-for-bit the weights of an uninterrupted one on CPU, and
the run's identity (:func:`~lmtool.neural.checkpoint.run_identity`): what may never change,
what may change when the caller allows it, and the budgets, which may always grow. A resumed
run whose budget is spent, and that had ended, does nothing.
"""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from lmtool.errors import LmtoolError, ModelFileError, UsageError
from lmtool.lm import nats_to_perplexity
from lmtool.neural.batching import NgramWindows, RandomWindows, StreamBatches, ids_and_starts, rank_rows
from lmtool.neural.checkpoint import (DATA_OPTIONS, data_digest, identity_changes, load_resume, numpy_rng_state,
                                      read_model_file, run_identity, save_model_file, save_resume, seed_everything,
                                      set_numpy_rng_state)
from lmtool.neural.config import LAST_MODEL, RESUME_STATE, TrainOptions
from lmtool.neural.distributed import Distributed
from lmtool.neural.feedforward import NnlmNetwork, score_windows
from lmtool.neural.network import RnnNetwork, detach_hidden
from lmtool.neural.optimisation import learning_rate, make_optimizer, schedule_kind


def evaluate_stream(model: RnnNetwork, ids: np.ndarray, batch_size: int, bptt: int) -> float:
    """Mean NLL (nats/token) of ``ids`` read as ``batch_size`` contiguous rows with carried state.

    The streamed estimate used for validation during training, as in PyTorch's example (each
    row after the first starts from a zero state); :meth:`RnnModel.score` gives exact figures.
    """
    batches = StreamBatches(ids, min(batch_size, max(1, len(ids))), bptt)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    hidden = model.init_hidden(batches.inputs.size(0))
    with torch.no_grad():
        for k in range(len(batches)):
            x, y = (t.to(device) for t in batches.window(k))
            _, loss, hidden = model(x, hidden, y)
            total += loss.item() * y.numel()
            count += y.numel()
    model.train(was_training)
    return total / count


class Trainer:
    """One training run of ``model`` on ``train_ids``, validated on ``valid_ids`` (may be None).

    Both are :class:`lmtool.text.EncodedSplit` objects or bare id arrays (one segment each); the
    segment starts matter to a feed-forward network only, whose windows stop at them.

    ``meta`` is the model-file metadata besides weights (tokenizer, vocabulary, fingerprint...);
    the best model goes to ``out_path``, the last model and the resume checkpoint to
    ``checkpoint_dir``. ``on_event(dict)`` receives ``step``, ``valid``, ``rollback`` and
    ``end`` events (rank 0 only) for progress bars and logs.
    """

    def __init__(self, model: RnnNetwork | NnlmNetwork, train_ids, valid_ids,
                 options: TrainOptions, *, out_path: str | Path, checkpoint_dir: str | Path,
                 meta: dict, device: torch.device, dist: Distributed | None = None,
                 on_event: Callable[[dict], None] | None = None) -> None:
        options.validate()
        self.options, self.meta, self.device = options, meta, device
        self.dist = dist or Distributed()
        self.out_path, self.checkpoint_dir = Path(out_path), Path(checkpoint_dir)
        self.on_event = on_event if self.dist.is_main and on_event else (lambda event: None)
        train_ids, train_starts = ids_and_starts(train_ids)
        self.valid_ids, self.valid_starts = ids_and_starts(valid_ids) if valid_ids is not None else (None, None)
        if self.valid_ids is not None and not len(self.valid_ids):
            self.valid_ids = None
        self.corpus_digest = data_digest(train_ids, self.valid_ids)
        seed_everything(options.seed + self.dist.rank)  # per-rank dropout masks
        self.model = model.to(device)
        self.rows = rank_rows(options.batch_size, self.dist.rank, self.dist.world)
        if model.context_size:
            self.batches = NgramWindows(train_ids, train_starts, model.context_size, options.batch_size,
                                        options.seed, self.rows)
        elif options.random_windows:
            self.batches = RandomWindows(train_ids, options.batch_size, options.bptt, options.seed, self.rows)
        else:
            self.batches = StreamBatches(train_ids, options.batch_size, options.bptt, self.rows)
        self.net = model
        if self.dist.world > 1:
            ids = [device.index] if device.type == "cuda" else None
            # adaptive-softmax clusters without a target in a batch get no gradient
            self.net = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=ids, find_unused_parameters=bool(model.config.adaptive_cutoffs))
        self.optimizer = make_optimizer(model, options)
        self.max_epochs = options.epochs or (None if (options.max_steps or options.max_time) else 10)
        self.horizon = self._horizon()
        self.schedule = self._schedule_kind()
        # state saved in the resume checkpoint
        self.step = self.epoch = self.window = 0
        self.hidden = self._fresh_hidden()
        self.lr_scale, self.plateau_best, self.bad_validations = 1.0, math.inf, 0
        self.best_valid, self.best_step, self.history, self.elapsed_before = math.inf, None, [], 0.0
        self.stopped = None  # why the run ended, once it has
        self.rollbacks = 0
        self._good = self._snapshot()
        self._loss_sum, self._loss_count = 0.0, 0

    # ----- schedule -------------------------------------------------------------------------
    def _horizon(self) -> int | None:
        """Total optimiser steps when known (for the cosine and the ETA)."""
        o = self.options
        bounds = [o.max_steps] if o.max_steps else []
        if self.max_epochs:
            bounds.append(self.max_epochs * len(self.batches))
        return min(bounds) if bounds else None

    def _schedule_kind(self) -> str:
        return schedule_kind(self.options, self.horizon)

    def lr_at(self, step: int) -> float:
        """The learning rate of optimiser step ``step`` (0-based)."""
        return learning_rate(self.options, step, self.lr_scale, self.schedule, self.horizon)

    # ----- the loop -------------------------------------------------------------------------
    def run(self) -> dict:
        """Train until a budget or early stopping ends the run; return the training summary."""
        o = self.options
        self.net.train()
        self._started = time.monotonic()
        reason = self._spent_budget()  # a resumed run may have nothing left to do
        if reason is not None and self.stopped is not None:  # ... and had ended: leave every file as it is
            summary = {**self.summary(), "already_finished": True}
            self.on_event({"event": "end", **summary})
            return summary
        self.stopped = None
        while reason is None:
            if self.window >= len(self.batches):
                self.epoch, self.window = self.epoch + 1, 0
                self.hidden = self._fresh_hidden()
            if self.max_epochs and self.epoch >= self.max_epochs:
                reason = "epochs"
                break
            if not self._train_step():
                continue
            scheduled = (self.step % o.valid_every == 0) if o.valid_every else self.window >= len(self.batches)
            if scheduled:
                reason = self._validate(scheduled=True)
            if reason is None and o.max_steps and self.step >= o.max_steps:
                reason = "max-steps"
            if reason is None and o.max_time and self._time_is_up():
                reason = "max-time"
        if not (self.history and self.history[-1]["step"] == self.step):
            self._validate(scheduled=False)
        self.stopped = reason
        self._write_checkpoints()
        if self.dist.is_main and self.out_path.exists():  # the best model's file gets the whole run's story
            best_model, _ = read_model_file(self.out_path)
            save_model_file(self.out_path, best_model, self._file_meta())
        summary = self.summary()
        self.on_event({"event": "end", **summary})
        return summary

    def _spent_budget(self) -> str | None:
        """Why the run must stop before another step (None: it goes on); only a resumed run can
        start with its budget spent."""
        o = self.options
        if o.max_steps and self.step >= o.max_steps:
            return "max-steps"
        if self.max_epochs and self.epoch + (self.window >= len(self.batches)) >= self.max_epochs:
            return "epochs"
        if o.max_time and self.elapsed_before >= o.max_time:
            return "max-time"
        if o.patience and self.valid_ids is not None and self.bad_validations >= o.patience:
            return "early-stopping"
        return None

    def _fresh_hidden(self):
        return self.model.init_hidden(self.rows.stop - self.rows.start)

    def _train_step(self) -> bool:
        """One optimiser step on the next window; False when it was rolled back instead."""
        o = self.options
        x, y = (t.to(self.device, non_blocking=True) for t in self.batches.window(self._batch_index()))
        hidden = None if o.random_windows else detach_hidden(self.hidden)
        lr = self.lr_at(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        _, loss, hidden = self.net(x, hidden, y)  # loss: mean NLL of this rank's (B/world, T) tokens
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), o.clip if o.clip > 0 else math.inf)
        loss_value, norm_value = self.dist.mean([loss.item(), norm.item()])
        self.window += 1
        if not (math.isfinite(loss_value) and math.isfinite(norm_value)):
            self._roll_back(loss_value, "non-finite loss")
            return False
        self.optimizer.step()
        self.hidden = hidden
        self.step += 1
        self._loss_sum += loss_value
        self._loss_count += 1
        tokens = y.numel() * self.dist.world
        self.on_event({"event": "step", "step": self.step, "epoch": self.epoch, "loss": loss_value,
                       "ppl": math.exp(min(loss_value, 50)), "lr": lr, "grad_norm": norm_value,
                       "tokens": tokens, "elapsed": self.elapsed, "total_steps": self.horizon,
                       "max_time": o.max_time})
        return True

    def _batch_index(self) -> int:
        """Which batch comes next: random windows go by optimiser step, n-gram windows by (epoch, window), rows by window."""
        if self.model.context_size:
            return self.epoch * len(self.batches) + self.window
        return self.step if self.options.random_windows else self.window

    def _time_is_up(self) -> bool:
        """Rank 0's clock decides, so every rank stops after the same step."""
        return bool(self.dist.broadcast([float(self.elapsed >= self.options.max_time)])[0])

    @property
    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self._started

    # ----- validation, numerical safety -----------------------------------------------------
    def _validate(self, scheduled: bool) -> str | None:
        """Validate on rank 0, share the result; update the schedule only when ``scheduled``."""
        o = self.options
        loss = math.nan
        if self.dist.is_main and self.valid_ids is not None:
            loss = self._valid_loss()
        loss = self.dist.broadcast([loss])[0]
        train_loss = self._loss_sum / self._loss_count if self._loss_count else math.nan
        self._loss_sum, self._loss_count = 0.0, 0
        record = {"step": self.step, "epoch": self.epoch, "elapsed": round(self.elapsed, 3),
                  "lr": self.lr_at(max(0, self.step - 1)), "train_loss": finite_or_none(train_loss),
                  "valid_loss": finite_or_none(loss),
                  "valid_ppl": nats_to_perplexity(loss) if math.isfinite(loss) else None}
        self.history.append(record)
        if self.valid_ids is not None and record["valid_ppl"] in (None, math.inf):  # the weights diverged
            self.on_event({"event": "valid", "improved": False, **record})
            self._roll_back(loss, "validation loss beyond any perplexity")
            return None
        improved = math.isfinite(loss) and loss < self.best_valid
        if improved or self.valid_ids is None:
            self.best_valid = min(self.best_valid, loss) if math.isfinite(loss) else self.best_valid
            self.best_step = self.step
            if self.dist.is_main:
                save_model_file(self.out_path, self.model, self._file_meta())
        reason = None
        if scheduled:
            self.rollbacks = 0
            if math.isfinite(loss) and loss < self.plateau_best - 1e-4:
                self.plateau_best, self.bad_validations = loss, 0
            elif self.valid_ids is not None:
                self.bad_validations += 1
                if self.schedule == "plateau":
                    self.lr_scale /= o.lr_decay
                if o.patience and self.bad_validations >= o.patience:
                    reason = "early-stopping"
            self._good = self._snapshot()
            self._write_checkpoints()
        self.on_event({"event": "valid", "improved": improved, **record})
        return reason

    def _valid_loss(self) -> float:
        """Mean validation NLL: exact per-position scores for a feed-forward network, the streamed estimate for an RNN."""
        if self.model.context_size:
            return -float(np.mean(score_windows(self.model, self.valid_ids, self.valid_starts)))
        return evaluate_stream(self.model, self.valid_ids, self.options.eval_batch_size, self.options.bptt)

    def _snapshot(self) -> dict:
        return {"model": copy.deepcopy(self.model.state_dict()),
                "optimizer": copy.deepcopy(self.optimizer.state_dict())}

    def _roll_back(self, loss_value: float, what: str) -> None:
        self.rollbacks += 1
        lr = self.lr_at(self.step)
        if self.rollbacks > self.options.max_rollbacks:
            kept = (f"the best model so far is in {self.out_path}" if self.best_step is not None
                    else "no model was written")
            raise LmtoolError(
                f"training diverged: {what} ({loss_value:.4g}) at step {self.step} after "
                f"{self.options.max_rollbacks} rollbacks (learning rate now {lr:.3g}); {kept}: "
                "retry with a lower --lr or a smaller --clip")
        self.model.load_state_dict(self._good["model"])
        self.optimizer.load_state_dict(self._good["optimizer"])
        self.lr_scale /= self.options.lr_decay
        self.hidden = self._fresh_hidden()
        self.on_event({"event": "rollback", "step": self.step, "loss": loss_value, "lr": self.lr_at(self.step)})

    # ----- files ----------------------------------------------------------------------------
    def summary(self) -> dict:
        best = self.best_valid if math.isfinite(self.best_valid) else None
        return {"steps": self.step, "epochs": self.epoch + self.window / len(self.batches),
                "stopped": self.stopped, "best_step": self.best_step, "elapsed_s": round(self.elapsed, 3), "world_size": self.dist.world,
                "best_valid_loss": best, "best_valid_ppl": nats_to_perplexity(best) if best is not None else None,
                "options": asdict(self.options)}

    def _file_meta(self) -> dict:
        keys = ("step", "epoch", "elapsed", "lr", "train_loss", "valid_loss")
        curves = {key: [r[key] for r in self.history] for key in keys}
        return {**self.meta, "training": self.summary(), "curves": curves}

    def _write_checkpoints(self) -> None:
        """Last model and resume checkpoint (rank 0 writes; every rank contributes its rows and RNG)."""
        hidden = self.hidden
        parts = list(hidden) if isinstance(hidden, tuple) else [hidden] if hidden is not None else []
        parts = [self.dist.gather(h.detach(), dim=1) for h in parts]
        torch_rng = self.dist.gather(torch.get_rng_state()[None], dim=0)
        if not self.dist.is_main:
            return
        save_model_file(self.checkpoint_dir / LAST_MODEL, self.model, self._file_meta())
        save_resume(self.checkpoint_dir / RESUME_STATE, {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "schedule": {"lr_scale": self.lr_scale, "plateau_best": self.plateau_best,
                         "bad_validations": self.bad_validations},
            "position": {"step": self.step, "epoch": self.epoch, "window": self.window},
            "hidden": parts, "torch_rng": torch_rng, "numpy_rng": numpy_rng_state(),
            "python_rng": random.getstate(), "best_valid": self.best_valid, "best_step": self.best_step,
            "history": self.history,
            "elapsed": self.elapsed, "network": self.model.file_format, "architecture": self.model.config.to_dict(),
            "fingerprint": self.meta.get("fingerprint"),
            "data": self._data_options(), "identity": self._identity(), "stopped": self.stopped})

    def _data_options(self) -> dict:
        """The options that fix what the data position in a checkpoint means."""
        return {k: getattr(self.options, k) for k in DATA_OPTIONS}

    def _identity(self) -> dict:
        return run_identity(self.options, self.horizon if self.schedule == "cosine" else None, self.corpus_digest)

    def resume(self, allow_option_changes: bool = False) -> None:
        """Continue from ``checkpoint_dir/resume.pt``: the same architecture, vocabulary and batching,
        and (unless ``allow_option_changes``) the same other options and corpus; see the module docstring."""
        path = self.checkpoint_dir / RESUME_STATE
        state = load_resume(path)
        network = state.get("network", "lmtool-rnn")  # checkpoints from before the neural n-gram are RNNs
        if network != self.model.file_format:
            raise ModelFileError(f"{path} holds a {network} run, not a {self.model.file_format} one: resume it with "
                                 "the command that started it, or give another --checkpoint-dir")
        expected = {"architecture": self.model.config.to_dict(), "fingerprint": self.meta.get("fingerprint"),
                    "data": self._data_options()}
        for key, now in expected.items():
            if state.get(key) != now:
                raise UsageError(f"{path} was written with a different {key} ({state.get(key)} vs {now}): "
                                 "resume with the original options or drop --resume")
        changes = identity_changes(state.get("identity"), self._identity())
        if changes and not allow_option_changes:
            raise UsageError(f"{path} belongs to a run with other settings ({'; '.join(changes)}): resume with the "
                             "original options, add --allow-option-changes to continue with the new ones, or drop "
                             "--resume to start afresh")
        try:
            self._restore(state)
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as error:
            raise ModelFileError(f"{path}: incomplete or damaged resume checkpoint ({type(error).__name__}: {error}): "
                                 "start again without --resume") from None

    def _restore(self, state: dict) -> None:
        """Take over the weights, optimiser, schedule, position, hidden state and RNGs of a resume ``state``."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        schedule = state["schedule"]
        self.lr_scale, self.plateau_best = schedule["lr_scale"], schedule["plateau_best"]
        self.bad_validations = schedule["bad_validations"]
        self.step, self.epoch, self.window = (state["position"][k] for k in ("step", "epoch", "window"))
        # this rank's rows, made contiguous: a strided initial state crashes the CPU LSTM kernel
        parts = [h[:, self.rows].contiguous().to(self.device) for h in state["hidden"]]
        if parts and not self.options.random_windows:
            self.hidden = tuple(parts) if self.model.config.cell == "lstm" else parts[0]
        rng = state["torch_rng"]
        if rng.size(0) == self.dist.world:
            torch.set_rng_state(rng[self.dist.rank].clone())  # a view into the stacked states crashes torch
        set_numpy_rng_state(state["numpy_rng"])
        random.setstate(state["python_rng"])
        self.best_valid, self.best_step = state["best_valid"], state["best_step"]
        self.history, self.elapsed_before = state["history"], state["elapsed"]
        self.stopped = state.get("stopped")
        self._good = self._snapshot()


def finite_or_none(value: float) -> float | None:
    """JSON has no NaN: a missing figure (no validation split, no step yet) is null."""
    return value if math.isfinite(value) else None
