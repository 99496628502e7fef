"""One process or many: the same code under torchrun (NCCL on GPUs, gloo on CPU)."""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def init() -> None:
    """Join the process group when launched by torchrun; a no-op in a plain process."""
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def all_gather_cat(x: torch.Tensor) -> torch.Tensor:
    """Concatenate x over ranks along dim 0 (no gradient; every rank gets the same result, rank order)."""
    if not dist.is_initialized():
        return x
    out = [torch.empty_like(x) for _ in range(world())]
    dist.all_gather(out, x.contiguous())
    return torch.cat(out)


def local_slice(n_global: int) -> slice:
    """This rank's contiguous share of a global batch (equal shares; n_global must divide)."""
    w = world()
    if n_global % w:
        raise ValueError(f"global batch {n_global} is not divisible by {w} processes")
    per = n_global // w
    return slice(rank() * per, (rank() + 1) * per)


def device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")
