"""Per-sample random streams: sample i's randomness depends only on its own seed.

This is what makes generation independent of batch size and process count, and lets an
interrupted run resume by skipping finished seeds (DESIGN.md §4).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


class SeedStreams:
    def __init__(self, seeds: Sequence[int], device: torch.device | str = "cpu"):
        bad = [s for s in seeds if int(s) < 0]
        if bad:
            raise ValueError(f"seeds must be >= 0, got {bad[:3]}")
        self.device = torch.device(device)
        self.gens = [torch.Generator().manual_seed(int(s)) for s in seeds]

    def __len__(self) -> int:
        return len(self.gens)

    def rand(self, *shape: int) -> Tensor:
        """Uniform [0, 1) of shape [B, *shape], one independent draw per stream (drawn on CPU)."""
        return torch.stack([torch.rand(shape, generator=g) for g in self.gens]).to(self.device)

    def randn(self, *shape: int) -> Tensor:
        return torch.stack([torch.randn(shape, generator=g) for g in self.gens]).to(self.device)

    def randint(self, high: int, *shape: int) -> Tensor:
        return torch.stack([torch.randint(0, high, shape, generator=g) for g in self.gens]).to(self.device)

    def gumbel(self, *shape: int) -> Tensor:
        u = self.rand(*shape).clamp_(1e-20, 1 - 1e-7)
        return -torch.log(-torch.log(u))

    @staticmethod
    def derive(base_seed: int, step: int, indices: Sequence[int]) -> list[int]:
        """Seeds for global sample `indices` at training `step` (independent of rank and batch split)."""
        return [(base_seed * 1_000_003 + step * 65_537 + int(i) * 7919 + 12345) % (2**62) for i in indices]
