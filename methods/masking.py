"""Mask schedules and the teacher's one-step fill, shared by the teacher sampler, FPD, DiMO and SDTT.

Facts from docs/references/teachers.md §1.3: MaskGIT-pytorch v1 `adap_sche` reveals tokens in
amounts proportional to arccos(r) (non-standard); Di4C / ReDi use the "proper" schedule that
differences round(L·γ(r)) on a uniform grid, γ(r) = arccos(r)/(π/2).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from methods.rng import sample_categorical


def gamma_arccos(r: Tensor | float) -> Tensor:
    """Fraction of tokens masked at progress r in [0, 1] (r=0: all masked)."""
    return torch.arccos(torch.as_tensor(r, dtype=torch.float64)) / (math.pi / 2)


def maskgit_v1_schedule(steps: int, num_tokens: int) -> list[int]:
    """MaskGIT-pytorch v1 `adap_sche`, "arccos" mode, exactly; 1 step (0/0 in the original) = reveal all."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if steps == 1:
        return [num_tokens]
    r = torch.linspace(1, 0, steps)  # float32 as in the original
    v = torch.arccos(r) / (math.pi * 0.5)
    sche = (v / v.sum() * num_tokens).round()
    return _settle(sche, num_tokens)


def proper_arccos_schedule(steps: int, num_tokens: int) -> list[int]:
    """Di4C / ReDi ("arccos_v2"): count_i = round(L·γ(r_i)) − round(L·γ(r_{i+1})), r on linspace(0, 1, N+1)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    r = torch.linspace(0, 1, steps + 1)
    masked = (num_tokens * (torch.arccos(r) / (math.pi / 2))).round()
    sche = masked[:-1] - masked[1:]
    return _settle(sche, num_tokens)


def _settle(sche: torch.Tensor, num_tokens: int) -> list[int]:
    """Both originals lift empty steps to 1 and settle the total on the last step, which goes negative once
    steps approach the token count (64 steps on 8 × 8 tokens: last entry −3, and the original's topk fails).
    Where that happens, the last step keeps one token and the excess comes off the latest steps with more
    than one; every schedule the original can run is returned unchanged."""
    sche[sche == 0] = 1
    sche[-1] += num_tokens - sche.sum()
    counts = [int(x) for x in sche.tolist()]
    if len(counts) > num_tokens:
        raise ValueError(
            f"{len(counts)} steps cannot each reveal a token of {num_tokens}; use at most {num_tokens} steps"
        )
    excess = 1 - counts[-1] if counts[-1] < 1 else 0
    counts[-1] = max(counts[-1], 1)
    for i in range(len(counts) - 2, -1, -1):
        take = min(excess, counts[i] - 1)
        counts[i] -= take
        excess -= take
    return counts


SCHEDULES = {"maskgit-v1": maskgit_v1_schedule, "proper": proper_arccos_schedule}


def guided_logits(model, tokens: Tensor, cond: Tensor, w: float, **kw) -> Tensor:
    """MaskGIT-pytorch guidance: (1 + w)·ℓ_c − w·ℓ_u, with ℓ_u from the null condition; w=0 is one pass."""
    if w == 0:
        return model(tokens, cond, **kw)
    kw = {k: torch.cat([v, v]) if torch.is_tensor(v) else v for k, v in kw.items()}  # e.g. token_embeds
    both = model(torch.cat([tokens, tokens]), torch.cat([cond, model.null_cond(cond)]), **kw)
    lc, lu = both.chunk(2)
    return (1 + w) * lc - w * lu


def remask(tokens: Tensor, ratio: Tensor, mask_id: int, u: Tensor) -> tuple[Tensor, Tensor]:
    """Mask exactly round(L·ratio_b) positions of row b (at least 1), chosen by the smallest u (per-sample noise)."""
    b, l = tokens.shape
    n = (ratio.to(torch.float64) * l).round().clamp(1, l).long()
    rank = u.argsort(-1).argsort(-1)
    mask = rank < n[:, None]
    return tokens.masked_fill(mask, mask_id), mask


def fill_masked(
    model, tokens: Tensor, cond: Tensor, mask: Tensor, u: Tensor, *, w: float = 0.0, sm_temp: float = 1.0, **kw
) -> Tensor:
    """ONE teacher step that fills every masked position (FPD's T^r): a draw from softmax(sm_temp·ℓ),
    by inverse CDF from the per-position uniforms u [B, L]; unmasked positions are kept."""
    logits = guided_logits(model, tokens, cond, w, **kw)
    return torch.where(mask, sample_categorical(logits * sm_temp, u), tokens)


def reveal_masked(
    model,
    tokens: Tensor,
    cond: Tensor,
    mask: Tensor,
    draft: Tensor,
    u: Tensor,
    u_conf: Tensor,
    *,
    reveal_frac: float,
    noise: float,
    w: float = 0.0,
    sm_temp: float = 1.0,
    **kw,
) -> Tensor:
    """ONE MaskGIT step on the re-masked draft: draw a token at every masked position, keep only the
    round(reveal_frac·#masked) most confident (log p + noise·Gumbel) and let the other masked
    positions keep their draft tokens. A weaker pull than `fill_masked` (an option; see FPDConfig.target)."""
    from methods.rng import gumbel_from_uniform

    logits = guided_logits(model, tokens, cond, w, **kw) * sm_temp
    pred = sample_categorical(logits, u)
    conf = logits.float().log_softmax(-1).gather(-1, pred[..., None])[..., 0]
    conf = conf + noise * gumbel_from_uniform(u_conf.clone())
    conf = conf.masked_fill(~mask, float("-inf"))
    n = (mask.sum(1).double() * reveal_frac).round().clamp_min(1).long()
    rank = conf.argsort(-1, descending=True).argsort(-1)
    reveal = (rank < n[:, None]) & mask
    return torch.where(reveal, pred, draft)
