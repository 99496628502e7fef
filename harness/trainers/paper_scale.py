"""Paper-scale wiring for the distillers: official networks, conditions and real images.

Networks come from `harness.networks.checkpoints.load_task_networks` (strict loaders, files from
the preset's weights folder; `harness doctor --task imagenet|t2i`). Conditions: ImageNet class
labels (sample seed s -> class s mod 1000, uniform); t2i captions (`FPD_T2I_PROMPTS`), tokenised for
CLIP: a caption file (one per line, or JSON Lines with a "caption"/"prompt"/"text" field) or any
`harness.data_sources` source with a caption column (a LAION subset as parquet, a `save_to_disk`
folder, a dataset id in the HF cache); the paper used 400K LAION captions, the default cap here.
Real images (GAN only, `FPD_REAL_IMAGES`, else ImageNet's train split from the HF cache for the
`imagenet` task): an image folder or any `datasets` source, streamed, a pool of n kept as uint8.
Unverified here: nothing in this file has run with the official weights or real data (no GPU, no downloads).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import torch

from harness.data_sources import IMAGENET_TRAIN
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

    dino = DinoFeatureConfig(
        blocks=tuple(cfg.blocks),
        grid=cfg.grid or 4,
        global_pool=cfg.grid == 0,
        token_norm=getattr(cfg, "token_norm", False),
    )
    nets = load_task_networks(cfg.task, device=_device(), configs={"dinov3": dino})
    return (
        nets["tokenizer"].eval().requires_grad_(False),
        nets["teacher"].eval().requires_grad_(False),
        nets["backbone"].eval(),
    )


CAPTION_HINT = (
    f"set {PROMPTS_ENV} to a caption file (one per line, or JSONL with a 'caption' field), a parquet "
    "file or `datasets` folder with a caption column, or a dataset id in the HF cache (a LAION-Aesthetics "
    "subset, as the paper's 400K captions; `huggingface-cli download --repo-type dataset <id>`)"
)
MAX_CAPTIONS_ENV = "FPD_T2I_MAX_CAPTIONS"  # default 400,000: the paper's LAION subset size


def _prompts() -> tuple[str, ...]:
    spec = os.environ.get(PROMPTS_ENV)
    if not spec:
        raise HarnessError(f"t2i needs captions: {CAPTION_HINT}")
    return _load_prompts(spec, int(os.environ.get(MAX_CAPTIONS_ENV, 400_000)))


@lru_cache(maxsize=4)
def _load_prompts(spec: str, limit: int) -> tuple[str, ...]:
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix not in (".parquet", ".arrow"):
        out = _caption_file(path)
    else:  # a `datasets` source: only the caption column is streamed, up to `limit` captions
        from itertools import islice

        from harness.data_sources import iter_captions

        out = list(islice(iter_captions(spec, f"{PROMPTS_ENV}={spec}", CAPTION_HINT), limit))
    if not out:
        raise HarnessError(f"{spec} has no captions; {CAPTION_HINT}")
    return tuple(out)


def _caption_file(path: Path) -> list[str]:
    out = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
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
    return out


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


REAL_DEFAULT = {"imagenet": IMAGENET_TRAIN}  # t2i: the LAION images are the user's own export


def _real_source(task: str) -> tuple[str, str, str]:
    """(source, what it is, hint) of the GAN's real images for a task."""
    spec = os.environ.get(REAL_ENV) or REAL_DEFAULT.get(task)
    hint = (
        f"set {REAL_ENV} to an image folder, a parquet file or `datasets` folder with an image column, or a dataset id"
    )
    if not spec:
        raise HarnessError(f"the GAN needs real images: {hint} (for t2i: the LAION subset's images)")
    if task == "imagenet":
        hint += f" (ImageNet train: {IMAGENET_TRAIN}, gated; accept its terms on the Hub first)"
    what = f"{REAL_ENV}={spec}" if os.environ.get(REAL_ENV) else f"the GAN's real images ({REAL_ENV} unset: {spec})"
    return spec, what, hint


def check_data(task: str, gan: bool = False) -> None:
    """Find a paper task's captions and (with the GAN) real images before any network is loaded."""
    if task == "t2i":
        _prompts()
    if gan:
        from harness.data_sources import image_column, open_train_split

        spec, what, hint = _real_source(task)
        image_column(open_train_split(spec, what, hint), what, spec)


class ImagePool:
    """n real images kept as uint8 (a quarter of float32's memory); indexing gives float [-1, 1] [B, 3, H, W]."""

    def __init__(self, images_u8: torch.Tensor):
        self.images = images_u8

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx) -> torch.Tensor:
        return self.images[idx].float() / 127.5 - 1.0


def real_images(n: int = 10_000, size: int = 256, task: str = "imagenet") -> ImagePool:
    """Up to n real images (GAN only), streamed from the task's source: resized and centre-cropped to size."""
    from itertools import islice

    from torchvision.transforms import functional as TF

    from harness.data_sources import iter_images

    spec, what, hint = _real_source(task)
    imgs = [
        TF.pil_to_tensor(TF.center_crop(TF.resize(im.convert("RGB"), size), size))  # MaskGIT test transform
        for im in islice(iter_images(spec, what, hint), n)
    ]
    if not imgs:
        raise HarnessError(f"{spec} holds no images; {hint}")
    return ImagePool(torch.stack(imgs))
