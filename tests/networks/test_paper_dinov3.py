"""DINOv3 / DINOv2 feature backbones on random small configs of the real layout."""

from __future__ import annotations

import pytest
import torch
from transformers import DINOv3ViTConfig, Dinov2Config

from harness.errors import HarnessError
from harness.networks.dinov3 import DinoFeatureConfig, DinoFeatures, dino_from_config, load_dino
from methods.interfaces import FeatureBackbone

SMALL_V3 = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=12,
    num_attention_heads=2,
    num_register_tokens=4,
    patch_size=16,
    key_bias=False,
)


@pytest.fixture(scope="module")
def dino():
    torch.manual_seed(0)
    return dino_from_config(DINOv3ViTConfig(**SMALL_V3))


def test_blocks_are_hidden_states_b_plus_1_after_cls_and_registers(dino):
    assert isinstance(dino, FeatureBackbone)
    img = torch.rand(2, 3, 256, 256) * 2 - 1
    seen = {}
    hooks = [
        dino.model.model.layer[b].register_forward_hook(
            lambda m, i, o, b=b: seen.__setitem__(b, o[0] if isinstance(o, tuple) else o)
        )
        for b in (2, 11)
    ]
    with torch.no_grad():
        feats = dino.features(img)
        hs = dino.model(pixel_values=dino.preprocess(img), output_hidden_states=True).hidden_states
    for h in hooks:
        h.remove()
    assert len(hs) == 13 and set(feats) == {"block2", "block5", "block8", "block11"}
    assert torch.allclose(seen[11], hs[12]) and torch.allclose(seen[2], hs[3])  # raw block outputs, pre-norm
    patches = hs[3][:, 5:]  # 1 CLS + 4 registers dropped
    assert patches.shape == (2, 256, 32)  # 256 px / 16 = 16x16 patches
    grid = patches.reshape(2, 16, 16, 32)
    cell = grid[:, :4, 4:8].mean((1, 2))  # exact 4x4 average pool: cell (row 0, col 1)
    assert feats["block2"].shape == (2, 16, 32)
    assert torch.allclose(feats["block2"][:, 1], cell, atol=1e-5)


def test_gradients_reach_the_image_and_eval_mode_sticks(dino):
    parent = torch.nn.Sequential(dino)
    parent.train()  # a parent's train() must not un-freeze DINOv3
    assert not dino.model.training and all(not p.requires_grad for p in dino.parameters())
    img = (torch.rand(1, 3, 256, 256) * 2 - 1).requires_grad_(True)
    sum(f.sum() for f in dino.features(img).values()).backward()
    assert img.grad is not None and img.grad.abs().sum() > 0


def test_token_norm_global_pool_and_bad_blocks():
    torch.manual_seed(0)
    cfg = DINOv3ViTConfig(**SMALL_V3)
    d = dino_from_config(cfg, DinoFeatureConfig(global_pool=True, token_norm=True, blocks=(11,)))
    with torch.no_grad():
        f = d.features(torch.zeros(1, 3, 256, 256))["block11"]
    assert f.shape == (1, 1, 32)
    with pytest.raises(HarnessError, match="out of range"):
        dino_from_config(cfg, DinoFeatureConfig(blocks=(12,)))


def test_dinov2_fallback_resizes_to_224_and_pools_16x16_to_4x4():
    torch.manual_seed(0)
    cfg = Dinov2Config(
        hidden_size=32, intermediate_size=64, num_hidden_layers=12, num_attention_heads=2, image_size=224, patch_size=14
    )
    d = dino_from_config(cfg, DinoFeatureConfig(kind="dinov2"))
    assert d.num_prefix == 1
    with torch.no_grad():
        f = d.features(torch.rand(2, 3, 256, 256) * 2 - 1)
    assert f["block5"].shape == (2, 16, 32)


def test_load_from_a_local_folder_and_refuse_a_missing_one(tmp_path):
    from harness.networks.fixtures import save_hf_dino

    folder = save_hf_dino(tmp_path / "dinov3", small=True)
    d = load_dino(folder)
    assert isinstance(d, DinoFeatures) and d.num_prefix == 5 and not d.model.training
    with pytest.raises(HarnessError, match="cannot load dinov3 weights"):
        load_dino(tmp_path / "nothing-here")
