"""The feature-extractor interface and registry that FID / IS / P / R suites name.

An extractor maps uint8 images [B, 3, H, W] to a dict with 'pool' [B, D] (FID, P/R) and
'logits' [B, K] (IS). `name` + `version` identify its feature space, so cached reference
statistics are keyed by them (see evaluators.reference_stats). Extractors register a factory
by name: `@register_extractor("inception-v3-compat")`; the shapes classifier registers
"shapes-classifier" from evaluators/shapes_classifier.py.
"""

from __future__ import annotations

import importlib
from typing import Callable, Protocol, runtime_checkable

import torch

from evaluators.errors import EvaluatorError


@runtime_checkable
class FeatureExtractor(Protocol):
    """uint8 images [B, 3, H, W] -> {'pool': [B, D] float, 'logits': [B, K] float}."""

    name: str
    version: str

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]: ...


_REGISTRY: dict[str, Callable[..., FeatureExtractor]] = {}
# Modules that register extractors on import; imported lazily by get_extractor so that
# asking for a name works without the caller knowing which module defines it.
_PROVIDERS: dict[str, str] = {
    "inception-v3-compat": "evaluators.inception",
    "shapes-classifier": "evaluators.shapes_classifier",
}


def register_extractor(name: str) -> Callable[[Callable[..., FeatureExtractor]], Callable[..., FeatureExtractor]]:
    """Decorator registering a factory (a class or function returning an extractor) under `name`."""

    def deco(factory: Callable[..., FeatureExtractor]) -> Callable[..., FeatureExtractor]:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise ValueError(f"feature extractor {name!r} is already registered; pick another name")
        _REGISTRY[name] = factory
        return factory

    return deco


def available_extractors() -> list[str]:
    """Names that get_extractor accepts (registered ones plus known lazy providers)."""
    return sorted(set(_REGISTRY) | set(_PROVIDERS))


def get_extractor(name: str, **kwargs) -> FeatureExtractor:
    """Build the extractor registered as `name`; kwargs go to its factory (e.g. weights path)."""
    if name not in _REGISTRY and name in _PROVIDERS:
        try:
            importlib.import_module(_PROVIDERS[name])
        except ModuleNotFoundError as e:  # provider module not written/installed yet
            if e.name != _PROVIDERS[name]:
                raise
    if name not in _REGISTRY:
        raise EvaluatorError(f"unknown feature extractor {name!r}; choose one of {available_extractors()}")
    return _REGISTRY[name](**kwargs)


def check_uint8_images(images: torch.Tensor) -> None:
    """Enforce the extractor input contract: a uint8 tensor [B, 3, H, W]."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dtype != torch.uint8:
        raise TypeError(
            f"images must be uint8 in [0, 255], got {images.dtype}; convert with "
            "(x.clamp(0, 1) * 255).round().to(torch.uint8)"
        )
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be [B, 3, H, W], got {tuple(images.shape)}")


def run_extractor(extractor: FeatureExtractor, images_nhwc, batch_size: int = 250) -> dict:
    """Features of a uint8 NHWC array (the ADM batch layout), in batches; numpy float64 out."""
    import numpy as np

    arr = np.asarray(images_nhwc)
    if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"expected uint8 images [N, H, W, 3], got {arr.dtype} {arr.shape}")
    out: dict[str, list] = {}
    for i in range(0, arr.shape[0], batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(arr[i : i + batch_size])).permute(0, 3, 1, 2)
        feats = extractor(batch.contiguous())
        for key, val in feats.items():
            out.setdefault(key, []).append(val.detach().double().cpu().numpy())
    return {k: np.concatenate(v) for k, v in out.items()}
