"""The feature-extractor registry and the NHWC batch runner."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evaluators import features
from evaluators.errors import EvaluatorError
from evaluators.features import FeatureExtractor, get_extractor, register_extractor, run_extractor


class MeanExtractor:
    name, version = "test-mean", "1"

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def __call__(self, images):
        features.check_uint8_images(images)
        x = images.float()
        return {"pool": x.mean((2, 3)) * self.scale, "logits": x.amax((2, 3))}


def test_register_and_get(monkeypatch):
    monkeypatch.setattr(features, "_REGISTRY", dict(features._REGISTRY))
    register_extractor("test-mean")(MeanExtractor)
    ext = get_extractor("test-mean", scale=2.0)
    assert isinstance(ext, FeatureExtractor) and ext.scale == 2.0
    assert "test-mean" in features.available_extractors()
    with pytest.raises(ValueError, match="already registered"):
        register_extractor("test-mean")(lambda: None)


def test_unknown_name_lists_choices():
    with pytest.raises(EvaluatorError, match="unknown feature extractor 'nope'.*inception-v3-compat"):
        get_extractor("nope")


def test_lazy_provider_is_imported():
    ext_cls = features._REGISTRY.get("inception-v3-compat")
    import evaluators.inception  # noqa: F401  (registers on import)

    assert features._REGISTRY["inception-v3-compat"] is evaluators.inception.InceptionV3Compat
    assert ext_cls in (None, evaluators.inception.InceptionV3Compat)


def test_run_extractor_nhwc_batches():
    imgs = np.random.default_rng(0).integers(0, 256, size=(5, 4, 4, 3), dtype=np.uint8)
    out = run_extractor(MeanExtractor(), imgs, batch_size=2)
    assert out["pool"].dtype == np.float64 and out["pool"].shape == (5, 3)
    np.testing.assert_allclose(out["pool"], imgs.astype(np.float64).mean((1, 2)), rtol=1e-6)
    with pytest.raises(ValueError, match="uint8"):
        run_extractor(MeanExtractor(), imgs.astype(np.float32))


def test_check_uint8_images():
    features.check_uint8_images(torch.zeros(1, 3, 2, 2, dtype=torch.uint8))
    with pytest.raises(TypeError):
        features.check_uint8_images(np.zeros((1, 3, 2, 2), np.uint8))
