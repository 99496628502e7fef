"""Paper-scale wiring for the distillers: official networks, conditions and real images.

Networks come from `harness.networks.checkpoints.load_task_networks` (strict loaders, files from
the preset's weights folder; `harness doctor --task imagenet|t2i`). Conditions: ImageNet class
labels (sample seed s -> class s mod 1000, uniform); t2i captions from a local prompt file
(`FPD_T2I_PROMPTS`: one caption per line, or JSON Lines with a "caption"/"prompt"/"text" field,
e.g. an exported LAION-aesthetics subset), tokenised for CLIP. Real images (GAN only) come from
a local image folder (`FPD_REAL_IMAGES`) through `datasets`' imagefolder loader.
Unverified here: nothing in this file has run with the official weights (no GPU, no downloads).
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import torch

from harness.errors import HarnessError

PROMPTS_ENV, REAL_ENV = "FPD_T2I_PROMPTS", "FPD_REAL_IMAGES"


def _device() -> torch.device:
    from harness import distributed as D
    return D.device()


def paper_networks(task: str):
    """(teacher, tokenizer) frozen, for sampling and DiMO (no drift backbone)."""
    from harness.networks.checkpoints import load_task_networks
    nets = load_task_networks(task, device=_device(), backbone=False)
    return nets["teacher"].eval().requires_grad_(False), nets["tokenizer"].eval().requires_grad_(False)


def build_paper_scale(cfg):
    """(tokenizer, teacher, backbone) for an FPD / DiMO config at paper scale."""
    from harness.networks.checkpoints import load_task_networks
    from harness.networks.dinov3 import DinoFeatureConfig
    dino = DinoFeatureConfig(blocks=tuple(cfg.blocks), grid=cfg.grid or 4, global_pool=cfg.grid == 0,
                             token_norm=getattr(cfg, "token_norm", False))
    nets = load_task_networks(cfg.task, device=_device(), configs={"dinov3": dino})
    return (nets["tokenizer"].eval().requires_grad_(False), nets["teacher"].eval().requires_grad_(False),
            nets["backbone"].eval())


@lru_cache(maxsize=1)
def _prompts() -> tuple[str, ...]:
    path = os.environ.get(PROMPTS_ENV)
    if not path or not Path(path).is_file():
        raise HarnessError(f"set {PROMPTS_ENV} to a local caption file (one per line, or JSONL with a 'caption' field)")
    out = []
    for i, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise HarnessError(f"{path}:{i}: malformed JSON ({e.msg})") from None
            line = next((row[k] for k in ("caption", "prompt", "text") if k in row), "")
        if line:
            out.append(line)
    if not out:
        raise HarnessError(f"{path} has no prompts; add one caption per line")
    return tuple(out)


def tokenize_prompts(captions: list[str]) -> torch.Tensor:
    """Captions -> the t2i networks' text condition: CLIP BPE ids [B, 77] (CPU; generators move them).

    The one place captions become conditions: training, sample grids and the GenEval suite all come here."""
    from harness.networks.maskgen import ClipTextConfig, clip_tokenize
    return clip_tokenize(captions, ClipTextConfig().model_name)


def conditions(task: str, teacher, seeds: list[int]) -> torch.Tensor:
    """Per-sample conditions from each sample's own seed."""
    if task == "imagenet":
        return torch.tensor([s % 1000 for s in seeds], device=_device())
    prompts = _prompts()
    return tokenize_prompts([prompts[s % len(prompts)] for s in seeds]).to(_device())


def grid_conditions(task: str, n_rows: int) -> tuple[torch.Tensor, list[str]]:
    """Sample-grid rows: ImageNet classes spread over 0..999, or the first captions of the prompt file."""
    if task == "imagenet":
        labels = [round(i * 999 / max(1, n_rows - 1)) for i in range(n_rows)]
        return torch.tensor(labels), [f"class {c}" for c in labels]
    prompts = _prompts()
    caps = [prompts[i % len(prompts)] for i in range(n_rows)]
    return tokenize_prompts(caps), [c[:40] for c in caps]


def real_images(n: int = 10_000, size: int = 256) -> torch.Tensor:
    """Up to n real images in [-1, 1] from the local folder FPD_REAL_IMAGES (GAN only)."""
    folder = os.environ.get(REAL_ENV)
    if not folder or not Path(folder).is_dir():
        raise HarnessError(f"the GAN needs real images: set {REAL_ENV} to a local image folder")
    from datasets import load_dataset
    from torchvision.transforms import functional as TF
    ds = load_dataset("imagefolder", data_dir=folder, split="train")
    if len(ds) == 0:
        raise HarnessError(f"{folder} holds no images")
    imgs = []
    for row in ds.select(range(min(n, len(ds)))):
        im = TF.center_crop(TF.resize(row["image"].convert("RGB"), size), size)  # MaskGIT test transform
        imgs.append(TF.to_tensor(im) * 2 - 1)
    return torch.stack(imgs)
