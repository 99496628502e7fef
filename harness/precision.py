"""bf16 autocast around the networks only (`harness.distributed.amp` decides when).

The official MaskGIT / DiMO / MaskGen code runs its network forwards under bf16 mixed precision. Here a
network is wrapped so that its forward and its methods (decode, decode_embeddings, features, ...) run
under autocast and hand back float32: the losses built on their outputs (the drift field, DiMO's
gradients, cross-entropy, the GAN's hinge) then run in float32 outside autocast, as the official FPD code
keeps the drift computation. Weights, optimiser state and checkpoints stay float32 on the bare module.
"""

from __future__ import annotations

import functools
import inspect

import torch
from torch import nn


def to_float(out):
    """Floating tensors (also inside dicts, lists and tuples) to float32; everything else unchanged."""
    if isinstance(out, torch.Tensor):
        return out.float() if out.is_floating_point() else out
    if isinstance(out, dict):
        return {k: to_float(v) for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return type(out)(to_float(v) for v in out)
    return out


class Autocast(nn.Module):
    """`inner` seen through bf16 autocast. Attributes (mask_id, codebook, cfg, ...) are the inner module's;
    its bound methods come back wrapped. Wrap after loading weights: the wrapper's own state_dict has an
    `inner.` prefix, so save and load through the bare module."""

    def __init__(self, inner, device_type: str, dtype: torch.dtype = torch.bfloat16):
        super().__init__()
        self.inner, self.device_type, self.dtype = inner, device_type, dtype

    def _run(self, fn, *args, **kwargs):
        with torch.autocast(self.device_type, dtype=self.dtype):
            return to_float(fn(*args, **kwargs))

    def forward(self, *args, **kwargs):
        return self._run(self.inner, *args, **kwargs)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)  # inner, parameters and buffers of the wrapper itself
        except AttributeError:
            if name == "inner":
                raise
        attr = getattr(self.inner, name)
        if inspect.ismethod(attr):
            return functools.partial(self._run, attr)
        return attr
