"""MaskGen-L, TA-TiTok bl128 VQ and the CLIP ViT-L-14-336 text tower: real widths, official formats, sampler."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch

from harness.errors import HarnessError
from harness.networks import fixtures as fx
from harness.networks.checkpoints import load_clip_text, load_maskgen, load_tatitok, save_converted
from harness.networks.maskgen import (
    ClipTextEncoder,
    MaskGenConfig,
    MaskGenSamplerConfig,
    MaskGenTeacher,
    MaskGenTokenizer,
    MaskGenVQ,
    maskgen_mask_len,
    maskgen_sample,
)
from methods.interfaces import Tokenizer, TokenModel


def _count(m) -> int:
    return sum(p.numel() for p in m.parameters())  # parameters() de-duplicates the tied head


def test_maskgen_l_is_about_0_60b_parameters():
    with torch.device("meta"):
        full = MaskGenVQ()
        one = MaskGenVQ(MaskGenConfig(depth=1))  # only the last (context_pre_only) block
        two = MaskGenVQ(MaskGenConfig(depth=2))  # one full joint block + the last block
    per_block = _count(two) - _count(one)
    assert per_block == 37_779_456  # diffusers JointTransformerBlock(1024, 16 heads)
    assert _count(full) == _count(two) + 14 * per_block
    assert 0.60e9 < _count(full) < 0.61e9  # ≈ 604M (docs/references/teachers.md §3.2; paper: 0.6B)
    sd = full.state_dict()
    assert "lm_head.weight" in sd and sd["embeddings.weight"].shape == (9194, 1024)
    assert "blocks.15.attn.to_add_out.weight" not in sd and "blocks.14.ff_context.net.2.weight" in sd


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    c = fx.build_clip_text(layers=2).eval()  # real width / vocabulary / context, 2 of 12 blocks
    path = fx.save_official_clip(c, tmp_path_factory.mktemp("clip") / "open_clip_pytorch_model.bin")
    return c, path


def test_clip_text_encoder_shapes_and_loader(clip):
    c, path = clip
    with torch.device("meta"):
        assert 123.0e6 < _count(ClipTextEncoder()) < 123.8e6  # ViT-L/14 text tower ≈ 123.65M
    ids = c.tokenize(["a photo of a cat", ""])
    assert ids.shape == (2, 77) and ids.dtype == torch.long
    loaded = load_clip_text(path, c.cfg)  # visual.* / logit_scale in the file are skipped
    with torch.no_grad():
        pen, pooled, final = loaded(ids)
        pen0, pooled0, _ = c(ids)
    assert pen.shape == (2, 77, 768) and pooled.shape == (2, 768) and final.shape == (2, 77, 768)
    assert torch.equal(pen, pen0) and torch.equal(pooled, pooled0)
    assert not torch.allclose(pen, final)  # penultimate tokens: no last block, no ln_final


@pytest.fixture(scope="module")
def maskgen(tmp_path_factory):
    m = fx.build_maskgen(depth=2).eval()  # real width / heads / vocabulary, 2 of 16 blocks
    path = fx.save_official_state_dict(m, tmp_path_factory.mktemp("maskgen") / "maskgen_vq_l.bin")
    return m, path


def test_maskgen_official_round_trip_and_no_masking_in_forward(maskgen, clip):
    m, path = maskgen
    loaded = load_maskgen(path, m.cfg)
    assert loaded.lm_head.weight is loaded.embeddings.weight  # tie survives loading
    teacher = MaskGenTeacher(loaded, clip[0])
    assert isinstance(teacher, TokenModel) and teacher.mask_id == 8192 and teacher.num_tokens == 128
    ids = clip[0].tokenize(["two red circles"])
    tok = torch.randint(0, 8193, (1, 128))
    with torch.no_grad():
        out = teacher(tok, ids)
        teacher.train()  # the reference re-masks in train mode; we never do
        out_train = teacher(tok, ids)
        teacher.eval()
        ref = MaskGenTeacher(m, clip[0])(tok, ids)
    assert out.shape == (1, 128, 8192)  # 8192-way, no [MASK] logit
    assert torch.equal(out, out_train) and torch.equal(out, ref)
    assert teacher.null_cond(ids).shape == (1, 77)
    assert teacher.aesthetic_score == 6.5  # the sampling default of MaskGen-L
    with torch.no_grad():  # the aesthetic micro-condition matters
        other = MaskGenTeacher(loaded, clip[0], aesthetic_score=5.0)(tok, ids)
    assert not torch.allclose(out, other)


def test_maskgen_refuses_wrong_files_and_heads(tmp_path):
    # a narrow MaskGen (same layout, 64 wide) keeps the file traffic small; the checks do not depend on size
    cfg = MaskGenConfig(embed_dim=64, depth=2, heads=16, codebook_size=64, condition_num_classes=10, num_tokens=8)
    torch.manual_seed(0)
    m = MaskGenVQ(cfg)
    sd = m.state_dict()
    sd.pop("blocks.0.attn.add_q_proj.bias")
    torch.save(sd, tmp_path / "bad.bin")
    with pytest.raises(HarnessError, match="missing 1: blocks.0.attn.add_q_proj.bias"):
        load_maskgen(tmp_path / "bad.bin", cfg)
    # HF folder (PyTorchModelHubMixin layout) whose config.json says 8 heads: refused before reading weights
    hub = tmp_path / "hub"
    hub.mkdir()
    torch.save(m.state_dict(), hub / "pytorch_model.bin")
    (hub / "config.json").write_text(
        json.dumps({"model": {"maskgen": {"decoder_embed_dim": 64, "decoder_depth": 2, "decoder_num_heads": 8}}})
    )
    with pytest.raises(HarnessError, match=r"decoder_num_heads=8 \(expected 16\)"):
        load_maskgen(hub, cfg)
    # HF folder saved by PyTorchModelHubMixin (safetensors drops the tied lm_head.weight): re-tied on load
    from safetensors.torch import save_file

    hf = tmp_path / "hf"
    hf.mkdir()
    save_file({k: v.contiguous() for k, v in m.state_dict().items() if k != "lm_head.weight"}, hf / "model.safetensors")
    (hf / "config.json").write_text(
        json.dumps({"model": {"maskgen": {"decoder_embed_dim": 64, "decoder_depth": 2, "decoder_num_heads": 16}}})
    )
    tied = load_maskgen(hf, cfg)
    assert tied.lm_head.weight is tied.embeddings.weight and torch.equal(tied.embeddings.weight, m.embeddings.weight)
    # converted checkpoint: round trip (tied head stored twice, loaded into one table), then the same
    # weights with a stored 8-head config are refused
    save_converted("maskgen", m, tmp_path / "mg")
    back = load_maskgen(tmp_path / "mg.safetensors", cfg)
    assert back.lm_head.weight is back.embeddings.weight and torch.equal(back.embeddings.weight, m.embeddings.weight)
    meta = json.loads((tmp_path / "mg.json").read_text())
    meta["config"]["heads"] = 8
    (tmp_path / "mg.json").write_text(json.dumps(meta))
    with pytest.raises(HarnessError, match=r"heads=8 \(preset 16\)"):
        load_maskgen(tmp_path / "mg.safetensors", cfg)


def test_tatitok_decoder_round_trip_at_real_widths(clip, tmp_path):
    t = fx.build_tatitok(enc_layers=1, dec_layers=1).eval()
    sd = t.state_dict()
    assert sd["quantize.embedding.weight"].shape == (8192, 64) and sd["latent_tokens"].shape == (128, 768)
    assert sd["decoder.text_guidance_proj.weight"].shape == (1024, 768)
    assert sd["decoder.ffn.0.weight"].shape == (768, 1024, 1, 1)  # 16*16*3 pixels per patch
    path = fx.save_official_state_dict(t, tmp_path / "tatitok_bl128_vq.bin")
    no_prob = {k: v for k, v in t.state_dict().items() if not k.endswith("embed_prob")}  # clustering_vq False
    torch.save(no_prob, tmp_path / "no_embed_prob.bin")
    assert torch.equal(load_tatitok(tmp_path / "no_embed_prob.bin", t.cfg).quantize.embed_prob, torch.zeros(8192))
    loaded = load_tatitok(path, t.cfg)
    tok = MaskGenTokenizer(loaded, clip[0])
    assert isinstance(tok, Tokenizer) and tok.codebook.shape == (8192, 64)
    ids = torch.randint(0, 8192, (1, 128))
    cap = clip[0].tokenize(["a blue square"])
    with torch.no_grad():
        img = tok.decode(ids, cap)
        ref = MaskGenTokenizer(t, clip[0]).decode(ids, cap)
        codes = tok.encode(img.clamp(-1, 1))
    assert img.shape == (1, 3, 256, 256) and torch.equal(img, ref)
    assert codes.shape == (1, 128) and int(codes.max()) < 8192


def test_sampler_reveal_counts_match_the_reference():
    # docs/references/teachers.md §3.4: tokens revealed per step for S = 16 / 8 / 4 / 2 on 128 tokens
    want = {
        16: [6, 5, 5, 5, 5, 6, 5, 6, 6, 7, 6, 8, 8, 9, 13, 28],
        8: [11, 10, 11, 11, 13, 14, 17, 41],
        4: [21, 22, 27, 58],
        2: [43, 85],
    }
    for steps, counts in want.items():
        left, got = 128, []
        for s in range(steps):
            after = 0 if s == steps - 1 else maskgen_mask_len(s, steps, 128, left)
            got.append(left - after)
            left = after
        assert got == counts

    class Dummy:  # a TokenModel returning fixed random logits: exercises the loop cheaply
        num_tokens, codebook_size, mask_id = 128, 8192, 8192

        def __init__(self):
            self.g = torch.Generator().manual_seed(0)
            self.calls = []

        def null_cond(self, cond):
            return torch.zeros_like(cond)

        def __call__(self, tokens, cond):
            self.calls.append(int((tokens[: len(tokens) // 2] == 8192).sum()))
            return torch.randn(tokens.shape[0], 128, 8192, generator=self.g)

    from harness.networks.maskgen import _gumbel

    assert torch.isfinite(_gumbel((1 << 16,), "cpu", torch.Generator().manual_seed(0))).all()
    d = Dummy()
    ids = maskgen_sample(
        d,
        torch.ones(1, 77, dtype=torch.long),
        MaskGenSamplerConfig(steps=8),
        generator=torch.Generator().manual_seed(1),
    )
    assert ids.shape == (1, 128) and int(ids.max()) < 8192
    assert d.calls == [128, 117, 107, 96, 85, 72, 58, 41]  # masked positions seen at each step


def test_guidance_ramp_is_cosine_from_1_to_12():
    from harness.networks.maskgen import maskgen_guidance

    cfg = MaskGenSamplerConfig()
    ws = [maskgen_guidance(s, cfg) for s in range(16)]
    assert ws[-1] == pytest.approx(12.0) and ws[0] == pytest.approx(1 + 11 * (1 - math.cos(math.pi / 16)) / 2)
    assert all(a < b for a, b in zip(ws, ws[1:]))


def test_one_maskgen_sampling_step_with_the_real_network(clip):
    m = fx.build_maskgen(depth=1).eval()
    teacher = MaskGenTeacher(m, clip[0])
    ids = maskgen_sample(
        teacher, clip[0].tokenize(["a dog"]), MaskGenSamplerConfig(steps=1), generator=torch.Generator().manual_seed(0)
    )
    assert ids.shape == (1, 128) and int(ids.max()) < 8192  # one step fills all 128 positions


def test_tied_head_saves_as_a_copy_and_a_different_head_is_refused(tmp_path):
    # one tensor under two names is refused by safetensors (training checkpoints, exports): the copy is not
    from safetensors.torch import save_file

    cfg = MaskGenConfig(embed_dim=64, depth=1, heads=16, codebook_size=64, condition_num_classes=10, num_tokens=8)
    m = MaskGenVQ(cfg)
    sd = m.state_dict()
    assert torch.equal(sd["lm_head.weight"], sd["embeddings.weight"])
    save_file(sd, tmp_path / "m.safetensors")
    sd["lm_head.weight"] = sd["lm_head.weight"] + 1
    torch.save(sd, tmp_path / "untied.bin")
    with pytest.raises(HarnessError, match="lm_head.weight differs from embeddings.weight"):
        load_maskgen(tmp_path / "untied.bin", cfg)
    with pytest.raises(RuntimeError, match="MaskGen ties them"):
        MaskGenVQ(cfg).load_state_dict(sd)


def test_dimo_freezes_maskgen_embeddings_by_their_own_names(maskgen, clip):
    """DiMO's fix_emb_layer names differ per architecture: on MaskGen it must freeze net.embeddings (the tied
    readout with it) and net.pos_embed — a MaskGIT name list would silently freeze nothing."""
    from methods.dimo import freeze_embeddings

    teacher = MaskGenTeacher(copy.deepcopy(maskgen[0]), clip[0])
    frozen = freeze_embeddings(teacher)
    assert set(frozen) == {"net.embeddings.weight", "net.pos_embed"}
    assert not teacher.net.embeddings.weight.requires_grad and teacher.net.blocks[0].norm1.linear.weight.requires_grad
    with pytest.raises(ValueError, match="match no parameter"):
        freeze_embeddings(teacher, ("tok_emb", "pos_emb"))
