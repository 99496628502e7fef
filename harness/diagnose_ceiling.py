"""`harness diagnose ceiling`: the best score any token generator can reach on a shapes suite.

A generator of the shapes world draws tokens that the VQ tokenizer decodes; it can at best emit the
tokens of the data itself. So decode(encode(x)) of ground-truth renders is the ceiling of every row
of the suite (teacher, FPD, DiMO, SDTT alike), and the gap between the renders and their
reconstructions is what the tokenizer alone costs. Scored with the suite's own rules: for
shapes-geneval, every prompt of the set with fresh held-out layouts; for shapes, the detector-correct
rate of held-out class renders. Counting is also broken down per required count, with the number of
detections the official 0.9 counting threshold drops (our detector's score is a template IoU, so a
slightly blurred small object falls under it).
"""

from __future__ import annotations

import json

import numpy as np
import torch

from harness.errors import HarnessError


def _reconstruct(tok, images_u8: torch.Tensor, batch: int = 250) -> torch.Tensor:
    from harness.tasks.shapes_data import to_float
    from methods.interfaces import to_uint8

    return torch.cat(
        [to_uint8(tok.decode(tok.encode(to_float(images_u8[i : i + batch])))) for i in range(0, len(images_u8), batch)]
    )


def _geneval_rows(images_hwc, metas: list[dict]) -> tuple[dict, dict]:
    """(overall and per-tag scores, counting per required count); the scores also carry `objects_per_asked`,
    detections per object the prompts ask for (above 1: fragments or extra objects)."""
    from evaluators import summarize_geneval
    from evaluators.geneval import COUNTING_THRESHOLD
    from harness.evaluate import score_shapes_image

    rows, per_count, detected = [], {}, 0
    for im, meta in zip(images_hwc, metas):
        ok, _, dets = score_shapes_image(im, meta)
        detected += len(dets)
        rows.append({"tag": meta["tag"], "correct": ok, "metadata": json.dumps(meta)})
        if meta["tag"] == "counting":
            req = meta["include"][0]
            c = per_count.setdefault(str(req["count"]), {"images": 0, "correct": 0, "dropped_by_threshold": 0})
            c["images"] += 1
            c["correct"] += ok
            c["dropped_by_threshold"] += sum(
                d["class"] == req["class"] and d["score"] <= COUNTING_THRESHOLD for d in dets
            )
    s = summarize_geneval(rows)
    asked = sum(r["count"] for m in metas for r in m.get("include", []))
    return {"overall": s["overall"], **s["tags"], "objects_per_asked": detected / max(asked, 1)}, per_count


@torch.no_grad()
def ceiling(task: str = "shapes-t2i", images_per_prompt: int = 4, n: int = 2000, prompts: int | None = None) -> dict:
    from harness.tasks import shapes as S
    from harness.tasks.shapes_data import class_dataset, seed_of, to_tensor
    from harness.trainers.tokenizer import load_shipped
    from harness.assets import asset_sha256

    tok = load_shipped()
    ident = {"tokenizer_sha256": asset_sha256("shapes_vq")}
    if task == "shapes-t2i":
        if images_per_prompt < 1:
            raise HarnessError("--images-per-prompt must be >= 1")
        prompt_rows = S.prompt_set()[:prompts]
        metas = [p for p in prompt_rows for _ in range(images_per_prompt)]
        # Held-out layouts (never a training scene), one per image, deterministic by its index.
        renders = [S.scene_for(p, seed_of("heldout", i)).image for i, p in enumerate(metas)]
        recon = _reconstruct(tok, to_tensor(renders)).permute(0, 2, 3, 1).numpy()
        gt, gt_counts = _geneval_rows(renders, metas)
        tk, tk_counts = _geneval_rows(recon, metas)
        return {
            "task": task,
            "suite": "shapes-geneval",
            "images": len(metas),
            **ident,
            "rows": [
                {"source": "ground-truth renders", **gt, "counting_by_count": gt_counts},
                {"source": "tokenised (decode(encode(x)))", **tk, "counting_by_count": tk_counts},
            ],
        }
    if task == "shapes":
        from harness.evaluate import _class_correct

        if n < 1:
            raise HarnessError("--n must be >= 1")
        images, labels = class_dataset(n, "heldout")
        recon = _reconstruct(tok, images).permute(0, 2, 3, 1).numpy()
        hwc = images.permute(0, 2, 3, 1).numpy()

        def rate(ims):
            return float(np.mean([_class_correct(im, int(y)) for im, y in zip(ims, labels)]))

        return {
            "task": task,
            "suite": "shapes-fid",
            "images": n,
            **ident,
            "rows": [
                {"source": "ground-truth renders", "detector_correct": rate(hwc)},
                {"source": "tokenised (decode(encode(x)))", "detector_correct": rate(recon)},
            ],
        }
    raise HarnessError(f"unknown task {task!r}; use shapes or shapes-t2i")


def format_table(result: dict) -> str:
    if result["task"] == "shapes":
        lines = ["| source | detector-correct |", "|---|---|"]
        return "\n".join(lines + [f"| {r['source']} | {r['detector_correct']:.3f} |" for r in result["rows"]])
    tags = [t for t in result["rows"][0] if t not in ("source", "overall", "counting_by_count", "objects_per_asked")]
    lines = [
        "| source | overall | " + " | ".join(tags) + " | counting 2 / 3 / 4 | dropped by the 0.9 threshold |",
        "|" + "---|" * (len(tags) + 4),
    ]
    for r in result["rows"]:
        cc = r["counting_by_count"]
        per = " / ".join(f"{cc[k]['correct'] / cc[k]['images']:.2f}" for k in sorted(cc))
        dropped = sum(c["dropped_by_threshold"] for c in cc.values())
        lines.append(
            f"| {r['source']} | {r['overall']:.3f} | "
            + " | ".join(f"{r[t]:.3f}" for t in tags)
            + f" | {per} | {dropped} |"
        )
    return "\n".join(lines)
