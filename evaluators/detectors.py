"""GenEval detector backends: one interface, a registry, Mask2Former via transformers, and mmdet.

A backend turns images into per-image lists of detections
{"class": str, "box": [x1, y1, x2, y2] pixels, "score": float, "mask": bool [H, W] numpy}
at the original image resolution, unfiltered (GenEval's own threshold / 16-cap filtering is
in evaluators.geneval). Class names are GenEval's (evaluation/object_names.txt order).

Backends: "mask2former-hf" (transformers, no mmcv build; NOT GenEval's weights),
"mmdet" (the reference, optional extra), and "shapes-exact" registered from
evaluators/shapes_detector.py.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F

from evaluators.errors import EvaluatorError, MissingWeights

# GenEval evaluation/object_names.txt: COCO-80 in contiguous index order (docs/references/evaluators.md §2).
GENEVAL_CLASSES: tuple[str, ...] = (
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "computer mouse",
    "tv remote",
    "computer keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
)
# Detector label spellings -> GenEval's (mmdet / COCO / VOC-style variants; docs/references/evaluators.md §2).
_RENAMES = {
    "mouse": "computer mouse",
    "remote": "tv remote",
    "keyboard": "computer keyboard",
    "tvmonitor": "tv",
    "tv monitor": "tv",
    "sofa": "couch",
    "motorbike": "motorcycle",
    "aeroplane": "airplane",
    "diningtable": "dining table",
    "pottedplant": "potted plant",
    "hair dryer": "hair drier",
    "doughnut": "donut",
    "cellphone": "cell phone",
}
# mmdet 2.x test pipeline of GenEval's config `mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco.py`.
MMDET_SCALE = (1333, 800)  # (long, short) edge limits, keep_ratio
MMDET_MEAN = (123.675, 116.28, 103.53)
MMDET_STD = (58.395, 57.12, 57.375)
SIZE_DIVISOR = 32
MAX_PER_IMAGE = 100


@runtime_checkable
class DetectorBackend(Protocol):
    """images (uint8 [B,3,H,W] tensor or a list of PIL / uint8 images) -> detections per image.

    `class_names` restricts the output to those classes (None: all); names the backend cannot
    detect are a ValueError. Backends may set `official = True` when they are the suite's
    reference detector (see is_official).
    """

    name: str

    def detect(self, images, class_names: Sequence[str] | None = None) -> list[list[dict]]: ...


def is_official(detector: DetectorBackend) -> bool:
    """True only for a suite's reference detector (GenEval's mmdet weights, the exact shapes one)."""
    return bool(getattr(detector, "official", False))


# ----------------------------------------------------------------------------- registry

_REGISTRY: dict[str, Callable[..., DetectorBackend]] = {}
_PROVIDERS = {"shapes-exact": "evaluators.shapes_detector"}


def register_detector(name: str):
    """Decorator registering a detector factory (class or function) under `name`."""

    def deco(factory):
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise ValueError(f"detector {name!r} is already registered; pick another name")
        _REGISTRY[name] = factory
        return factory

    return deco


def available_detectors() -> list[str]:
    return sorted(set(_REGISTRY) | set(_PROVIDERS))


def get_detector(name: str, **kwargs) -> DetectorBackend:
    """Build the detector registered as `name` (kwargs: weights dir, device, ...)."""
    if name not in _REGISTRY and name in _PROVIDERS:
        try:
            importlib.import_module(_PROVIDERS[name])
        except ModuleNotFoundError as e:
            if e.name != _PROVIDERS[name]:
                raise
    if name not in _REGISTRY:
        raise EvaluatorError(f"unknown detector {name!r}; choose one of {available_detectors()}")
    return _REGISTRY[name](**kwargs)


# ----------------------------------------------------------------------------- helpers


def geneval_class_names(labels: Sequence[str]) -> list[str]:
    """Map a detector's 80 COCO labels (by index) to GenEval's names, checking the order.

    GenEval indexes detector output by position, so a checkpoint with another label set or
    order (e.g. a 133-class panoptic one) would silently give wrong classes.
    """
    names = [
        _RENAMES.get(str(n).strip().lower().replace("_", " "), str(n).strip().lower().replace("_", " ")) for n in labels
    ]
    if len(names) != len(GENEVAL_CLASSES):
        raise EvaluatorError(
            f"detector has {len(names)} classes, GenEval needs the 80 COCO thing classes; "
            "use a COCO *instance* checkpoint (not panoptic)"
        )
    bad = [(i, a, b) for i, (a, b) in enumerate(zip(names, GENEVAL_CLASSES)) if a != b]
    if bad:
        i, a, b = bad[0]
        raise EvaluatorError(
            f"detector label {i} is {a!r}, GenEval expects {b!r} ({len(bad)} mismatches); "
            "use a COCO-80 instance checkpoint in the standard order"
        )
    return names


def as_rgb_arrays(images) -> list[np.ndarray]:
    """uint8 [B,3,H,W] tensor / list of PIL, [3,H,W] tensors or [H,W,3] arrays -> HWC uint8 list."""
    from PIL import Image

    if isinstance(images, torch.Tensor):
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be uint8 [B, 3, H, W], got {images.dtype} {tuple(images.shape)}")
        return list(images.permute(0, 2, 3, 1).cpu().numpy())
    out = []
    for im in images:
        if isinstance(im, Image.Image):
            out.append(np.asarray(im.convert("RGB")))
        elif isinstance(im, torch.Tensor) and im.ndim == 3 and im.shape[0] == 3 and im.dtype == torch.uint8:
            out.append(im.permute(1, 2, 0).cpu().numpy())
        else:
            a = np.asarray(im)
            if a.dtype != np.uint8 or a.ndim != 3 or a.shape[-1] != 3:
                raise ValueError(f"image must be uint8 [H, W, 3] / [3, H, W] or PIL, got {a.dtype} {a.shape}")
            out.append(a)
    return out


def mask_to_box(masks: torch.Tensor) -> torch.Tensor:
    """mmdet `mask2bbox`: [N,H,W] bool -> [N,4] float [x_min, y_min, x_max+1, y_max+1]; empty -> 0s."""
    n = masks.shape[0]
    boxes = torch.zeros((n, 4), dtype=torch.float32, device=masks.device)
    if n == 0:
        return boxes
    x_any, y_any = masks.any(dim=1), masks.any(dim=2)  # [N, W], [N, H]
    w, h = masks.shape[2], masks.shape[1]
    xs = torch.arange(w, device=masks.device)
    ys = torch.arange(h, device=masks.device)
    has = x_any.any(dim=1)
    big = torch.iinfo(torch.long).max
    x0 = torch.where(x_any, xs, big).amin(dim=1)
    x1 = torch.where(x_any, xs, -1).amax(dim=1) + 1
    y0 = torch.where(y_any, ys, big).amin(dim=1)
    y1 = torch.where(y_any, ys, -1).amax(dim=1) + 1
    stacked = torch.stack([x0, y0, x1, y1], dim=1).float()
    boxes[has] = stacked[has]
    return boxes


def instance_postprocess(
    class_logits: torch.Tensor, mask_logits: torch.Tensor, max_per_image: int = MAX_PER_IMAGE
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """mmdet MaskFormerFusionHead.instance_postprocess for one image.

    class_logits [Q, C+1] (last = no-object), mask_logits [Q, H, W] at the output resolution.
    softmax over classes without the no-object column, top-`max_per_image` over Q×C (query,
    class) pairs, masks binarised at logit > 0, mask score = mean sigmoid inside the mask,
    score = class prob × mask score, boxes from the binary masks.
    Returns labels [K], scores [K], boxes [K,4], masks [K,H,W] bool.
    """
    q, c1 = class_logits.shape
    c = c1 - 1
    probs = F.softmax(class_logits.float(), dim=-1)[:, :-1].flatten()
    k = min(max_per_image, probs.numel())
    top_scores, top_idx = probs.topk(k, sorted=False)
    labels = top_idx % c
    masks = mask_logits[top_idx // c].float()
    binary = masks > 0
    bin_f = binary.float()
    mask_scores = (masks.sigmoid() * bin_f).flatten(1).sum(1) / (bin_f.flatten(1).sum(1) + 1e-6)
    return labels, top_scores * mask_scores, mask_to_box(binary), binary


def mmdet_resize_shape(h: int, w: int, scale: tuple[int, int] = MMDET_SCALE) -> tuple[int, int]:
    """mmcv `rescale_size` with keep_ratio: largest factor with long<=scale[0], short<=scale[1]."""
    long_edge, short_edge = max(scale), min(scale)
    factor = min(long_edge / max(h, w), short_edge / min(h, w))
    return int(h * factor + 0.5), int(w * factor + 0.5)


def _detections(labels, scores, boxes, masks, class_names, keep: set[str] | None) -> list[dict]:
    out = []
    for lab, s, b, m in zip(labels.tolist(), scores.tolist(), boxes.tolist(), masks):
        cls = class_names[lab]
        if keep is None or cls in keep:
            out.append({"class": cls, "box": b, "score": float(s), "mask": m.cpu().numpy()})
    return out


def _check_requested(class_names: Sequence[str] | None, known: Sequence[str]) -> set[str] | None:
    if class_names is None:
        return None
    unknown = sorted(set(class_names) - set(known))
    if unknown:
        raise ValueError(f"detector cannot detect {unknown}; GenEval class names are object_names.txt's")
    return set(class_names)


# ----------------------------------------------------------------------------- transformers


@register_detector("mask2former-hf")
class Mask2FormerBackend:
    """Mask2Former Swin-S COCO instance through transformers, with mmdet's pre/post-processing.

    NOT GenEval's detector: the HF checkpoint (`facebook/mask2former-swin-small-coco-instance`)
    is converted from Detectron2 weights, GenEval uses OpenMMLab's own training run
    (docs/references/evaluators.md §1). Scores differ at the 0.3/0.9 thresholds by an unmeasured amount,
    so results must be labelled "GenEval (HF detector)", not compared with papers.
    Pre-processing follows mmdet's test pipeline (keep-ratio resize to the 1333/800 scale,
    bilinear, mean/std, zero pad to /32) instead of the HF processor's 384² post-processing
    (transformers `image_processing_mask2former.py`); post-processing is mmdet's instance_postprocess.
    """

    name = "mask2former-hf"
    official = False

    def __init__(
        self,
        model_dir: str | os.PathLike | None = None,
        device: str | torch.device = "cpu",
        scale: tuple[int, int] = MMDET_SCALE,
        max_per_image: int = MAX_PER_IMAGE,
    ) -> None:
        src = model_dir or os.environ.get("FPD_MASK2FORMER_DIR")
        d = Path(src).expanduser() if src else None
        if d is None or not (d / "config.json").is_file():
            raise MissingWeights(
                "Mask2Former (HF)",
                "config.json + model.safetensors",
                "https://huggingface.co/facebook/mask2former-swin-small-coco-instance",
                "download the repository to a local dir and pass model_dir= or set $FPD_MASK2FORMER_DIR",
            )
        from transformers import AutoImageProcessor, Mask2FormerForUniversalSegmentation

        self.device = torch.device(device)
        self.model = Mask2FormerForUniversalSegmentation.from_pretrained(str(d)).to(self.device).eval()
        cfg = self.model.config
        self.class_names = geneval_class_names([cfg.id2label[i] for i in range(cfg.num_labels)])
        mean, std = MMDET_MEAN, MMDET_STD
        if (d / "preprocessor_config.json").is_file():
            proc = AutoImageProcessor.from_pretrained(str(d))
            # the checkpoint's own normalisation (HF stores it in [0,1] units; equals mmdet's)
            if getattr(proc, "image_mean", None) is not None:
                mean = (
                    tuple(255.0 * v for v in proc.image_mean) if max(proc.image_mean) <= 1 else tuple(proc.image_mean)
                )
                std = tuple(255.0 * v for v in proc.image_std) if max(proc.image_std) <= 1 else tuple(proc.image_std)
        self.mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=self.device).view(3, 1, 1)
        self.scale, self.max_per_image = scale, max_per_image

    def preprocess(self, rgb: np.ndarray) -> tuple[torch.Tensor, tuple[int, int]]:
        """HWC uint8 -> normalised, padded [1,3,Hp,Wp] and the resized (unpadded) shape."""
        h, w = rgb.shape[:2]
        nh, nw = mmdet_resize_shape(h, w, self.scale)
        x = torch.tensor(rgb).to(self.device).permute(2, 0, 1)[None].float()  # a copy: PIL's arrays are read-only
        if (nh, nw) != (h, w):  # cv2 INTER_LINEAR == half-pixel bilinear, no antialias
            x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False)
        x = (x - self.mean) / self.std
        ph, pw = -(-nh // SIZE_DIVISOR) * SIZE_DIVISOR, -(-nw // SIZE_DIVISOR) * SIZE_DIVISOR
        return F.pad(x, (0, pw - nw, 0, ph - nh)), (nh, nw)

    @torch.no_grad()
    def detect(self, images, class_names: Sequence[str] | None = None) -> list[list[dict]]:
        keep = _check_requested(class_names, self.class_names)
        results = []
        for rgb in as_rgb_arrays(images):
            h, w = rgb.shape[:2]
            x, (nh, nw) = self.preprocess(rgb)
            out = self.model(pixel_values=x)
            cls_logits = out.class_queries_logits[0]
            # mmdet: upsample mask logits to the padded input, crop the padding, resize to the
            # original size, then binarise (docs/references/evaluators.md §3)
            m = F.interpolate(out.masks_queries_logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
            m = F.interpolate(m[:, :, :nh, :nw], size=(h, w), mode="bilinear", align_corners=False)[0]
            labels, scores, boxes, masks = instance_postprocess(cls_logits, m, self.max_per_image)
            results.append(_detections(labels, scores, boxes, masks, self.class_names, keep))
        return results


# ----------------------------------------------------------------------------- mmdet


@register_detector("mmdet")
class MMDetBackend:
    """GenEval's reference detector through mmdet (optional extra: mmdet 2.x + mmcv-full 1.7).

    Official only with GenEval's pair: config `mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco.py`
    (mmdet 2.x) + checkpoint `..._20220504_001756-743b7d99.pth` (geneval `evaluation/download_models.sh`); a wrong
    pair silently gives near-zero scores (geneval issues #6, #21).
    """

    name = "mmdet"
    official = True

    def __init__(
        self, config: str | os.PathLike, checkpoint: str | os.PathLike, device: str | torch.device = "cpu"
    ) -> None:
        try:
            from mmdet.apis import inference_detector, init_detector
        except ImportError as e:
            raise EvaluatorError(
                f"mmdet is not importable ({e}); install the optional extra "
                "`pip install fpd-harness[mmdet]` (GenEval used mmdet 2.x + mmcv-full 1.7) "
                "or use the 'mask2former-hf' detector"
            ) from None
        if not Path(checkpoint).is_file():
            raise MissingWeights(
                "GenEval Mask2Former (mmdet)",
                "mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco.pth",
                "https://download.openmmlab.com/mmdetection/v2.0/mask2former/"
                "mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco/"
                "mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco_20220504_001756-743b7d99.pth",
            )
        self._infer = inference_detector
        self.model = init_detector(str(config), str(checkpoint), device=str(device))
        labels = getattr(self.model, "CLASSES", None) or self.model.dataset_meta["classes"]
        self.class_names = geneval_class_names(labels)

    def detect(self, images, class_names: Sequence[str] | None = None) -> list[list[dict]]:
        keep = _check_requested(class_names, self.class_names)
        results = []
        for rgb in as_rgb_arrays(images):
            # mmdet treats ndarray input as cv2-loaded BGR (Normalize to_rgb=True flips it back)
            res = self._infer(self.model, np.ascontiguousarray(rgb[..., ::-1]))
            results.append(self._convert(res, keep))
        return results

    def _convert(self, res, keep: set[str] | None) -> list[dict]:
        dets = []
        if hasattr(res, "pred_instances"):  # mmdet 3.x DetDataSample
            p = res.pred_instances
            for lab, s, b, m in zip(p.labels.tolist(), p.scores.tolist(), p.bboxes.tolist(), p.masks):
                cls = self.class_names[lab]
                if keep is None or cls in keep:
                    dets.append({"class": cls, "box": b, "score": float(s), "mask": m.cpu().numpy().astype(bool)})
            return dets
        bbox, segm = (res[0], res[1]) if isinstance(res, tuple) else (res, None)  # mmdet 2.x per-class lists
        for idx, cls in enumerate(self.class_names):
            if keep is not None and cls not in keep:
                continue
            for j, row in enumerate(bbox[idx]):
                mask = None if segm is None else np.asarray(segm[idx][j], dtype=bool)
                dets.append({"class": cls, "box": [float(v) for v in row[:4]], "score": float(row[4]), "mask": mask})
        return dets
