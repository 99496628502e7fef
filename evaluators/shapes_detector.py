"""The exact detector of the shapes world (the shapes-world stand-in for GenEval's Mask2Former).

For each connected foreground region it estimates the object's colour (nearest palette colour),
un-mixes each pixel's coverage against the background, and matches the coverage mask against every
shape template (evaluators.shapes_geometry, the renderer's own geometry) placed in the region's
bounding box. Class = best-matching shape, score = that template's IoU with the mask (1.0 for a
clean render; lower for malformed generated shapes). Returns GenEval-style detections:
{class, box [x1, y1, x2, y2] px, score, color, mask}.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

from evaluators.shapes_geometry import BACKGROUND, PALETTE, SHAPES, template_mask

_BG = np.asarray(BACKGROUND, np.float32)
_COLOR_NAMES = list(PALETTE)
_COLORS = np.asarray([PALETTE[c] for c in _COLOR_NAMES], np.float32)
FOREGROUND_DIST = 20.0  # max channel difference from the background that counts as foreground
COVERAGE_CUT = 0.47  # between 7/16 and 8/16 of the 4x4 supersampled coverage (renderer: >= 0.5)
MIN_AREA = 3


@lru_cache(maxsize=None)
def _pattern(shape: str, s: int) -> np.ndarray:
    """The template of an integer-aligned box of side s (translation-invariant, so cached once)."""
    return template_mask(shape, s / 2, s / 2, s, s, s)


def _best_template(mask: np.ndarray, mx1: int, my1: int, mx2: int, my2: int) -> tuple[float, str, list[float]]:
    """Best (IoU, shape, box) over integer-aligned boxes of side side..side+3 that contain the mask's box.

    Renders place shapes on integer box edges; thin tips (triangle apex, diamond corners) fall under
    half coverage, so the true box can be up to a few pixels larger than the mask's box.
    """
    h, w = mask.shape
    area = int(mask.sum())
    side = max(mx2 - mx1, my2 - my1)
    pad = side + 4  # candidate boxes may overhang the image edge (a thin, tall region near a border)
    padded = np.pad(mask, pad)
    best = (-1.0, "", [0.0, 0.0, 0.0, 0.0])
    for s in range(side, side + 4):
        for bx in range(mx2 - s, mx1 + 1):
            for by in range(my2 - s, my1 + 1):
                window = padded[by + pad : by + pad + s, bx + pad : bx + pad + s]
                for shape in SHAPES:
                    t = _pattern(shape, s)
                    inter = int(np.logical_and(t, window).sum())
                    iou = inter / (int(t.sum()) + area - inter)
                    if iou > best[0]:
                        best = (iou, shape, [float(bx), float(by), float(bx + s), float(by + s)])
    return best


def detect_shapes(image: np.ndarray) -> list[dict]:
    """image uint8 [H, W, 3] -> detections sorted by score (highest first)."""
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"expected an HxWx3 uint8 image, got shape {image.shape}")
    img = image.astype(np.float32)
    h, w, _ = img.shape
    diff = img - _BG
    fg = np.abs(diff).max(-1) > FOREGROUND_DIST
    labels, n = ndimage.label(fg, structure=np.ones((3, 3)))
    dets = []
    for k in range(1, n + 1):
        region = labels == k
        if region.sum() < MIN_AREA:
            continue
        # Colour from the most saturated pixels of the region (the interior, unmixed with background).
        strength = np.linalg.norm(diff[region], axis=-1)
        core = diff[region][strength >= 0.8 * strength.max()].mean(0) + _BG
        ci = int(np.argmin(((_COLORS - core) ** 2).sum(-1)))
        direction = _COLORS[ci] - _BG
        alpha = (diff @ direction) / float(direction @ direction)
        mask = region & (alpha >= COVERAGE_CUT)
        if mask.sum() < MIN_AREA:
            continue
        ys, xs = np.nonzero(mask)
        mx1, mx2, my1, my2 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
        iou, shape, box = _best_template(mask, mx1, my1, mx2, my2)
        dets.append({"class": shape, "box": box, "score": iou, "color": _COLOR_NAMES[ci], "mask": mask})
    return sorted(dets, key=lambda d: -d["score"])
