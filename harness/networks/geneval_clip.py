"""GenEval's colour classifier network: the full CLIP ViT-L/14 (both towers, QuickGELU) from its official files.

Reads OpenAI's TorchScript `ViT-L-14.pt` or open_clip's `open_clip_pytorch_model.bin` / `.safetensors`
(HF timm/vit_large_patch14_clip_224.openai) through `checkpoints.read_official_clip`, so neither needs
torch.load(weights_only=False) (open_clip >= 2.29 dropped its TorchScript path: mlfoundations/open_clip 84f7d2f).
The model is built from open_clip's own ViT-L-14 config with every shape the file holds read from it
(`infer_config.open_clip_config`), so a reduced fixture and the official file take the same strict path.
QuickGELU always: the OpenAI weights were trained with it and GenEval ran with it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

MODEL_NAME = "ViT-L-14"
WHAT = "CLIP ViT-L/14 (GenEval colour classifier)"


def build_open_clip(cfg: dict) -> nn.Module:
    """open_clip's CLIP for a model config dict (embed_dim, vision_cfg, text_cfg), QuickGELU as OpenAI's."""
    from open_clip.model import CLIP

    return CLIP(embed_dim=cfg["embed_dim"], vision_cfg=cfg["vision_cfg"], text_cfg=cfg["text_cfg"], quick_gelu=True)


def preset_config() -> dict:
    """open_clip's shipped `ViT-L-14.json` (the head counts no tensor shape reveals come from here)."""
    import open_clip

    cfg = open_clip.get_model_config(MODEL_NAME)
    return {
        "name": MODEL_NAME,
        "embed_dim": cfg["embed_dim"],
        "vision_cfg": cfg["vision_cfg"],
        "text_cfg": cfg["text_cfg"],
    }


def load_geneval_clip(path: str | Path, device: str | torch.device = "cpu"):
    """(model, eval transform, tokenizer, config) for GenEval's colour classifier, loaded strictly from `path`."""
    import open_clip
    from open_clip.transform import PreprocessCfg, image_transform_v2

    from harness.networks.checkpoints import check_state_dict, read_official_clip
    from harness.networks.infer_config import open_clip_config

    sd = read_official_clip(Path(path), WHAT)
    cfg = open_clip_config(sd, preset_config(), WHAT)
    with torch.device("meta"):  # no random init of ~430M parameters: the file's tensors are assigned
        model = build_open_clip(cfg)
    expected = model.state_dict()
    check_state_dict(expected, sd, f"{WHAT} checkpoint {Path(path).name}")
    model.load_state_dict({k: sd[k].to(expected[k].dtype) for k in expected}, strict=True, assign=True)
    # the causal text mask is a non-persistent buffer: rebuilt, as open_clip's text tower builds it
    n = cfg["text_cfg"]["context_length"]
    model.attn_mask = torch.full((n, n), float("-inf")).triu_(1)
    left = [k for k, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:
        raise RuntimeError(f"{WHAT}: tensors not restored after loading: {left[:4]}")
    # open_clip's defaults are the 'openai' tag's: OpenAI mean/std, bicubic resize of the short side, centre crop
    transform = image_transform_v2(PreprocessCfg(size=cfg["vision_cfg"]["image_size"]), is_train=False)
    tokenizer = open_clip.get_tokenizer(MODEL_NAME, context_length=n)
    return model.to(device).eval(), transform, tokenizer, cfg
