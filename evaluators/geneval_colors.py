"""GenEval's colour classifier: zero-shot CLIP ViT-L/14 (OpenAI weights) on grey-masked crops.

As djghosh13/geneval `evaluation/evaluate_images.py` (`evaluate`): per class, a clip_benchmark
zero-shot classifier over the 10 GenEval colours with three templates (per-template text
embeddings L2-normalised, averaged, re-normalised); each object is composited over a solid
#999 image through its instance mask, cropped to its box, passed through the open_clip eval
transform, and assigned the argmax colour.

open_clip >= 2.29 builds ViT-L-14 with GELU even for OpenAI weights (mlfoundations/open_clip 84f7d2f);
GenEval ran with QuickGELU, so `force_quick_gelu=True` always (the OpenAI weights were trained
with it). Weights load from a local file only (`pretrained=<path>`, an open_clip state dict); nothing
downloads. OpenAI's TorchScript `ViT-L-14.pt`, which open_clip's weights_only loading refuses, is read by
the harness (harness.networks.geneval_clip) and handed over with `ColorClassifier.from_model`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from evaluators.errors import MissingWeights
from evaluators.geneval import COLORS

TEMPLATES: tuple[str, ...] = (
    "a photo of a {c} {classname}",
    "a photo of a {c}-colored {classname}",
    "a photo of a {c} object",
)
BGCOLOR = "#999"
ENV_VAR = "FPD_CLIP_VITL14_WEIGHTS"
# open_clip pretrained.py _VITL14["openai"]: the HF hub copy (open_clip state dict) and the URL.
HF_REPO = "timm/vit_large_patch14_clip_224.openai"
HF_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


def to_pil(image) -> Image.Image:
    """PIL image, uint8 HWC numpy array or uint8 [3,H,W] tensor -> RGB PIL image."""
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, torch.Tensor):
        if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] != 3:
            raise ValueError(f"tensor image must be uint8 [3, H, W], got {image.dtype} {tuple(image.shape)}")
        image = image.permute(1, 2, 0).cpu().numpy()
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"array image must be uint8 [H, W, 3], got {arr.dtype} {arr.shape}")
    return Image.fromarray(arr, "RGB")


def color_crop(
    image: Image.Image, box: Sequence[float], mask=None, bgcolor: str = BGCOLOR, crop: bool = True
) -> Image.Image:
    """The official `ImageCrops` item before the CLIP transform.

    The object (mask True) is kept, everything else becomes `bgcolor` (#999 grey; "original"
    keeps the image), then the image is cropped to box[:4] with PIL's crop (it rounds floats).
    """
    image = image.convert("RGB")
    if mask is not None:
        m = mask.cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
        if m.shape != (image.height, image.width):
            raise ValueError(
                f"mask shape {m.shape} differs from image size {(image.height, image.width)}; "
                "masks must be at the original image resolution"
            )
        blank = image.copy() if bgcolor == "original" else Image.new("RGB", image.size, color=bgcolor)
        image = Image.composite(image, blank, Image.fromarray(m.astype(bool)))
    if crop:
        image = image.crop(tuple(float(v) for v in box[:4]))
    return image


def find_clip_weights(path: str | os.PathLike | None = None) -> Path:
    """Explicit path, then $FPD_CLIP_VITL14_WEIGHTS, then the HF hub cache (no download)."""
    for src, p in (("path", path), (f"${ENV_VAR}", os.environ.get(ENV_VAR))):
        if p:
            f = Path(p).expanduser()
            if not f.is_file():
                raise MissingWeights(
                    "CLIP ViT-L/14 (GenEval colour classifier)",
                    HF_FILES[0],
                    f"https://huggingface.co/{HF_REPO}",
                    f"{src} {str(f)!r} is not a file",
                )
            return f
    try:
        from huggingface_hub import try_to_load_from_cache

        for name in HF_FILES:
            hit = try_to_load_from_cache(HF_REPO, name)
            if isinstance(hit, str) and os.path.isfile(hit):
                return Path(hit)
    except ImportError:  # pragma: no cover - huggingface_hub ships with transformers
        pass
    raise MissingWeights(
        "CLIP ViT-L/14 (GenEval colour classifier)",
        HF_FILES[0],
        f"https://huggingface.co/{HF_REPO}",
        f"(open_clip's ViT-L-14 'openai' state dict), or set ${ENV_VAR} to it",
    )


class ColorClassifier:
    """Classify detected objects' colours as GenEval does. Build once, reuse across images."""

    name = "geneval-clip-vit-l-14-openai-quickgelu"

    def __init__(
        self,
        weights_path: str | os.PathLike | None = None,
        device: str | torch.device = "cpu",
        model_name: str = "ViT-L-14",
        amp: bool = True,
        bgcolor: str = BGCOLOR,
        crop: bool = True,
        batch_size: int = 16,
    ) -> None:
        path = find_clip_weights(weights_path)  # fail fast, before the heavy import
        import open_clip

        model, _, transform = open_clip.create_model_and_transforms(
            model_name, pretrained=str(path), device=torch.device(device), force_quick_gelu=True
        )
        self._setup(model, transform, open_clip.get_tokenizer(model_name), device, amp, bgcolor, crop, batch_size)

    @classmethod
    def from_model(
        cls,
        model,
        transform,
        tokenizer,
        device: str | torch.device = "cpu",
        amp: bool = True,
        bgcolor: str = BGCOLOR,
        crop: bool = True,
        batch_size: int = 16,
    ) -> "ColorClassifier":
        """A classifier on an already loaded CLIP (`encode_image`, `encode_text`), its eval transform and tokenizer:
        the harness loads OpenAI's TorchScript archive and reduced fixtures itself (harness.networks.geneval_clip)."""
        self = cls.__new__(cls)
        self._setup(model, transform, tokenizer, device, amp, bgcolor, crop, batch_size)
        return self

    def _setup(self, model, transform, tokenizer, device, amp, bgcolor, crop, batch_size) -> None:
        self.device = torch.device(device)
        self.model, self.transform, self.tokenizer = model.eval(), transform, tokenizer
        # clip_benchmark default amp=True: fp16 autocast on CUDA (a no-op on CPU).
        self.amp = amp and self.device.type == "cuda"
        self.bgcolor, self.crop, self.batch_size = bgcolor, crop, batch_size
        self._classifiers: dict[str, torch.Tensor] = {}
        self.classified = 0  # objects whose colour was classified (recorded with the suite's results)

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.float16, enabled=self.amp)

    @torch.no_grad()
    def text_classifier(self, classname: str) -> torch.Tensor:
        """[D, 10] zero-shot weights for `classname` (clip_benchmark zero_shot_classifier)."""
        if classname not in self._classifiers:
            columns = []
            with self._autocast():
                for c in COLORS:
                    texts = self.tokenizer([t.format(c=c, classname=classname) for t in TEMPLATES]).to(self.device)
                    emb = F.normalize(self.model.encode_text(texts), dim=-1).mean(dim=0)
                    columns.append(emb / emb.norm())
            self._classifiers[classname] = torch.stack(columns, dim=1)
        return self._classifiers[classname]

    @torch.no_grad()
    def classify(self, image, objects: Sequence[tuple[Sequence[float], object]], classname: str) -> list[str]:
        """Colour names for (box, mask) objects of one class in one image."""
        if not objects:
            return []
        pil = to_pil(image)
        clf = self.text_classifier(classname)
        crops = [self.transform(color_crop(pil, box, mask, self.bgcolor, self.crop)) for box, mask in objects]
        preds = []
        for i in range(0, len(crops), self.batch_size):
            batch = torch.stack(crops[i : i + self.batch_size]).to(self.device)
            with self._autocast():
                feats = F.normalize(self.model.encode_image(batch), dim=-1)
                logits = 100.0 * feats @ clf
            preds += logits.argmax(dim=1).tolist()
        self.classified += len(preds)
        return [COLORS[i] for i in preds]

    def annotate(self, image, detections: Sequence[dict], indices: Sequence[int]) -> None:
        """Set 'color' on detections[i] for i in `indices` (see geneval.objects_needing_color)."""
        by_class: dict[str, list[int]] = {}
        for i in indices:
            by_class.setdefault(detections[i]["class"], []).append(i)
        for cls, idx in by_class.items():
            objs = [(detections[i]["box"], detections[i].get("mask")) for i in idx]
            for i, color in zip(idx, self.classify(image, objs, cls)):
                detections[i]["color"] = color
