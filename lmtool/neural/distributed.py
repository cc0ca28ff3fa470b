"""Running one training loop in one process or under ``torchrun`` (DistributedDataParallel).

``torchrun`` sets ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``;
when ``WORLD_SIZE`` is above 1, :func:`setup` joins the process group (gloo on CPU, nccl on
CUDA) and every rank trains its own block of the global batch rows. DDP averages gradients, so
with equal tokens per rank a step equals the single-process step over the whole batch. The
training loop asks this object for the few collective decisions it needs (the mean loss, "stop
now", the validation result from rank 0) and so reads the same in both modes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from lmtool.errors import UsageError


@dataclass
class Distributed:
    """This process's place in the job: ``world == 1`` means no process group and every method is local."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")  # where collectives run: nccl takes CUDA tensors only

    @property
    def is_main(self) -> bool:
        """Rank 0 logs, validates and writes files."""
        return self.rank == 0

    def mean(self, values: list[float]) -> list[float]:
        """Element-wise mean of ``values`` over all ranks (the logged loss is the global batch's)."""
        if self.world == 1:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return (tensor / self.world).tolist()

    def broadcast(self, values: list[float]) -> list[float]:
        """Rank 0's ``values`` on every rank (validation results, the stop decision)."""
        if self.world == 1:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.broadcast(tensor, src=0)
        return tensor.tolist()

    def gather(self, tensor: torch.Tensor, dim: int) -> torch.Tensor:
        """Every rank's ``tensor`` concatenated along ``dim`` in rank order (hidden rows, RNG states), on the CPU."""
        if self.world == 1:
            return tensor.cpu()
        tensor = tensor.to(self.device).contiguous()
        parts = [torch.empty_like(tensor) for _ in range(self.world)]
        dist.all_gather(parts, tensor)
        return torch.cat(parts, dim=dim).cpu()

    def close(self, wait: bool = True) -> None:
        """Leave the job; ``wait``: together (a rank tearing gloo down while another still writes
        files aborts), not after an error, which other ranks may never reach."""
        if self.world > 1 and dist.is_initialized():
            if wait:
                dist.barrier()
            dist.destroy_process_group()


def setup(device: torch.device) -> Distributed:
    """Join the ``torchrun`` job described by the environment, or return the single-process context."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
        backend = "nccl"
    elif device.type == "cpu":
        backend = "gloo"
    else:
        raise UsageError(f"distributed training runs on cpu (gloo) or cuda (nccl), not {device.type}: pass --device cpu or cuda")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    device = torch.device("cuda", local_rank) if backend == "nccl" else torch.device("cpu")
    return Distributed(rank=rank, world=world, local_rank=local_rank, device=device)
