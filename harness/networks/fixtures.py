"""Random-weight stand-ins for the official files, written in the OFFICIAL formats and key names.

Used by the tests (strict loaders, conversion) and to make a fixture weights folder on which
`harness doctor` passes. Nothing here is a trained model: every tensor is random.
`reduced=True` (the default of the fixture folder) keeps every token shape, vocabulary and image size
but uses shallow, narrow networks (`REDUCED`), small enough for every paper-scale command to run on a
CPU in seconds. The loaders read those shapes back from the files (harness/networks/infer_config.py),
so a reduced folder goes through the same strict path as the official one.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch
from torch import nn

from harness.io import save_torch, write_bytes

# ----------------------------------------------------------------------------------------------
# reduced configurations: widths divisible by the preset head counts (16 MaskGIT / MaskGen, 12 CLIP,
# 12 / 16 TA-TiTok encoder / decoder), which no file records; GroupNorm(32) bounds the VQGAN width
# ----------------------------------------------------------------------------------------------


def reduced_config(kind: str):
    """The shallow, narrow configuration a reduced fixture of `kind` is written with."""
    if kind == "geneval_clip":  # open_clip's ViT-L-14 layout: patch 14 at 224 px, 77 tokens, the full vocabulary
        from harness.networks.geneval_clip import preset_config

        cfg = preset_config()
        # vision width a multiple of open_clip's head width 64, text width of the preset's 12 text heads
        return {
            **cfg,
            "embed_dim": 32,
            "vision_cfg": {**cfg["vision_cfg"], "width": 64, "layers": 1},
            "text_cfg": {**cfg["text_cfg"], "width": 48, "layers": 1},
        }
    from harness.networks.maskgen import ClipTextConfig, MaskGenConfig, TATiTokConfig
    from harness.networks.maskgit_v1 import MaskGITConfig
    from harness.networks.vqgan_taming import VQGANConfig

    clip_width = 48  # the MaskGen and TA-TiTok text inputs follow the CLIP width
    return {
        "maskgit_transformer": MaskGITConfig(hidden_dim=64, mlp_dim=128, depth=2),
        "vqgan": VQGANConfig(ch=32, num_res_blocks=1, z_channels=64, embed_dim=64),
        "clip_text": ClipTextConfig(width=clip_width, embed_dim=clip_width, layers=2),
        "maskgen": MaskGenConfig(embed_dim=64, depth=2, text_embed_dim=clip_width),
        "tatitok": TATiTokConfig(enc_width=48, enc_layers=1, dec_width=64, dec_layers=1, text_embed_dim=clip_width),
    }[kind]


# ----------------------------------------------------------------------------------------------
# builders (real configuration unless told otherwise)
# ----------------------------------------------------------------------------------------------


def build_maskgit(depth: int | None = None, seed: int = 0, config=None, **overrides):
    from harness.networks.maskgit_v1 import MaskGITConfig, MaskGITTransformer

    cfg = config or MaskGITConfig()
    cfg = dataclasses.replace(cfg, depth=depth or cfg.depth, **overrides)
    torch.manual_seed(seed)
    m = MaskGITTransformer(cfg)
    with torch.no_grad():  # the official init leaves bias at 0; random values exercise the head
        m.bias.normal_(0, 0.02)
    return m


def build_vqgan(ch: int | None = None, seed: int = 0, config=None):
    from harness.networks.vqgan_taming import TamingVQGAN, VQGANConfig

    cfg = config or VQGANConfig()
    if ch is not None:
        cfg = dataclasses.replace(cfg, ch=ch)
    torch.manual_seed(seed)
    return TamingVQGAN(cfg)


def build_tatitok(enc_layers: int | None = None, dec_layers: int | None = None, seed: int = 0, config=None):
    from harness.networks.maskgen import TATiTok, TATiTokConfig

    cfg = config or TATiTokConfig()
    torch.manual_seed(seed)
    return TATiTok(
        dataclasses.replace(cfg, enc_layers=enc_layers or cfg.enc_layers, dec_layers=dec_layers or cfg.dec_layers)
    )


def build_maskgen(depth: int | None = None, seed: int = 0, config=None):
    from harness.networks.maskgen import MaskGenConfig, MaskGenVQ

    cfg = config or MaskGenConfig()
    torch.manual_seed(seed)
    m = MaskGenVQ(dataclasses.replace(cfg, depth=depth or cfg.depth))
    with torch.no_grad():  # the official init zeroes AdaLN linears; random values exercise them
        for mod in m.modules():
            if isinstance(mod, nn.Linear):
                mod.weight.normal_(0, 0.02)
    return m


def build_geneval_clip(seed: int = 0, config: dict | None = None):
    """open_clip's full CLIP (both towers, QuickGELU) at the ViT-L-14 configuration unless told otherwise."""
    from harness.networks.geneval_clip import build_open_clip, preset_config

    torch.manual_seed(seed)
    return build_open_clip(config or preset_config())


def build_clip_text(layers: int | None = None, seed: int = 0, config=None):
    from harness.networks.maskgen import ClipTextConfig, ClipTextEncoder

    cfg = config or ClipTextConfig()
    torch.manual_seed(seed)
    return ClipTextEncoder(dataclasses.replace(cfg, layers=layers or cfg.layers))


# ----------------------------------------------------------------------------------------------
# official-format writers
# ----------------------------------------------------------------------------------------------


def _cpu(sd: dict) -> dict:
    return {k: v.detach().cpu() for k, v in sd.items()}


def save_official_maskgit(model, path: str | Path) -> Path:
    """MaskGIT-pytorch `Trainer/trainer.py::save_network` layout."""
    obj = {"iter": 0, "global_epoch": 300, "model_state_dict": _cpu(model.state_dict()), "optimizer_state_dict": {}}
    save_torch(path, obj)
    return Path(path)


def save_official_vqgan(model, path: str | Path, *, with_yaml: bool = True) -> Path:
    """Lightning `last.ckpt` ('state_dict' + training-only `loss.*` keys) and taming `model.yaml`."""
    sd = _cpu(model.state_dict())
    sd["loss.discriminator.main.0.weight"] = torch.randn(64, 3, 4, 4)  # stands for the GAN/LPIPS keys
    sd["loss.perceptual_loss.lin0.model.1.weight"] = torch.randn(1, 64, 1, 1)
    save_torch(path, {"epoch": 0, "global_step": 0, "state_dict": sd})
    if with_yaml:
        write_bytes(Path(path).parent / "model.yaml", vqgan_yaml_text(model.cfg).encode())
    return Path(path)


def vqgan_yaml_text(c) -> str:
    """taming `model.yaml` for a VQGANConfig (the layout `check_vqgan_yaml` reads)."""
    dd = {
        "double_z": False,
        "z_channels": c.z_channels,
        "resolution": c.resolution,
        "in_channels": c.in_channels,
        "out_ch": c.out_ch,
        "ch": c.ch,
        "ch_mult": list(c.ch_mult),
        "num_res_blocks": c.num_res_blocks,
        "attn_resolutions": list(c.attn_resolutions),
        "dropout": c.dropout,
    }
    return _yaml(
        {
            "model": {
                "base_learning_rate": 4.5e-06,
                "target": "taming.models.vqgan.VQModel",
                "params": {
                    "embed_dim": c.embed_dim,
                    "n_embed": c.n_embed,
                    "ddconfig": dd,
                    "lossconfig": {"target": "taming.modules.losses.vqperceptual.DummyLoss"},
                },
            }
        }
    )


def _yaml(obj, indent: int = 0) -> str:
    """Tiny YAML writer for nested dicts of scalars / lists (JSON scalars are valid YAML)."""
    lines = []
    for k, v in obj.items():
        if isinstance(v, dict):
            lines.append(" " * indent + f"{k}:")
            lines.append(_yaml(v, indent + 2))
        else:
            lines.append(" " * indent + f"{k}: {json.dumps(v)}")
    return "\n".join(lines) + ("\n" if indent == 0 else "")


def save_official_state_dict(model: nn.Module, path: str | Path) -> Path:
    """Plain torch.save(state_dict) (`tatitok_bl128_vq.bin`, `maskgen_vq_l.bin`)."""
    save_torch(path, _cpu(model.state_dict()))
    return Path(path)


def save_official_clip(model, path: str | Path) -> Path:
    """open_clip checkpoint layout: text tower at the top level (+ a stand-in visual key, skipped on load)."""
    sd = _cpu(model.text.state_dict())
    sd["visual.proj"] = torch.randn(4, 4)
    sd["logit_scale"] = torch.tensor(4.6052)
    save_torch(path, sd)
    return Path(path)


def save_hf_dino(folder: str | Path, *, small: bool = True, seed: int = 0) -> Path:
    """A transformers DINOv3ViTModel folder (config.json + model.safetensors) with random weights."""
    from transformers import DINOv3ViTConfig, DINOv3ViTModel

    from harness.networks.dinov3 import dinov3_vitb16_config

    cfg = (
        DINOv3ViTConfig(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=12,
            num_attention_heads=4,
            num_register_tokens=4,
            patch_size=16,
        )
        if small
        else dinov3_vitb16_config()
    )
    torch.manual_seed(seed)
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    DINOv3ViTModel(cfg).save_pretrained(str(folder))
    return folder


def save_fidelity_inception(path: str | Path, seed: int = 0) -> Path:
    """torch-fidelity's `inception-v3-compat` state dict (the official .pth layout) with random weights."""
    from unittest import mock

    import torch_fidelity.feature_extractor_inceptionv3 as fi

    torch.manual_seed(seed)
    # the constructor insists on loading weights (downloading them without a path): skip that step only
    with (
        mock.patch.object(fi.FeatureExtractorInceptionV3, "load_state_dict"),
        mock.patch.object(fi, "load_state_dict_from_url", return_value={}),
    ):
        net = fi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"])
    save_torch(path, _cpu(net.state_dict()))
    return Path(path)


def save_adm_ref_batch(path: str | Path, n: int = 8, size: int = 256, dim: int = 2048, seed: int = 0) -> Path:
    """An ADM reference batch in its npz layout: `arr_0` uint8 [n, size, size, 3] random images (precision /
    recall reals) and stored FID statistics `mu`, `sigma` (zeros and the identity: full rank, so the
    Frechet distance needs no singular-matrix retry)."""
    import io

    import numpy as np

    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    np.savez(
        buf,
        arr_0=rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
        mu=np.zeros(dim, np.float32),
        sigma=np.eye(dim, dtype=np.float32),
    )
    write_bytes(path, buf.getvalue())
    return Path(path)


# GenEval fixture: one prompt of each tag, all about the class the random detector is biased to find, so that
# detections clear GenEval's 0.3 threshold and the colour rules (CLIP) run on a fixture folder.
GENEVAL_FIXTURE_CLASS = "car"
GENEVAL_FIXTURE_PROMPTS = (
    {"tag": "single_object", "include": [{"class": "car", "count": 1}], "prompt": "a photo of a car"},
    {
        "tag": "two_object",
        "include": [{"class": "car", "count": 1}, {"class": "dog", "count": 1}],
        "prompt": "a photo of a car and a dog",
    },
    {
        "tag": "counting",
        "include": [{"class": "car", "count": 2}],
        "exclude": [{"class": "car", "count": 3}],
        "prompt": "a photo of two cars",
    },
    {"tag": "colors", "include": [{"class": "car", "count": 1, "color": "red"}], "prompt": "a photo of a red car"},
    {
        "tag": "position",
        "include": [{"class": "dog", "count": 1}, {"class": "car", "count": 1, "position": ["left of", 0]}],
        "prompt": "a photo of a car left of a dog",
    },
    {
        "tag": "color_attr",
        "include": [{"class": "car", "count": 1, "color": "blue"}, {"class": "dog", "count": 1, "color": "yellow"}],
        "prompt": "a photo of a blue car and a yellow dog",
    },
)


def save_geneval_metadata(path: str | Path, prompts=GENEVAL_FIXTURE_PROMPTS) -> Path:
    """GenEval's `evaluation_metadata.jsonl` layout: one JSON object per line, line i = prompt i."""
    write_bytes(path, "".join(json.dumps(p) + "\n" for p in prompts).encode())
    return Path(path)


def save_hf_mask2former(folder: str | Path, *, seed: int = 0, biased: bool = True) -> Path:
    """A transformers Mask2Former COCO-instance folder (config.json, preprocessor_config.json, model.safetensors):
    a tiny Swin backbone and decoder, random weights, the 80 COCO labels in order. With `biased` the class head
    favours GENEVAL_FIXTURE_CLASS (so random queries clear GenEval's threshold); everything else is as initialised."""
    from transformers import (
        Mask2FormerConfig,
        Mask2FormerForUniversalSegmentation,
        Mask2FormerImageProcessor,
        SwinConfig,
    )

    from evaluators.detectors import GENEVAL_CLASSES

    names = list(GENEVAL_CLASSES)
    names[64:67] = ["mouse", "remote", "keyboard"]  # COCO's own spellings, as the official label maps have them
    backbone = SwinConfig(
        embed_dim=8,
        depths=[1, 1, 1, 1],
        num_heads=[1, 1, 1, 1],
        window_size=4,
        out_features=["stage1", "stage2", "stage3", "stage4"],
    )
    cfg = Mask2FormerConfig(
        backbone_config=backbone,
        feature_size=32,
        mask_feature_size=32,
        hidden_dim=32,
        encoder_feedforward_dim=32,
        encoder_layers=1,
        decoder_layers=2,
        num_attention_heads=2,
        dim_feedforward=32,
        num_queries=10,
        id2label=dict(enumerate(names)),
        label2id={n: i for i, n in enumerate(names)},
    )
    torch.manual_seed(seed)
    model = Mask2FormerForUniversalSegmentation(cfg)
    if biased:
        with torch.no_grad():
            model.class_predictor.bias[GENEVAL_CLASSES.index(GENEVAL_FIXTURE_CLASS)] += 10.0
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    Mask2FormerImageProcessor().save_pretrained(str(folder))
    return folder


def build_timm_feature_net(name: str, reduced: bool = True, seed: int = 0):
    """A random timm GAN feature network (projected discriminator). Reduced: a 10-class classifier and, for DeiT,
    width 48 (12 heads of 4); the 12 blocks stay, the discriminator reads blocks 2/5/8/11. The loader reads these
    shapes back from the file (harness/networks/projected_disc.py)."""
    import timm

    kw = {}
    if reduced:
        kw = {"num_classes": 10} | ({"embed_dim": 48} if name.startswith("deit") else {})
    torch.manual_seed(seed)
    return timm.create_model(name, pretrained=False, **kw)


def save_timm_safetensors(model: nn.Module, path: str | Path) -> Path:
    """The timm hub layout (`model.safetensors`: the plain state_dict)."""
    from safetensors.torch import save

    write_bytes(path, save({k: v.contiguous() for k, v in _cpu(model.state_dict()).items()}))
    return Path(path)


def write_standin(path: str | Path, name: str) -> Path:
    """A clearly marked placeholder for optional files the harness does not build (mmdet's checkpoint)."""
    write_bytes(path, f"FPD harness test fixture standing in for {name}; NOT the real file\n".encode())
    return Path(path)


# ----------------------------------------------------------------------------------------------
# a whole fixture weights folder
# ----------------------------------------------------------------------------------------------


_BUILT = ("maskgit_transformer", "vqgan", "tatitok", "maskgen", "clip_text", "geneval_clip")
# optional, but written by default: `--set gan=true` loads them, and reduced they are small
_GAN_NETS = {"timm_deit": "deit_base_distilled_patch16_224", "timm_effnet": "tf_efficientnet_lite0"}


def write_fixtures(
    task: str, weights_dir: str | Path, *, reduced: bool = True, include_optional: bool = False
) -> list[Path]:
    """Write every required file of preset `task`, and the GAN's feature networks, under `weights_dir`
    (random weights, official formats); `include_optional` adds stand-ins for the other optional files."""
    from harness.presets import get_preset

    root = Path(weights_dir)
    written = []
    for wf in get_preset(task).weights:
        if wf.optional and not include_optional and wf.fixture not in _GAN_NETS:
            continue
        dst = root / wf.relpath
        dst.parent.mkdir(parents=True, exist_ok=True)
        cfg = reduced_config(wf.fixture) if reduced and wf.fixture in _BUILT else None
        if wf.fixture == "maskgit_transformer":
            written.append(save_official_maskgit(build_maskgit(config=cfg), dst))
        elif wf.fixture == "vqgan":
            written.append(save_official_vqgan(build_vqgan(config=cfg), dst, with_yaml=False))
        elif wf.fixture == "vqgan_yaml":
            from harness.networks.vqgan_taming import VQGANConfig

            write_bytes(dst, vqgan_yaml_text(reduced_config("vqgan") if reduced else VQGANConfig()).encode())
            written.append(dst)
        elif wf.fixture == "tatitok":
            written.append(save_official_state_dict(build_tatitok(config=cfg), dst))
        elif wf.fixture == "maskgen":
            written.append(save_official_state_dict(build_maskgen(config=cfg), dst))
        elif wf.fixture == "clip_text":
            written.append(save_official_clip(build_clip_text(config=cfg), dst))
        elif wf.fixture == "inception":
            written.append(save_fidelity_inception(dst))
        elif wf.fixture == "adm_ref_batch":
            written.append(save_adm_ref_batch(dst))
        elif wf.fixture == "dinov3_dir":
            written.append(save_hf_dino(dst, small=reduced))
        elif wf.fixture == "geneval_clip":  # open_clip layout: the full CLIP state dict (open_clip_pytorch_model.bin)
            written.append(save_official_state_dict(build_geneval_clip(config=cfg), dst))
        elif wf.fixture == "mask2former_hf":
            written.append(save_hf_mask2former(dst))
        elif wf.fixture == "geneval_metadata":
            written.append(save_geneval_metadata(dst))
        elif wf.fixture in _GAN_NETS:
            written.append(save_timm_safetensors(build_timm_feature_net(_GAN_NETS[wf.fixture], reduced), dst))
        else:
            written.append(write_standin(dst, wf.description))
    return written


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(
        description="Write random-weight stand-ins of a task's weight files "
        "(official formats; NOT trained weights), e.g. to try `harness doctor`."
    )
    ap.add_argument("task", help="imagenet or t2i")
    ap.add_argument("weights_dir", help="folder to write into")
    ap.add_argument(
        "--full", action="store_true", help="paper-scale configurations instead of shallow, narrow networks"
    )
    args = ap.parse_args()
    for p in write_fixtures(args.task, args.weights_dir, reduced=not args.full):
        print(p)
