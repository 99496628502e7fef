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

It also counts the correct images that the rules credit only through an *out-of-world region*: a detection
whose box is larger than any object the scene renderer draws (side > the largest scene object + the detector's
3 px of box slack). The exact detector classifies any connected region, so a canvas-filling blob of one colour is
some shape to it; such credit is the suite's rule applied as written, reported here and never removed from the
suite's score.
"""

from __future__ import annotations

import collections
import re

import numpy as np
import torch

CATEGORIES = ("shape missing or wrong", "shape below threshold", "wrong colour", "wrong position", "extra object")
OUT_OF_WORLD = "correct only by an out-of-world region"
BOX_SLACK = 3  # evaluators.shapes_detector._best_template tries boxes up to 3 px larger than the mask's
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


def out_of_world(det: dict, max_side: int) -> bool:
    x1, y1, x2, y2 = det["box"]
    return max(x2 - x1, y2 - y1) > max_side


def credited_out_of_world(meta: dict, dets: list[dict], max_side: int) -> bool:
    """A correct image that the same rules judge wrong once out-of-world detections are left out."""
    from evaluators.geneval import score_geneval

    return not score_geneval(meta, [d for d in dets if not out_of_world(d, max_side)])[0]


def tally(rows: list[tuple[dict, bool, str, list[dict]]], max_side: int | None = None) -> dict:
    """rows of (prompt metadata, correct, reason, raw detections) -> per-tag counts and object statistics.
    max_side: the largest box side an object of the world can have (default: the renderer's at 32 px + slack)."""
    from harness.tasks.shapes import scene_sizes

    max_side = scene_sizes()[1] + BOX_SLACK if max_side is None else max_side
    tags: dict[str, dict] = {}
    for meta, ok, reason, dets in rows:
        t = tags.setdefault(
            meta["tag"],
            {
                "images": 0,
                "correct": 0,
                **{c: 0 for c in CATEGORIES},
                OUT_OF_WORLD: 0,
                "objects_asked": 0,
                "objects_detected": 0,
            },
        )
        t["images"] += 1
        t["correct"] += bool(ok)
        t[OUT_OF_WORLD] += bool(ok) and credited_out_of_world(meta, dets, max_side)
        t["objects_asked"] += sum(r["count"] for r in meta.get("include", []))
        t["objects_detected"] += len(dets)
        if not ok:
            t[categorise(reason, meta, dets)] += 1
    return tags


@torch.no_grad()
def geneval_failures(
    method: str = "teacher", steps: int = 16, checkpoint=None, seeds: str = "1000000-1000591", batch: int = 250
) -> dict:
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
        chunk = seed_list[i : i + batch]
        metas = [prompts[prompt_index(s, len(prompts))] for s in chunk]
        caps = torch.from_numpy(np.stack([S.encode_caption(m["prompt"]) for m in metas]))
        hwc = gen.generate(caps, chunk).permute(0, 2, 3, 1).numpy()
        rows += [(meta, *score_shapes_image(im, meta)) for im, meta in zip(hwc, metas)]
    describe = getattr(gen, "describe", {"method": method, "steps": steps})
    tags = tally(rows)
    return {
        "suite": "shapes-geneval",
        "method": method,
        "steps": steps,
        "seeds": [seed_list[0], seed_list[-1]],
        "generator": {k: v for k, v in describe.items() if k != "networks"},
        "networks": {k: v for k, v in describe.get("networks", {}).items() if k != "teacher_run"},
        **overall(tags),
        "tags": tags,
    }


def overall(tags: dict) -> dict:
    """The suite's overall (the mean of the tag scores, GenEval's) and the same without out-of-world credit."""
    return {
        "overall": float(np.mean([t["correct"] / t["images"] for t in tags.values()])),
        "overall_in_world": float(np.mean([(t["correct"] - t[OUT_OF_WORLD]) / t["images"] for t in tags.values()])),
    }


def format_table(result: dict) -> str:
    head = "| tag | images | correct | " + " | ".join(CATEGORIES) + f" | objects detected / asked | {OUT_OF_WORLD} |"
    lines = [head, "|" + "---|" * (len(CATEGORIES) + 5)]
    totals = collections.Counter()
    for tag, t in result["tags"].items():
        totals.update(t)
        lines.append(
            f"| {tag} | {t['images']} | {t['correct'] / t['images']:.3f} | "
            + " | ".join(str(t[c]) for c in CATEGORIES)
            + f" | {t['objects_detected'] / max(t['objects_asked'], 1):.2f} | {t.get(OUT_OF_WORLD, '-')} |"
        )
    lines.append(
        f"| all images (pooled) | {totals['images']} | {totals['correct'] / max(totals['images'], 1):.3f} | "
        + " | ".join(str(totals[c]) for c in CATEGORIES)
        + f" | {totals['objects_detected'] / max(totals['objects_asked'], 1):.2f} | {totals.get(OUT_OF_WORLD, '-')} |"
    )
    if "overall_in_world" in result:
        lines += [
            "",
            f"overall (the suite's mean over tags) {result['overall']:.3f}; "
            f"without out-of-world credit {result['overall_in_world']:.3f}",
        ]
    return "\n".join(lines)
