"""Datasets of shapes renders as tensors, deterministic by (split, index).

Sample i of a split has its own seed, so any subset can be regenerated exactly and train / held-out
splits never share a scene.
"""

from __future__ import annotations

import numpy as np
import torch

from harness.tasks import shapes as S

SPLIT_OFFSET = {"train": 0, "heldout": 1_000_000_000, "eval": 2_000_000_000}


def seed_of(split: str, i: int) -> int:
    if split not in SPLIT_OFFSET:
        raise ValueError(f"unknown split {split!r}; choose one of {list(SPLIT_OFFSET)}")
    return SPLIT_OFFSET[split] + i


def to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """uint8 HWC arrays -> uint8 [N, 3, H, W]."""
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


def to_float(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 -> float in [-1, 1] (the VQ convention of MaskGIT-pytorch: 2x - 1)."""
    return images_u8.float() / 127.5 - 1.0


def class_dataset(n: int, split: str = "train", resolution: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """n class-conditional renders, labels balanced (label = i mod num_classes)."""
    labels = np.arange(n) % S.NUM_CLASSES
    imgs = [S.render_class(int(labels[i]), seed_of(split, i), resolution).image for i in range(n)]
    return to_tensor(imgs), torch.from_numpy(labels).long()


def scene_dataset(
    n: int, split: str = "train", resolution: int = 32, tag_probs: tuple[float, ...] | None = None
) -> tuple[torch.Tensor, torch.Tensor, list[dict]]:
    """n text-conditional scenes: images, caption token ids [n, T], GenEval-schema metadata (tags uniform
    unless `tag_probs`, see shapes.parse_tag_mix)."""
    renders = [S.sample_scene(seed_of(split, i), resolution, tag_probs) for i in range(n)]
    caps = torch.from_numpy(np.stack([S.encode_caption(r.caption) for r in renders]))
    return to_tensor([r.image for r in renders]), caps, [r.metadata for r in renders]
