"""The `teacher` method: MaskGIT confidence-based multistep decoding (MaskGIT-pytorch v1 `sample`).

Per step i of N (`Trainer/vit.py::sample`; docs/references/teachers.md §1.3):
  guidance ramp   w_i = w · i/(N−1)            (N = 1: full w, as ReDi's patch of the 0/0 case)
  logits          (1 + w_i)·ℓ_c − w_i·ℓ_u
  sample          ẑ ~ softmax(sm_temp · logits)  (sm_temp multiplies: an inverse temperature)
  confidence      log p(ẑ) + r_temp · Gumbel · (1 − i/(N−1))   (annealed; "linear" randomize)
  reveal          the top-t confident still-masked positions, t from the schedule; the rest stay masked.
The TokenModel's logits are K-way (the original samples 1025-way incl. [MASK], then clamps to 1023;
we drop the [MASK] column instead, so no invalid code can be drawn — a recorded deviation).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import torch
from torch import Tensor

from methods.interfaces import to_uint8
from methods.masking import SCHEDULES, guided_logits
from methods.rng import SeedStreams, gumbel_from_uniform, sample_categorical


@dataclass(frozen=True)
class TeacherSamplerConfig:
    steps: int = 16
    schedule: str = "maskgit-v1"  # "maskgit-v1" (v1 adap_sche) | "proper" (Di4C / ReDi)
    w: float = 3.0  # MaskGIT-pytorch v1 README default (cfg_w 3)
    sm_temp: float = 1.0
    r_temp: float = 4.5  # v1 README default
    anneal_gumbel: bool = True  # randomize="linear"

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose one of {list(SCHEDULES)}")

    def to_dict(self) -> dict:
        return asdict(self)


class TeacherSampler:
    """A multistep teacher behind the Generator interface."""

    def __init__(self, model, tokenizer, cfg: TeacherSamplerConfig, device: str | torch.device = "cpu"):
        self.model, self.tokenizer, self.cfg, self.device = model, tokenizer, cfg, torch.device(device)
        self.steps = cfg.steps

    @torch.inference_mode()
    def sample_tokens(self, cond: Tensor, seeds: Sequence[int]) -> Tensor:
        cfg, m = self.cfg, self.model
        L = m.num_tokens
        rng = SeedStreams(seeds, self.device)
        cond = cond.to(self.device)
        code = torch.full((len(seeds), L), m.mask_id, dtype=torch.long, device=self.device)
        masked = torch.ones_like(code, dtype=torch.bool)
        sche = SCHEDULES[cfg.schedule](cfg.steps, L)
        n = cfg.steps
        for i, t in enumerate(sche):
            ramp = i / (n - 1) if n > 1 else 1.0
            logits = guided_logits(m, code, cond, cfg.w * ramp) * cfg.sm_temp
            u = rng.rand(L, 2)
            pred = sample_categorical(logits, u[..., 0])  # exact categorical sample
            conf = torch.log_softmax(logits, -1).gather(-1, pred[..., None])[..., 0]
            if cfg.anneal_gumbel:
                conf = conf + cfg.r_temp * gumbel_from_uniform(u[..., 1].clone()) * (1 - ramp if n > 1 else 0.0)
            conf = conf.masked_fill(~masked, float("-inf"))
            t = min(int(t), int(masked.sum(1).min()))
            idx = conf.topk(t, dim=-1).indices
            reveal = torch.zeros_like(masked).scatter_(1, idx, True) & masked
            code = torch.where(reveal, pred, code)
            masked &= ~reveal
        return code

    @torch.inference_mode()
    def generate(self, cond: Tensor, seeds: Sequence[int]) -> Tensor:
        return to_uint8(self.tokenizer.decode(self.sample_tokens(cond, seeds), cond.to(self.device)))
