"""`harness diagnose teacher-loss`: is a shapes teacher still learning, or memorising its training scenes?

The training log's loss is noisy (one batch, random mask ratios, label smoothing, condition dropout).
This scores checkpoints exactly: masked cross-entropy without smoothing, the condition kept, at fixed
mask ratios with one fixed mask per ratio, on the first n training samples and on n held-out ones
(never trained on). Held-out ≈ train: the teacher underfits (train it longer or wider); held-out above
train: it memorises (more scenes). Several run folders in one call give the curve over training.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from harness.errors import HarnessError

SPLITS = ("train", "heldout")


@torch.no_grad()
def masked_ce(model, codes: torch.Tensor, cond: torch.Tensor, ratio: float, seed: int = 0, batch: int = 256) -> float:
    """Mean cross-entropy on the masked positions of one fixed Bernoulli(ratio) mask (seeded)."""
    mask = torch.rand(codes.shape, generator=torch.Generator().manual_seed(seed)) < ratio
    total, count = 0.0, 0
    for i in range(0, len(codes), batch):
        m = mask[i:i + batch]
        logits = model(codes[i:i + batch].masked_fill(m, model.mask_id), cond[i:i + batch])
        total += F.cross_entropy(logits[m].float(), codes[i:i + batch][m], reduction="sum").item()
        count += int(m.sum())
    return total / max(count, 1)


@torch.no_grad()
def _split_tokens(task: str, split: str, n: int, tok) -> tuple[torch.Tensor, torch.Tensor]:
    from harness.tasks.shapes_data import class_dataset, scene_dataset, to_float
    imgs, cond = class_dataset(n, split) if task == "shapes" else scene_dataset(n, split)[:2]
    codes = torch.cat([tok.encode(to_float(imgs[i:i + 500])) for i in range(0, n, 500)])
    return codes, cond


def teacher_loss(task: str, checkpoints: list, n: int = 2048, ratios: tuple[float, ...] = (0.3, 0.6, 0.9)) -> dict:
    from harness.trainers.teacher import load_run, load_shipped
    from harness.trainers.tokenizer import load_shipped as load_tokenizer
    from harness.assets import TEACHER_ASSETS, asset_sha256
    if task not in ("shapes", "shapes-t2i"):
        raise HarnessError(f"unknown task {task!r}; use shapes or shapes-t2i")
    if n < 1:
        raise HarnessError("--n must be >= 1")
    if not ratios or not all(0.0 < r <= 1.0 for r in ratios):
        raise HarnessError(f"--ratios {list(ratios)} must lie in (0, 1]")
    tok = load_tokenizer()
    data = {s: _split_tokens(task, s, n, tok) for s in SPLITS}
    rows = []
    for ck in checkpoints or [None]:
        if ck is None:
            model = load_shipped(task)
            ident = {"run": "shipped", "step": None, "sha256": asset_sha256(TEACHER_ASSETS[task])}
        else:
            model, ident = load_run(task, ck, tok)
        ce = {s: {str(r): masked_ce(model, *data[s], r, seed=k) for k, r in enumerate(ratios)} for s in SPLITS}
        rows.append({**ident, **ce, "gap": {r: ce["heldout"][r] - ce["train"][r] for r in ce["train"]}})
    return {"task": task, "n": n, "ratios": list(ratios), "rows": rows}


def format_table(result: dict) -> str:
    rs = [str(r) for r in result["ratios"]]
    lines = ["| run | step | " + " | ".join(f"train CE @{r}" for r in rs) + " | "
             + " | ".join(f"held-out CE @{r}" for r in rs) + " | held-out − train |",
             "|" + "---|" * (2 * len(rs) + 3)]
    for row in result["rows"]:
        gap = max(row["gap"].values(), key=abs)
        lines.append(f"| {row['run']} | {row['step'] if row['step'] is not None else '-'} | "
                     + " | ".join(f"{row['train'][r]:.4f}" for r in rs) + " | "
                     + " | ".join(f"{row['heldout'][r]:.4f}" for r in rs) + f" | {gap:+.4f} |")
    return "\n".join(lines)
