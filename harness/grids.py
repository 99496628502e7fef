"""Labelled sample grids as PNG files (rows = conditions, columns = seeds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from harness.io import atomic_write


def save_grid(
    images: torch.Tensor,
    rows: int,
    row_labels: list[str],
    path: str | Path,
    scale: int = 3,
    col_labels: list[str] | None = None,
) -> Path:
    """images uint8 [rows*cols, 3, H, W], row-major -> one PNG with a text label left of each row."""
    n, _, h, w = images.shape
    cols = n // rows
    arr = images.permute(0, 2, 3, 1).cpu().numpy().reshape(rows, cols, h, w, 3)
    arr = arr.transpose(0, 2, 1, 3, 4).reshape(rows * h, cols * w, 3)
    img = Image.fromarray(arr).resize((cols * w * scale, rows * h * scale), Image.NEAREST)
    label_w = 8 + 6 * max((len(s) for s in row_labels), default=0)
    top = 14 if col_labels else 0
    canvas = Image.new("RGB", (label_w + img.width, top + img.height), (255, 255, 255))
    canvas.paste(img, (label_w, top))
    draw = ImageDraw.Draw(canvas)
    for r, text in enumerate(row_labels):
        draw.text((4, top + r * h * scale + h * scale // 2 - 5), text, fill=(0, 0, 0))
    for c, text in enumerate(col_labels or []):
        draw.text((label_w + c * w * scale + 2, 1), text, fill=(0, 0, 0))
    path = Path(path)
    atomic_write(path, lambda p: canvas.save(p, format="PNG"))
    return path


def grid_conditions(task: str, n_rows: int = 8):
    """A fixed, readable set of conditions for grids: classes spread over shapes/colours, or shapes prompts."""
    from harness.registry import TASKS

    if TASKS.get_or_fail(task).scale != "shapes":
        from harness.trainers.paper_scale import grid_conditions as paper_grid_conditions

        return paper_grid_conditions(task, n_rows)
    from harness.tasks import shapes as S

    if task == "shapes":
        labels = [int(x) for x in np.linspace(0, S.NUM_CLASSES - 1, n_rows).round()]
        return torch.tensor(labels), [S.class_name(l) for l in labels]
    prompts = S.prompt_set()
    pick = [prompts[int(i)] for i in np.linspace(0, len(prompts) - 1, n_rows).round()]
    caps = [p["prompt"] for p in pick]
    return torch.from_numpy(np.stack([S.encode_caption(c) for c in caps])), [
        c.removeprefix("a photo of ") for c in caps
    ]


def generator_grid(gen, task: str, path: str | Path, n_rows: int = 8, n_cols: int = 8) -> Path:
    cond, labels = grid_conditions(task, n_rows)
    cond = cond.repeat_interleave(n_cols, 0)
    seeds = list(range(n_cols)) * n_rows
    return save_grid(gen.generate(cond, seeds), n_rows, labels, path)


def teacher_grid(model, tok, task: str, path: str | Path, steps: int = 16) -> Path:
    from methods.teacher_sampler import TeacherSampler, TeacherSamplerConfig

    dev = next(model.parameters()).device  # sample where the model is
    return generator_grid(TeacherSampler(model, tok, TeacherSamplerConfig(steps=steps, w=1.0), device=dev), task, path)


def comparison_grid(
    gens: list[tuple[str, object]], task: str, path: str | Path, n_rows: int = 8, n_cols: int = 4
) -> Path:
    """Generators side by side, the same conditions (rows) and seeds in every block of n_cols columns."""
    cond, labels = grid_conditions(task, n_rows)
    cond = cond.repeat_interleave(n_cols, 0)
    seeds = list(range(n_cols)) * n_rows
    blocks = [gen.generate(cond, seeds) for _, gen in gens]  # each [rows*cols, 3, H, W]
    _, c, h, w = blocks[0].shape
    per_row = torch.stack([b.view(n_rows, n_cols, c, h, w) for b in blocks], 1)  # [rows, gens, cols, ...]
    images = per_row.reshape(n_rows * len(gens) * n_cols, c, h, w)
    col_labels = []
    for name, _ in gens:
        col_labels += [name] + [""] * (n_cols - 1)
    return save_grid(images, n_rows, labels, path, col_labels=col_labels)
