"""Routing gradients through the discrete bottleneck (FPD §3.4, Eq. 8).

STE (default): e = E[ẑ] + ẽ − sg(ẽ), ẽ = softmax(ℓ)·E. Forward value is exactly the hard codebook
vector of the sampled token (bit for bit: ẽ − sg(ẽ) is exactly zero), so decoder and teacher only
see valid codes; the gradient is that of the soft embedding (clean softmax, no Gumbel noise).
Soft (ablation, Table 3a): e = ẽ, an off-manifold mixture in the forward pass too.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

ESTIMATORS = ("ste", "soft")


def route_embeddings(logits: Tensor, codebook: Tensor, z_hat: Tensor, estimator: str = "ste") -> Tensor:
    """logits [B, L, K], codebook [K, d], z_hat [B, L] -> embeddings [B, L, d] for the decoder."""
    soft = logits.float().softmax(-1) @ codebook.float()
    if estimator == "soft":
        return soft
    if estimator != "ste":
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {ESTIMATORS}")
    hard = F.embedding(z_hat, codebook.float())
    return hard + (soft - soft.detach())
