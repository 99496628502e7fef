"""MaskGIT v1 transformer + taming VQGAN: real configuration, official formats, strict loaders."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from harness.errors import HarnessError
from harness.networks import fixtures as fx
from harness.networks.checkpoints import convert_official, load_maskgit_transformer, load_vqgan, save_converted
from harness.networks.maskgit_v1 import MaskGITConfig, MaskGITTransformer
from harness.networks.vqgan_taming import TamingVQGAN, VQGANConfig


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_param_counts_match_the_documented_sizes():
    with torch.device("meta"):  # full depth without allocating
        assert _count(MaskGITTransformer()) == 174_160_874  # README / issue #7 log: 174.161M
        assert _count(TamingVQGAN()) == 72_141_699  # 72.142M
    assert MaskGITConfig().heads == 16 and MaskGITConfig().vocab == 2026


@pytest.fixture(scope="module")
def maskgit(tmp_path_factory):
    """Depth-1 model at the real width / vocabulary / token count, saved in the official .pth layout."""
    m = fx.build_maskgit(depth=1, dropout=0.0).eval()
    path = fx.save_official_maskgit(m, tmp_path_factory.mktemp("maskgit") / "MaskGIT_ImageNet_256.pth")
    return m, path


def test_official_file_layout_and_keys(maskgit):
    m, path = maskgit
    obj = torch.load(path, weights_only=True)
    assert {"iter", "global_epoch", "model_state_dict", "optimizer_state_dict"} <= set(obj)
    sd = obj["model_state_dict"]
    assert sd["tok_emb.weight"].shape == (2026, 768) and sd["bias"].shape == (257, 2026)
    assert sd["pos_emb"].shape == (1, 257, 768)
    assert sd["transformer.layers.0.0.fn.mha.in_proj_weight"].shape == (2304, 768)
    assert sd["transformer.layers.0.1.fn.net.3.weight"].shape == (768, 3072)
    assert {"first_layer.6.weight", "last_layer.4.bias"} <= set(sd)


def test_loader_reproduces_the_model_and_logit_shapes(maskgit):
    m, path = maskgit
    loaded = load_maskgit_transformer(path, m.cfg)
    tok = torch.randint(0, 1025, (1, 256))
    y = torch.tensor([7])
    with torch.no_grad():
        raw = m.raw_logits(tok, y)
        out = loaded(tok, y)
    assert raw.shape == (1, 256, 1025) and out.shape == (1, 256, 1024)  # TokenModel drops [MASK]
    assert torch.equal(raw[..., :1024], out)
    assert loaded.num_tokens == 256 and loaded.codebook_size == 1024 and loaded.mask_id == 1024
    assert int(loaded.class_token(loaded.null_cond(y))) == 2025  # null class id
    assert not loaded.training  # loaders return eval models


def test_emb_perturb_is_dimo_formula_on_visual_tokens_only(maskgit):
    m, _ = maskgit
    tok, y = torch.randint(0, 1024, (1, 256)), torch.tensor([3])
    noise = torch.randn(1, 256, 768)
    s = 0.1
    with torch.no_grad():
        got = m(tok, y, emb_perturb=s, noise=noise)
        want = m(tok, y, token_embeds=s * noise + math.sqrt(1 - s * s) * m.tok_emb(tok))
    assert torch.allclose(got, want, atol=1e-5)


def test_mutated_checkpoints_are_refused_with_one_line(maskgit, tmp_path):
    m, path = maskgit
    obj = torch.load(path, weights_only=True)
    cases = {
        "missing": lambda sd: sd.pop("transformer.layers.0.0.norm.weight"),
        "shape": lambda sd: sd.__setitem__("bias", torch.zeros(257, 2025)),
        "unexpected": lambda sd: sd.__setitem__("module.extra", torch.zeros(1)),
    }
    msgs = {}
    for name, mutate in cases.items():
        bad = {**obj, "model_state_dict": dict(obj["model_state_dict"])}
        mutate(bad["model_state_dict"])
        p = tmp_path / f"{name}.pth"
        torch.save(bad, p)
        with pytest.raises(HarnessError) as e:
            load_maskgit_transformer(p, m.cfg)
        msgs[name] = msg = str(e.value)
        assert "\n" not in msg and name.replace("shape", "shape mismatch") in msg
    assert "missing 1: transformer.layers.0.0.norm.weight" in msgs["missing"]
    assert "bias file [257, 2025] vs model [257, 2026]" in msgs["shape"]
    assert "unexpected 1: module.extra" in msgs["unexpected"]
    torch.save({"state_dict": obj["model_state_dict"]}, tmp_path / "wrong_top.pth")
    with pytest.raises(HarnessError, match="no 'model_state_dict'"):
        load_maskgit_transformer(tmp_path / "wrong_top.pth", m.cfg)


def test_head_count_is_invisible_in_shapes_but_checked_in_converted_files(maskgit, tmp_path):
    m, path = maskgit
    # the same tensors load into an 8-head model (why the official loader takes heads from the preset) ...
    eight = load_maskgit_transformer(path, dataclasses.replace(m.cfg, heads=8))
    tok, y = torch.randint(0, 1024, (1, 256)), torch.tensor([1])
    with torch.no_grad():
        assert not torch.allclose(eight(tok, y), m(tok, y), atol=1e-3)  # ... and silently computes something else
    # a converted checkpoint stores its config: an 8-head one is refused under the 16-head preset
    save_converted("maskgit_transformer", eight, tmp_path / "eight")
    with pytest.raises(HarnessError, match=r"heads=8 \(preset 16\)"):
        load_maskgit_transformer(tmp_path / "eight.safetensors", m.cfg)


def test_conversion_round_trip_and_tamper_detection(maskgit, tmp_path):
    m, path = maskgit
    meta = convert_official("maskgit_transformer", path, tmp_path / "maskgit", m.cfg)
    js = json.loads((tmp_path / "maskgit.json").read_text())
    assert js["kind"] == "maskgit_transformer" and js["config"]["heads"] == 16 and len(js["sha256"]) == 64
    assert js["source_sha256"] == meta["source_sha256"] and len(meta["source_sha256"]) == 64
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temp files
    back = load_maskgit_transformer(tmp_path / "maskgit.safetensors", m.cfg)
    tok, y = torch.randint(0, 1025, (1, 256)), torch.tensor([5])
    with torch.no_grad():
        assert torch.equal(back.raw_logits(tok, y), m.raw_logits(tok, y))
    data = bytearray((tmp_path / "maskgit.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "maskgit.safetensors").write_bytes(bytes(data))
    with pytest.raises(HarnessError, match="corrupt"):
        load_maskgit_transformer(tmp_path / "maskgit.safetensors", m.cfg)


def test_one_teacher_sampling_step_at_real_token_shapes(maskgit):
    from methods.teacher_sampler import TeacherSampler, TeacherSamplerConfig

    m, _ = maskgit
    tokens = TeacherSampler(m, None, TeacherSamplerConfig(steps=1, w=3.0)).sample_tokens(torch.tensor([4]), [0])
    assert tokens.shape == (1, 256) and int(tokens.max()) < 1024  # one step reveals all 256 positions


@pytest.fixture(scope="module")
def vqgan_real(tmp_path_factory):
    """The real-configuration VQGAN written as a Lightning last.ckpt (+ loss.* keys) with its model.yaml."""
    v = fx.build_vqgan().eval()
    path = fx.save_official_vqgan(v, tmp_path_factory.mktemp("vq") / "last.ckpt")
    return v, path


def test_vqgan_official_round_trip_ignores_only_loss_keys(vqgan_real):
    v, path = vqgan_real
    sd = torch.load(path, weights_only=True, mmap=True)["state_dict"]
    assert any(k.startswith("loss.") for k in sd) and sd["quantize.embedding.weight"].shape == (1024, 256)
    loaded = load_vqgan(path)
    z = torch.randn(1, 256, 2, 2)  # the decoder is convolutional: a 2x2 latent keeps the CPU test fast
    with torch.no_grad():
        assert torch.equal(loaded.decoder(loaded.post_quant_conv(z)), v.decoder(v.post_quant_conv(z)))
    assert torch.equal(loaded.codebook, v.codebook)
    assert loaded.num_tokens == 256 and loaded.codebook_size == 1024


def test_vqgan_refuses_foreign_keys_and_a_different_yaml(tmp_path):
    narrow = fx.build_vqgan(ch=32)  # small file; the checks do not depend on size
    path = fx.save_official_vqgan(narrow, tmp_path / "last.ckpt", with_yaml=False)
    obj = torch.load(path, weights_only=True)
    obj["state_dict"]["discriminator.main.0.weight"] = torch.zeros(1)  # not under loss.: refused
    torch.save(obj, path)
    with pytest.raises(HarnessError, match="unexpected 1: discriminator.main.0.weight"):
        load_vqgan(path, narrow.cfg)
    (tmp_path / "model.yaml").write_text(fx.vqgan_yaml_text(VQGANConfig(ch=64)))
    with pytest.raises(HarnessError, match=r"ch=64 \(expected 32\)"):
        load_vqgan(path, narrow.cfg)


def test_vqgan_tokenizer_interface_on_a_narrow_copy():
    from methods.interfaces import Tokenizer

    v = TamingVQGAN(VQGANConfig(ch=32, ch_mult=(1, 1, 2), resolution=64)).eval()  # 16x16 tokens, 64px images
    assert isinstance(v, Tokenizer)
    tok = torch.randint(0, 1025, (1, 256))  # a sampled [MASK] id is clamped to 1023
    with torch.no_grad():
        img = v.decode(tok)
        assert img.shape == (1, 3, 64, 64)
        assert torch.equal(img, v.decode_embeddings(v.codebook[tok.clamp(max=1023)]))
        assert v.encode(img).shape == (1, 256)
