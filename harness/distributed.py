"""One process or many: the same code under torchrun (NCCL on GPUs, gloo on CPU)."""

from __future__ import annotations

import os
import re

import torch
import torch.distributed as dist

from harness.errors import HarnessError


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


# ---------------------------------------------------------------- device and precision
# The one place that decides where networks run and in which precision; `harness train|sample|eval`
# set both from --device / --precision (None: automatic), everything else asks device() / precision().
_DEVICE: str | None = None
_PRECISION: str | None = None
PRECISIONS = ("fp32", "bf16")
_DEVICE_RE = re.compile(r"cpu|cuda(:\d+)?")


def configure(device_spec: str | None = None, precision_spec: str | None = None) -> None:
    """Check and set --device / --precision for this process; None restores the automatic choice."""
    global _DEVICE, _PRECISION
    if device_spec is not None:
        spec = device_spec.strip().lower()
        if not _DEVICE_RE.fullmatch(spec):
            raise HarnessError(f"--device {device_spec!r} is not a device; choose cpu, cuda or cuda:N")
        if spec.startswith("cuda"):
            n = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if n == 0:
                raise HarnessError(f"--device {spec}: torch sees no CUDA GPU here; use --device cpu")
            if ":" in spec and int(spec.split(":")[1]) >= n:
                raise HarnessError(f"--device {spec}: only {n} CUDA device(s) (cuda:0..cuda:{n - 1})")
        device_spec = spec
    if precision_spec is not None and precision_spec not in PRECISIONS:
        raise HarnessError(f"--precision {precision_spec!r}: choose {' or '.join(PRECISIONS)}")
    _DEVICE, _PRECISION = device_spec, precision_spec
    if precision_spec == "bf16" and device().type == "cuda" and not torch.cuda.is_bf16_supported():
        raise HarnessError(
            f"--precision bf16: {torch.cuda.get_device_name(device())} has no bf16; use --precision fp32"
        )


def device() -> torch.device:
    """--device, else this rank's GPU (torchrun sets it in init()) when CUDA is present, else the CPU."""
    if _DEVICE == "cpu" or (_DEVICE is None and not torch.cuda.is_available()):
        return torch.device("cpu")
    if _DEVICE in (None, "cuda"):
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device(_DEVICE)


def precision(task: str | None = None) -> str:
    """--precision, else bf16 for a paper-scale task on a bf16 GPU (the official MaskGIT / DiMO / MaskGen
    code trains in mixed precision), else fp32 (the CPU and the shapes tasks keep their fp32 numbers)."""
    if _PRECISION:
        return _PRECISION
    dev = device()
    paper = task in ("imagenet", "t2i")
    return "bf16" if paper and dev.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"


def amp(module, task: str | None = None):
    """`module` with its forward (and its methods: decode, features, ...) under bf16 autocast when the
    precision is bf16; the module itself otherwise. Outputs come back float32, so losses stay float32."""
    if precision(task) != "bf16":
        return module
    from harness.precision import Autocast

    return Autocast(module, device().type)
