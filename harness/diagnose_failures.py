"""`harness diagnose geneval-failures`: why a generator's shapes-geneval images are judged wrong.

A per-tag score says how often a generator fails, not why. This command samples the suite's prompts
with any method, scores each image with the suite's own rules (the official reason strings of
`evaluators.geneval.evaluate_objects`), and sorts each failing image by the first rule it broke:

- `shape below threshold`: an object of the asked class is there, but its detector score is under the
  tag's threshold (0.9 for counting, 0.3 otherwise; our score is a template IoU, so a malformed shape);
- `shape missing or wrong`: too few objects of the asked class at any score (drawn as another shape, or
  not drawn);
- `wrong colour`, `wrong position` (incl. no target to be placed against), `extra object` (an exclude clause).

It reads the images and never trains on them; the detector and rules are the suite's, unchanged.
"""
from __future__ import annotations

import collections
import re

import numpy as np
import torch

CATEGORIES = ("shape missing or wrong", "shape below threshold", "wrong colour", "wrong position", "extra object")
_TOO_FEW = re.compile(r"^expected (\w+)>=(\d+), found (\d+)$")


def categorise(reason: str, metadata: dict, raw_detections: list[dict]) -> str:
    """The category of an image's first broken rule (reason: evaluate_objects' reason string)."""
    first = reason.split("\n")[0]
    m = _TOO_FEW.match(first)
    if m:
        cls, need = m.group(1), int(m.group(2))
        present = sum(d["class"] == cls for d in raw_detections)
        return "shape below threshold" if present >= need else "shape missing or wrong"
    if first.startswith("no target") or re.match(r"^expected \w+ (left of|right of|above|below) target", first):
        return "wrong position"
    if re.match(r"^expected \w+ \w+>=", first):
        return "wrong colour"
    if re.match(r"^expected \w+<\d+", first):
        return "extra object"
    raise ValueError(f"unrecognised GenEval reason {first!r}")


def tally(rows: list[tuple[dict, bool, str, list[dict]]]) -> dict:
    """rows of (prompt metadata, correct, reason, raw detections) -> per-tag counts and object statistics."""
    tags: dict[str, dict] = {}
    for meta, ok, reason, dets in rows:
        t = tags.setdefault(meta["tag"], {"images": 0, "correct": 0, **{c: 0 for c in CATEGORIES},
                                          "objects_asked": 0, "objects_detected": 0})
        t["images"] += 1
        t["correct"] += bool(ok)
        t["objects_asked"] += sum(r["count"] for r in meta.get("include", []))
        t["objects_detected"] += len(dets)
        if not ok:
            t[categorise(reason, meta, dets)] += 1
    return tags


@torch.no_grad()
def geneval_failures(method: str = "teacher", steps: int = 16, checkpoint=None, seeds: str = "1000000-1000591",
                     batch: int = 250) -> dict:
    from harness import distributed as D
    from harness.evaluate import check_shapes_geneval_seeds, parse_seeds, prompt_index, score_shapes_image
    from harness.generators import build_generator
    from harness.tasks import shapes as S
    D.init()
    prompts = S.prompt_set()
    seed_list = parse_seeds(seeds, 4 * len(prompts))
    check_shapes_geneval_seeds(seed_list)
    gen = build_generator(method, "shapes-t2i", steps, checkpoint, None)
    rows = []
    for i in range(0, len(seed_list), batch):
        chunk = seed_list[i:i + batch]
        metas = [prompts[prompt_index(s, len(prompts))] for s in chunk]
        caps = torch.from_numpy(np.stack([S.encode_caption(m["prompt"]) for m in metas]))
        hwc = gen.generate(caps, chunk).permute(0, 2, 3, 1).numpy()
        rows += [(meta, *score_shapes_image(im, meta)) for im, meta in zip(hwc, metas)]
    describe = getattr(gen, "describe", {"method": method, "steps": steps})
    return {"suite": "shapes-geneval", "method": method, "steps": steps, "seeds": [seed_list[0], seed_list[-1]],
            "generator": {k: v for k, v in describe.items() if k != "networks"},
            "networks": {k: v for k, v in describe.get("networks", {}).items() if k != "teacher_run"},
            "tags": tally(rows)}


def format_table(result: dict) -> str:
    head = "| tag | images | correct | " + " | ".join(CATEGORIES) + " | objects detected / asked |"
    lines = [head, "|" + "---|" * (len(CATEGORIES) + 4)]
    totals = collections.Counter()
    for tag, t in result["tags"].items():
        totals.update(t)
        lines.append(f"| {tag} | {t['images']} | {t['correct'] / t['images']:.3f} | "
                     + " | ".join(str(t[c]) for c in CATEGORIES)
                     + f" | {t['objects_detected'] / max(t['objects_asked'], 1):.2f} |")
    lines.append(f"| all images (pooled) | {totals['images']} | {totals['correct'] / max(totals['images'], 1):.3f} | "
                 + " | ".join(str(totals[c]) for c in CATEGORIES)
                 + f" | {totals['objects_detected'] / max(totals['objects_asked'], 1):.2f} |")
    return "\n".join(lines)
