"""`harness diagnose teacher-loss`: is a shapes teacher still learning, or memorising its training scenes?

The training log's loss is noisy (one batch, random mask ratios, label smoothing, condition dropout).
This scores checkpoints exactly: masked cross-entropy without smoothing, the condition kept, at fixed
mask ratios with one fixed mask per ratio, on the first n training samples and on n held-out ones
(never trained on). Held-out ≈ train: the teacher underfits (train it longer or wider); held-out above
train: it memorises (more scenes). Several run folders in one call give the curve over training.
On the text task the held-out loss is also split by GenEval tag (the same masks): where the network's
error sits, e.g. whether a training-scene tag mix (`--set tag_mix=`) moved the tag it weighted.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from harness.errors import HarnessError

SPLITS = ("train", "heldout")


@torch.no_grad()
def masked_ce_per_sample(
    model, codes: torch.Tensor, cond: torch.Tensor, ratio: float, seed: int = 0, batch: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sample: the summed cross-entropy on the masked positions of one fixed Bernoulli(ratio) mask (seeded),
    and how many positions were masked."""
    mask = torch.rand(codes.shape, generator=torch.Generator().manual_seed(seed)) < ratio
    sums = torch.zeros(len(codes), dtype=torch.float64)
    for i in range(0, len(codes), batch):
        m = mask[i : i + batch]
        logits = model(codes[i : i + batch].masked_fill(m, model.mask_id), cond[i : i + batch])
        ce = F.cross_entropy(logits.float().flatten(0, 1), codes[i : i + batch].flatten(), reduction="none")
        sums[i : i + batch] = (ce.view(m.shape) * m).sum(1).double()
    return sums, mask.sum(1)


def mean_ce(sums: torch.Tensor, counts: torch.Tensor) -> float:
    """Mean cross-entropy per masked position over the given samples."""
    return float(sums.sum() / max(int(counts.sum()), 1))


def by_tag(sums: torch.Tensor, counts: torch.Tensor, tags: list[str]) -> dict[str, float]:
    """Mean masked cross-entropy per tag, in first-seen order."""
    out = {}
    for t in dict.fromkeys(tags):
        idx = torch.tensor([i for i, x in enumerate(tags) if x == t])
        out[t] = mean_ce(sums[idx], counts[idx])
    return out


@torch.no_grad()
def _split_tokens(task: str, split: str, n: int, tok) -> tuple[torch.Tensor, torch.Tensor, list[str] | None]:
    from harness.tasks.shapes_data import class_dataset, scene_dataset, to_float

    if task == "shapes":
        (imgs, cond), tags = class_dataset(n, split), None
    else:
        imgs, cond, meta = scene_dataset(n, split)
        tags = [m["tag"] for m in meta]
    codes = torch.cat([tok.encode(to_float(imgs[i : i + 500])) for i in range(0, n, 500)])
    return codes, cond, tags


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
        per = {
            s: {str(r): masked_ce_per_sample(model, *data[s][:2], r, seed=k) for k, r in enumerate(ratios)}
            for s in SPLITS
        }
        ce = {s: {r: mean_ce(*per[s][r]) for r in per[s]} for s in SPLITS}
        row = {**ident, **ce, "gap": {r: ce["heldout"][r] - ce["train"][r] for r in ce["train"]}}
        if data["heldout"][2] is not None:
            row["heldout_by_tag"] = {r: by_tag(*per["heldout"][r], data["heldout"][2]) for r in per["heldout"]}
        rows.append(row)
    return {"task": task, "n": n, "ratios": list(ratios), "rows": rows}


def _label(row: dict) -> str:
    """A run and, where it was named, the weights file scored (a run keeping an EMA has two)."""
    return f"{row['run']} ({row['weights']})" if row.get("weights") else row["run"]


def format_table(result: dict) -> str:
    rs = [str(r) for r in result["ratios"]]
    lines = [
        "| run | step | "
        + " | ".join(f"train CE @{r}" for r in rs)
        + " | "
        + " | ".join(f"held-out CE @{r}" for r in rs)
        + " | held-out − train |",
        "|" + "---|" * (2 * len(rs) + 3),
    ]
    for row in result["rows"]:
        gap = max(row["gap"].values(), key=abs)
        lines.append(
            f"| {_label(row)} | {row['step'] if row['step'] is not None else '-'} | "
            + " | ".join(f"{row['train'][r]:.4f}" for r in rs)
            + " | "
            + " | ".join(f"{row['heldout'][r]:.4f}" for r in rs)
            + f" | {gap:+.4f} |"
        )
    tagged = [row for row in result["rows"] if "heldout_by_tag" in row]
    if tagged:
        tags = list(tagged[0]["heldout_by_tag"][rs[0]])
        lines += [
            "",
            "held-out CE by tag (" + " / ".join(f"@{r}" for r in rs) + ")",
            "",
            "| run | step | " + " | ".join(tags) + " |",
            "|" + "---|" * (len(tags) + 2),
        ]
        for row in tagged:
            lines.append(
                f"| {_label(row)} | {row['step'] if row['step'] is not None else '-'} | "
                + " | ".join(" / ".join(f"{row['heldout_by_tag'][r][t]:.3f}" for r in rs) for t in tags)
                + " |"
            )
    return "\n".join(lines)
