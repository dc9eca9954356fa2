"""Where a run executes: CPU, one GPU, or one process per GPU under ``torchrun`` (DDP).

On CUDA the trainer uses bf16 autocast and channels_last tensors; on CPU it stays in float32
(channels_last is kept: it is faster on this machine's oneDNN convolutions too).
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterator

import torch
import torch.distributed as dist

from cartoonset.common.errors import ToolkitError

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Placement:
    device: torch.device
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def amp(self) -> bool:
        return self.device.type == "cuda"


class DeviceError(ToolkitError, RuntimeError):
    """The asked-for device does not exist here (one line: what was found, what to use)."""


def check_compile(device: torch.device) -> None:
    """``torch.compile`` is offered on CUDA only: on CPU, torch 2.14's inductor failed in this trainer's
    backward pass (``TypeError: expected Tensor()`` in ``assert_size_stride_grouped``) or compiled
    for over 15 minutes without taking a step, so a CPU run would hang or die instead of training."""
    if device.type != "cuda":
        raise DeviceError(f"--compile needs a CUDA device (this run is on {device.type}): on CPU, torch's "
                          "inductor fails or stalls on the training step; train without --compile")


def pick_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    if name not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}; got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        build = f"built for CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise DeviceError(f"no CUDA device: torch {torch.__version__} ({build}) sees 0 GPUs; use --device cpu")
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def place(name: str = "auto") -> Placement:
    """The device of this process; joins the process group when started by ``torchrun``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Placement(pick_device(name))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(name, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Placement(device, dist.get_rank(), dist.get_world_size(), local_rank)


def autocast(placement: Placement):
    """bf16 autocast on CUDA; a no-op context on CPU."""
    if placement.amp:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def barrier(placement: Placement) -> None:
    if placement.distributed:
        dist.barrier()


@contextlib.contextmanager
def main_alone(placement: Placement, timeout: timedelta = timedelta(days=7)) -> Iterator[None]:
    """A block that rank 0 may spend long on alone (the ruler's training) while the other ranks wait
    at its end: on a gloo group of its own with a ``timeout`` of days, not the process group's
    minutes (``torchrun`` stops every rank when one fails, so none waits that long for a dead one)."""
    group = dist.new_group(backend="gloo", timeout=timeout) if placement.distributed else None  # all ranks, at once
    yield
    if group is not None:
        dist.barrier(group=group)
        dist.destroy_process_group(group)


def from_main(placement: Placement, value: int) -> int:
    """Rank 0's ``value`` on every rank (a setting only rank 0 can know, e.g. whether it scores)."""
    if not placement.distributed:
        return value
    t = torch.tensor([value], dtype=torch.int64, device=placement.device)
    dist.broadcast(t, 0)
    return int(t.item())


def mean_over_ranks(placement: Placement, total: torch.Tensor, count: int) -> torch.Tensor:
    """The mean over every rank of ``total / count`` (sums over the same ``count`` steps on each rank):
    under DDP, the means over the global batch, not over this rank's slice."""
    if not placement.distributed:
        return total / count
    total = total.clone()
    dist.all_reduce(total)
    return total / (count * placement.world)
