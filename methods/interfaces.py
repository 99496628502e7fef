"""The small interfaces through which networks reach a method (docs/references/design.md §1-2).

The same FPD / DiMO / SDTT / teacher-sampler code runs on the shapes networks and on the
paper-scale ones (MaskGIT + VQGAN + DINOv3, MaskGen-L + TA-TiTok) because each only needs:

* TokenModel   - a bidirectional masked-token transformer: tokens [B, L] (+ condition) -> logits
                 [B, L, K] over the K codebook entries (any [MASK] logit already removed).
* Tokenizer    - codebook lookup and decoding, so a straight-through estimator can run in codebook
                 space and images can be produced.
* FeatureBackbone - a frozen network mapping images in [-1, 1] to named feature grids [B, G, C].
* Generator    - what every method exposes for sampling: uint8 images, sample i keyed by seed i.

A condition `cond` is a tensor whose first dimension is the batch: class labels [B] (long) or
caption token ids [B, T] (long) or text embeddings; a TokenModel knows how to make its
unconditional (null) version for classifier-free guidance.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import torch
from torch import Tensor


@runtime_checkable
class TokenModel(Protocol):
    num_tokens: int  # L, token positions per image
    codebook_size: int  # K, real codes (logits are K-way)
    mask_id: int  # id of [MASK] in the input vocabulary

    def __call__(
        self, tokens: Tensor, cond: Tensor, *, emb_perturb: float = 0.0, noise: Tensor | None = None
    ) -> Tensor:
        """tokens [B, L] long (ids in 0..K-1 or mask_id) -> logits [B, L, K] (float)."""

    def null_cond(self, cond: Tensor) -> Tensor:
        """The unconditional counterpart of `cond` (null class / empty caption)."""


@runtime_checkable
class Tokenizer(Protocol):
    num_tokens: int
    codebook_size: int

    @property
    def codebook(self) -> Tensor:
        """[K, d] embedding of each code, the space where the decoder starts (and the STE lives)."""

    def encode(self, images: Tensor) -> Tensor:
        """images float [B, 3, H, W] in [-1, 1] -> tokens [B, L] long."""

    def decode_embeddings(self, emb: Tensor, cond: Tensor | None = None) -> Tensor:
        """codebook-space embeddings [B, L, d] -> images float [B, 3, H, W] in about [-1, 1]."""

    def decode(self, tokens: Tensor, cond: Tensor | None = None) -> Tensor:
        """tokens [B, L] -> images float in about [-1, 1]."""


@runtime_checkable
class FeatureBackbone(Protocol):
    def features(self, images: Tensor) -> dict[str, Tensor]:
        """images float [B, 3, H, W] in [-1, 1] -> {block name: [B, G, C]} (G grid cells); differentiable."""


@runtime_checkable
class Generator(Protocol):
    steps: int  # network evaluations per sample

    def generate(self, cond: Tensor, seeds: Sequence[int]) -> Tensor:
        """uint8 images [B, 3, H, W]; sample i depends only on (cond[i], seeds[i])."""


def to_uint8(images: Tensor) -> Tensor:
    """[-1, 1] float -> uint8, the convention of MaskGIT-pytorch / DiMO ((x + 1) * 127.5, clipped)."""
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
