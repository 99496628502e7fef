"""Inception-v3 extractor: weight resolution (no network), the uint8 contract, output keys."""

from __future__ import annotations

import pytest
import torch

from evaluators import inception
from evaluators.errors import EvaluatorError, MissingWeights
from evaluators.features import get_extractor


@pytest.fixture
def no_weights(monkeypatch, tmp_path):
    monkeypatch.delenv(inception.ENV_VAR, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))  # empty hub cache
    return tmp_path


def test_missing_weights_message_names_file_and_url(no_weights):
    with pytest.raises(MissingWeights) as e:
        get_extractor("inception-v3-compat")
    msg = str(e.value)
    assert "\n" not in msg and isinstance(e.value, EvaluatorError)
    assert inception.WEIGHTS_FILE in msg and inception.WEIGHTS_URL in msg
    assert inception.ENV_VAR in msg


def test_bad_explicit_and_env_paths(no_weights, monkeypatch):
    with pytest.raises(MissingWeights, match="is not a file"):
        inception.find_inception_weights(no_weights / "nope.pth")
    monkeypatch.setenv(inception.ENV_VAR, str(no_weights / "nope.pth"))
    with pytest.raises(MissingWeights, match=inception.ENV_VAR):
        inception.find_inception_weights()


def test_weights_found_in_env_then_hub_cache(no_weights, monkeypatch):
    f = no_weights / "w.pth"
    f.write_bytes(b"x")
    monkeypatch.setenv(inception.ENV_VAR, str(f))
    assert inception.find_inception_weights() == f
    monkeypatch.delenv(inception.ENV_VAR)
    cached = no_weights / "torch_home" / "hub" / "checkpoints" / inception.WEIGHTS_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    assert inception.find_inception_weights() == cached


def test_random_weight_model_contract(no_weights, monkeypatch):
    # torch-fidelity's real network with random weights (loading is patched out): checks the
    # layers we ask for and the uint8 [B,3,H,W] contract without the real weight file.
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    monkeypatch.setattr(FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd, strict=True: None)
    f = no_weights / "w.pth"
    torch.save({}, f)
    torch.manual_seed(0)
    ext = get_extractor("inception-v3-compat", weights_path=f)
    assert ext.name == "inception-v3-compat" and ext.version
    out = ext(torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8))
    assert out["pool"].shape == (1, 2048) and out["logits"].shape == (1, 1008)
    assert out["pool"].dtype == torch.float32 and torch.isfinite(out["logits"]).all()
    with pytest.raises(TypeError, match="uint8"):
        ext(torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        ext(torch.zeros(1, 32, 32, 3, dtype=torch.uint8))


def test_batches_are_chunked(no_weights, monkeypatch):
    # Chunking must not change results; a stand-in net records the batch sizes it sees.
    seen = []

    class FakeNet(torch.nn.Module):
        def forward(self, x):
            seen.append(x.shape[0])
            v = x.float().mean((1, 2, 3))[:, None]
            return v.repeat(1, 2048), v.repeat(1, 1008)

    ext = inception.InceptionV3Compat.__new__(inception.InceptionV3Compat)
    torch.nn.Module.__init__(ext)
    ext.net, ext.device, ext.batch_size = FakeNet(), torch.device("cpu"), 3
    x = torch.randint(0, 256, (7, 3, 4, 4), dtype=torch.uint8)
    out = ext(x)
    assert seen == [3, 3, 1]
    torch.testing.assert_close(out["pool"][:, 0], x.float().mean((1, 2, 3)))
