"""The geometry of the shapes world: what a circle, square, triangle and diamond are, and the palette.

It lives in `evaluators` because it is the ground truth both sides share: the renderer
(`harness.tasks.shapes`) draws with it and the exact detector (`evaluators.shapes_detector`)
matches against it. Coordinates are pixels; a shape is given by its centre (cx, cy) and its
size s (the side of its axis-aligned bounding square). Coverage is computed by supersampling,
so edges are anti-aliased and rendering is exactly reproducible.
"""

from __future__ import annotations

import numpy as np

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond")
# Colour names are GenEval's colour words, so shapes prompts use GenEval's own vocabulary.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40),
    "orange": (245, 145, 20),
    "yellow": (240, 230, 40),
    "green": (40, 200, 70),
    "blue": (50, 100, 245),
    "purple": (160, 60, 225),
}
COLORS: tuple[str, ...] = tuple(PALETTE)
BACKGROUND: tuple[int, int, int] = (24, 24, 28)
SUPERSAMPLE = 4


def _inside(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Membership in normalised coordinates u, v in [-1, 1] (v grows downward)."""
    if shape == "circle":
        return u * u + v * v <= 1.0
    if shape == "square":
        return (np.abs(u) <= 1.0) & (np.abs(v) <= 1.0)
    if shape == "triangle":  # apex at the top, base at the bottom
        return (v <= 1.0) & (np.abs(u) <= (v + 1.0) / 2.0)
    if shape == "diamond":
        return np.abs(u) + np.abs(v) <= 1.0
    raise ValueError(f"unknown shape {shape!r}; choose one of {SHAPES}")


def coverage(
    shape: str, cx: float, cy: float, size: float, height: int, width: int, x0: int = 0, y0: int = 0
) -> np.ndarray:
    """Fraction of each pixel covered by the shape, float32 [height, width], by SUPERSAMPLE² samples.

    (x0, y0) is the pixel at the window's top-left corner, so a detector can render a local window.
    """
    n = SUPERSAMPLE
    offs = (np.arange(n, dtype=np.float64) + 0.5) / n
    ys = ((y0 + np.arange(height))[:, None] + offs[None, :]).reshape(-1)  # [H*n]
    xs = ((x0 + np.arange(width))[:, None] + offs[None, :]).reshape(-1)
    half = size / 2.0
    u = (xs[None, :] - cx) / half
    v = (ys[:, None] - cy) / half
    hit = _inside(shape, u, v).astype(np.float32)
    return hit.reshape(height, n, width, n).mean(axis=(1, 3))


def template_mask(
    shape: str, cx: float, cy: float, size: float, height: int, width: int, x0: int = 0, y0: int = 0
) -> np.ndarray:
    """The binary mask the detector compares against: pixels at least half covered."""
    return coverage(shape, cx, cy, size, height, width, x0, y0) >= 0.5
