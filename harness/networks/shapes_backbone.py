"""The frozen feature backbone Φ of FPD in the shapes world (the stand-in for DINOv3 ViT-B/16).

Four conv stages ("blocks" 0-3, at 32, 16, 8, 4 px), trained once on renders to predict, for every
cell of a 4x4 grid, which shape and which colour covers it (a dense objective, so its features
carry position and size, not just class). `features` pools each block to a grid (default 4x4, as
FPD pools DINOv3 patches) with optional per-token normalisation, differentiably, and satisfies
`methods.interfaces.FeatureBackbone`. It is not the evaluator's classifier.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from evaluators.shapes_geometry import COLORS, SHAPES


@dataclass(frozen=True)
class BackboneConfig:
    widths: tuple = (32, 64, 96, 128)
    grid: int = 4

    def to_dict(self) -> dict:
        return asdict(self)


class ShapesBackbone(nn.Module):
    def __init__(self, cfg: BackboneConfig = BackboneConfig()):
        super().__init__()
        self.cfg = cfg
        chans = (3,) + tuple(cfg.widths)
        self.stages = nn.ModuleList()
        for i, (a, b) in enumerate(zip(chans[:-1], chans[1:])):
            self.stages.append(
                nn.Sequential(
                    nn.Conv2d(a, b, 3, stride=1 if i == 0 else 2, padding=1),
                    nn.GroupNorm(8, b),
                    nn.GELU(),
                    nn.Conv2d(b, b, 3, padding=1),
                    nn.GroupNorm(8, b),
                    nn.GELU(),
                )
            )
        c = cfg.widths[-1]
        self.shape_head = nn.Conv2d(c, len(SHAPES) + 1, 1)  # per 4x4 cell: shape or none
        self.color_head = nn.Conv2d(c, len(COLORS) + 1, 1)  # per 4x4 cell: colour or none

    def blocks(self, images: Tensor) -> list[Tensor]:
        x, out = images, []
        for st in self.stages:
            x = st(x)
            out.append(x)
        return out

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        top = self.blocks(images)[-1]
        top = F.adaptive_avg_pool2d(top, self.cfg.grid)
        return self.shape_head(top), self.color_head(top)

    def features(
        self, images: Tensor, blocks: tuple[int, ...] = (0, 1, 2, 3), grid: int | None = 4, token_norm: bool = True
    ) -> dict[str, Tensor]:
        """{f"block{b}": [B, G, C]} with G = grid² cells (grid=None: one globally pooled token)."""
        feats = self.blocks(images)
        out = {}
        for b in blocks:
            f = feats[b]
            f = F.adaptive_avg_pool2d(f, grid) if grid else f.mean((2, 3), keepdim=True)
            t = f.flatten(2).transpose(1, 2)  # [B, G, C]
            if token_norm:  # per-token standardisation over channels, as the drifting ConvNeXt recipe
                t = F.layer_norm(t, t.shape[-1:])
            out[f"block{b}"] = t
        return out


class FrozenBackbone(nn.Module):
    """Φ as FPD uses it: frozen, in eval mode, with the block / grid / normalisation choices bound."""

    def __init__(self, net: ShapesBackbone, blocks=(0, 1, 2, 3), grid: int | None = 4, token_norm: bool = True):
        super().__init__()
        self.net = net.eval().requires_grad_(False)
        self.blocks_, self.grid, self.token_norm = tuple(blocks), grid, token_norm

    def train(self, mode: bool = True):  # stays in eval mode whatever the parent does
        return super().train(False)

    def features(self, images: Tensor) -> dict[str, Tensor]:
        return self.net.features(images, self.blocks_, self.grid, self.token_norm)
