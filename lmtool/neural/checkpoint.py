"""Files a training run writes: the model file (safetensors + JSON) and the resume checkpoint.

Loading never executes code. The model file is safetensors (raw tensors plus a string header)
with all metadata as one JSON document; the resume checkpoint is a plain dictionary of tensors,
numbers and strings read with ``torch.load(weights_only=True)``, which refuses any pickled
object that is not one of those. Every write goes to a temporary file in the target directory,
is fsynced, then renamed over the target, so a killed run leaves the previous file intact.

Model file metadata (the ``"lmtool"`` entry of the safetensors header)::

    format "lmtool-rnn" (a recurrent network) or "lmtool-nnlm" (the feed-forward neural n-gram),
    format_version 1, architecture (RnnConfig or NnlmConfig as a dict), unit,
    tokenizer (its to_json()), vocabulary {tokens, counts}, fingerprint,
    training (summary: steps, epochs, best valid ppl, options...), curves (lists for plotting),
    tensors_sha256 (SHA-256 of the stored tensors, verified on load; optional, for older files)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from lmtool.errors import ModelFileError
from lmtool.files import atomic_write
from lmtool.neural.feedforward import NnlmNetwork
from lmtool.neural.network import RnnNetwork

#: model-file format -> the network class it stores (its ``config_class`` reads the architecture)
FORMATS = {network.file_format: network for network in (RnnNetwork, NnlmNetwork)}
FORMAT_VERSION = 1
RESUME_FORMAT = "lmtool-rnn-resume"
#: the metadata entry holding :func:`tensors_digest` (absent from files written before it existed)
CHECKSUM = "tensors_sha256"


def model_tensors(model: RnnNetwork | NnlmNetwork) -> dict[str, torch.Tensor]:
    """The weights to store: contiguous CPU copies, the tied output matrix stored once (as the embedding)."""
    state = model.state_dict()
    if model.config.tied:
        state.pop("decoder.weight")
    return {name: t.detach().to("cpu").contiguous().clone() for name, t in state.items()}


def save_model_file(path: str | Path, model: RnnNetwork | NnlmNetwork, meta: dict) -> None:
    """Write ``model`` and its metadata (see module docstring) to ``path`` atomically."""
    tensors = model_tensors(model)
    header = {"format": model.file_format, "format_version": FORMAT_VERSION, "architecture": model.config.to_dict(),
              **meta, CHECKSUM: tensors_digest(tensors)}
    data = safetensors_bytes(tensors, metadata={"lmtool": json.dumps(header)})
    atomic_write(path, lambda f: f.write(data))


def read_model_file(path: str | Path) -> tuple[RnnNetwork | NnlmNetwork, dict]:
    """Load a model file written by :func:`save_model_file`; any damage raises :class:`ModelFileError`."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            header = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ModelFileError(f"{path}: not a readable lmtool neural model file ({error}); "
                             "it is corrupt, truncated or another format: retrain or re-copy it") from None
    try:
        meta = json.loads(header["lmtool"])
    except (KeyError, ValueError):
        raise ModelFileError(f"{path}: safetensors file without lmtool metadata: not an lmtool neural model") from None
    network = FORMATS.get(meta.get("format"))
    if network is None:
        raise ModelFileError(f"{path}: format {meta.get('format')!r} is not one of {', '.join(map(repr, FORMATS))}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path}: format version {meta.get('format_version')} is not supported "
                             f"(this lmtool reads {FORMAT_VERSION}): upgrade lmtool")
    check_tensors(path, tensors, meta.get(CHECKSUM))
    try:
        model = network(network.config_class.from_dict(meta["architecture"]))
        if model.config.tied:
            tensors["decoder.weight"] = tensors["encoder.weight"]
        model.load_state_dict(tensors, strict=True)
    except (KeyError, TypeError, RuntimeError) as error:
        raise ModelFileError(f"{path}: weights do not match the stored architecture ({error})") from None
    model.eval()
    return model, meta


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order (the :data:`CHECKSUM`)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}\n".encode("utf-8"))
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def check_tensors(path: Path, tensors: dict[str, torch.Tensor], checksum: str | None) -> None:
    """Refuse weights that are not what was written: a checksum that does not match (a flipped bit
    scores differently yet loads), another dtype than float32, or non-finite values. Files
    written before the checksum existed carry none and are checked for the rest."""
    if checksum is not None and tensors_digest(tensors) != checksum:
        raise ModelFileError(f"{path}: the weights do not match the checksum stored with them: the file was damaged "
                             "after it was written; copy it again or retrain")
    for name, tensor in tensors.items():
        if tensor.dtype != torch.float32:
            raise ModelFileError(f"{path}: tensor {name} holds {tensor.dtype}, not float32: not a model lmtool wrote")
        if not bool(torch.isfinite(tensor).all()):
            raise ModelFileError(f"{path}: tensor {name} holds NaN or infinite weights: the file is damaged")


def data_digest(*arrays: np.ndarray | None) -> str:
    """SHA-256 of id arrays (None skipped, each prefixed by its length): the corpus a run trained on."""
    digest = hashlib.sha256()
    for array in arrays:
        if array is not None:
            array = np.ascontiguousarray(array, dtype=np.int32)
            digest.update(f"{len(array)}\n".encode("ascii"))
            digest.update(array)
    return digest.hexdigest()


def save_resume(path: str | Path, state: dict) -> None:
    """Write the resume checkpoint ``state`` (tensors, numbers, strings, lists, dicts) atomically."""
    atomic_write(path, lambda f: torch.save({"format": RESUME_FORMAT, **state}, f))


def load_resume(path: str | Path) -> dict:
    """Read a resume checkpoint; refuses pickled code and damaged files with :class:`ModelFileError`."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no resume checkpoint there: check --checkpoint-dir or drop --resume")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError... for bad files
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelFileError(f"{path}: unreadable resume checkpoint ({message}): "
                             "it is corrupt, truncated or unsafe; start again without --resume") from None
    if not isinstance(state, dict) or state.get("format") != RESUME_FORMAT:
        raise ModelFileError(f"{path}: not an lmtool resume checkpoint")
    return state


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and Python's RNGs (CPU runs are then deterministic)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def numpy_rng_state() -> list:
    """numpy's global RNG state with its key as a tensor (``torch.load(weights_only=True)`` reads no numpy arrays)."""
    name, key, pos, has_gauss, gauss = np.random.get_state()
    return [name, torch.from_numpy(key.astype(np.int64)), pos, has_gauss, gauss]


def set_numpy_rng_state(state: list) -> None:
    name, key, pos, has_gauss, gauss = state
    np.random.set_state((name, key.numpy().astype(np.uint32), pos, has_gauss, gauss))


#: the options whose change would make a checkpoint's data position meaningless
DATA_OPTIONS = ("bptt", "batch_size", "random_windows", "seed")
#: the options a resume may always change: a run can be given more time
BUDGETS = ("epochs", "max_steps", "max_time")


def run_identity(options, cosine_steps: int | None, corpus_digest: str) -> dict:
    """What a resume checks besides architecture, vocabulary and batching: every other training
    option but the budgets (the learning rate as used, the cosine's length when the schedule is
    one) and the corpus (:func:`data_digest` of its ids)."""
    kept = {k: v for k, v in dataclasses.asdict(options).items() if k not in BUDGETS + DATA_OPTIONS}
    kept["lr"] = options.base_lr
    if cosine_steps is not None:
        kept["cosine_steps"] = cosine_steps
    return {"options": kept, "corpus": corpus_digest}


def identity_changes(recorded: dict | None, now: dict) -> list[str]:
    """``"NAME A -> B"`` for each entry of a run's identity (:func:`run_identity`) that differs; a
    checkpoint written before identities were recorded has nothing to compare."""
    if recorded is None:
        return []
    changes = [f"{key} {value!r} -> {now['options'].get(key)!r}" for key, value in recorded["options"].items()
               if now["options"].get(key) != value]
    changes += [f"{key} (new) {value!r}" for key, value in now["options"].items() if key not in recorded["options"]]
    if recorded.get("corpus") != now["corpus"]:
        changes.append("the corpus ids differ (another text, split or vocabulary)")
    return changes
