"""The optional unconditional discriminator of FPD (§3.4): projected-GAN style.

A frozen feature network (maps at several scales) with small trainable spectral-norm heads, hinge
loss and DiffAugment `color,translation,cutout` on both real and fake inputs — the recipe of
StyleGAN-XL / Projected GAN (autonomousvision/stylegan-xl `pg_modules/`, `training/loss.py`).
Unconditional: real images only shape realism; all conditional signal comes from the drift loss.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import spectral_norm


def diff_augment(x: Tensor, g: torch.Generator) -> Tensor:
    """DiffAugment (Zhao et al.) color, translation (1/8), cutout (1/5), as StyleGAN-XL's diffaug.py."""
    b = x.shape[0]
    r = lambda *s: torch.rand(*s, generator=g).to(x)
    x = x + (r(b, 1, 1, 1) - 0.5)  # brightness ±0.5
    m = x.mean(1, keepdim=True)
    x = (x - m) * (r(b, 1, 1, 1) * 2) + m  # saturation ×[0, 2]
    m = x.mean((1, 2, 3), keepdim=True)
    x = (x - m) * (r(b, 1, 1, 1) + 0.5) + m  # contrast ×[0.5, 1.5]
    h, w = x.shape[-2:]
    sh, sw = int(h * 0.125 + 0.5), int(w * 0.125 + 0.5)
    tx = (r(b) * (2 * sw + 1)).long() - sw
    ty = (r(b) * (2 * sh + 1)).long() - sh
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    yy = gy[None] - ty[:, None, None].to(x.device)
    xx = gx[None] - tx[:, None, None].to(x.device)
    valid = ((yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)).to(x)
    idx = (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)).flatten(1)
    x = torch.gather(x.flatten(2), 2, idx[:, None].expand(-1, x.shape[1], -1)).view_as(x) * valid[:, None]
    ch, cw = int(h * 0.2 + 0.5), int(w * 0.2 + 0.5)  # cutout: a zeroed square
    cy, cx = (r(b) * h).long(), (r(b) * w).long()
    keep = ~(((gy[None] - cy[:, None, None]).abs() * 2 < ch) & ((gx[None] - cx[:, None, None]).abs() * 2 < cw))
    return x * keep[:, None].to(x)


class ProjectedDiscriminator(nn.Module):
    """Trainable heads on the maps of a frozen feature network; outputs flattened patch logits [B, P]."""

    def __init__(self, feature_maps: Callable[[Tensor], list[Tensor]], channels: list[int], width: int = 64):
        super().__init__()
        self.feature_maps = feature_maps
        self.heads = nn.ModuleList(
            nn.Sequential(
                spectral_norm(nn.Conv2d(c, width, 3, padding=1)),
                nn.LeakyReLU(0.2),
                spectral_norm(nn.Conv2d(width, width, 3, padding=1)),
                nn.LeakyReLU(0.2),
                spectral_norm(nn.Conv2d(width, 1, 1)),
            )
            for c in channels
        )

    def forward(self, images: Tensor) -> Tensor:
        maps = self.feature_maps(images)
        return torch.cat([h(m).flatten(1) for h, m in zip(self.heads, maps)], 1)


class GAN:
    """Hinge losses with DiffAugment; the discriminator's optimiser step lives here (Adam 2e-3, β=(0, 0.99))."""

    def __init__(self, disc: ProjectedDiscriminator, lr: float = 2e-3, seed: int = 0):
        self.disc = disc
        self.opt = torch.optim.Adam(disc.heads.parameters(), lr=lr, betas=(0.0, 0.99), eps=1e-8)
        self.g = torch.Generator().manual_seed(seed)

    def generator_loss(self, fake: Tensor) -> Tensor:
        return -self.disc(diff_augment(fake, self.g)).mean()

    def discriminator_step(self, real: Tensor, fake: Tensor) -> dict[str, float]:
        lr_ = F.relu(1 - self.disc(diff_augment(real, self.g))).mean()
        lf = F.relu(1 + self.disc(diff_augment(fake.detach(), self.g))).mean()
        self.opt.zero_grad(set_to_none=True)
        (lr_ + lf).backward()
        self.opt.step()
        return {"loss_d_real": float(lr_.detach()), "loss_d_fake": float(lf.detach())}
