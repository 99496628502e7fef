"""GenEval: prompt metadata, the official correctness rules, per-image results and the summary.

Reimplements djghosh13/geneval `evaluation/evaluate_images.py` (`evaluate_image`, `evaluate`,
`relative_position`) and `evaluation/summary_scores.py`. The rules are pure functions of the prompt metadata and a
detector's output, so any detector backend (Mask2Former, mmdet, the exact shapes detector)
plugs in; colours are classified beforehand (evaluators.geneval_colors) for the detections
`objects_needing_color` names.

A detection is a dict: {"class": str, "box": [x1, y1, x2, y2] (pixels), "score": float,
"color": str (only where a colour clause needs it), "mask": optional, ignored here}.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Tags of the official `prompts/evaluation_metadata.jsonl`, in file order.
TAGS: tuple[str, ...] = ("single_object", "two_object", "counting", "colors", "position", "color_attr")
# create_prompts.py / evaluate_images.py COLORS, in this order (reason strings follow it).
COLORS: tuple[str, ...] = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white")
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")

# Constants of `evaluation/evaluate_images.py` __main__.
THRESHOLD = 0.3
COUNTING_THRESHOLD = 0.9
MAX_OBJECTS = 16
NMS_THRESHOLD = 1.0  # max_overlap; 1.0 = no NMS (the default)
POSITION_THRESHOLD = 0.1


# ----------------------------------------------------------------------------- metadata


def _check_metadata(obj: object) -> str | None:
    """Return a description of what is wrong with one metadata object, or None if valid."""
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {type(obj).__name__}"
    for key in ("tag", "prompt", "include"):
        if key not in obj:
            return f"missing key {key!r}"
    if obj["tag"] not in TAGS:
        return f"unknown tag {obj['tag']!r} (expected one of {', '.join(TAGS)})"
    if not isinstance(obj["prompt"], str) or not obj["prompt"]:
        return "'prompt' must be a non-empty string"
    clauses = [("include", c) for c in obj["include"]] if isinstance(obj["include"], list) else None
    if not clauses:
        return "'include' must be a non-empty list of {class, count} objects"
    exclude = obj.get("exclude", [])
    if not isinstance(exclude, list):
        return "'exclude' must be a list"
    clauses += [("exclude", c) for c in exclude]
    n_include = 0
    for kind, c in clauses:
        if not isinstance(c, dict):
            return f"{kind} clause {c!r} is not an object"
        if not isinstance(c.get("class"), str) or not c["class"]:
            return f"{kind} clause {c} lacks a 'class' name"
        cnt = c.get("count")
        if not isinstance(cnt, int) or isinstance(cnt, bool) or cnt < 1:
            return f"{kind} clause for {c['class']!r} needs an integer 'count' >= 1"
        if "color" in c and c["color"] not in COLORS:
            return f"unknown color {c['color']!r} for {c['class']!r} (expected one of {', '.join(COLORS)})"
        if "position" in c:
            pos = c["position"]
            if kind != "include" or not (isinstance(pos, list) and len(pos) == 2):
                return f"'position' of {c['class']!r} must be [relation, target_index] in an include clause"
            if pos[0] not in RELATIONS:
                return f"unknown relation {pos[0]!r} (expected one of {', '.join(RELATIONS)})"
            if not isinstance(pos[1], int) or not 0 <= pos[1] < n_include:
                return f"position target {pos[1]!r} of {c['class']!r} must index an earlier include clause"
        n_include += kind == "include"
    return None


def read_geneval_metadata(path: str | os.PathLike) -> list[dict]:
    """Read an `evaluation_metadata.jsonl` (one prompt per line), validating every line.

    Line i (0-based) is prompt index i, which names its output folder, so a blank line inside
    the file is an error rather than silently shifting indices (trailing blank lines are fine).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"GenEval metadata {str(p)!r} not found; pass the path of evaluation_metadata.jsonl")
    lines = p.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    out = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            raise ValueError(f"{p}:{lineno}: blank line inside the metadata file; remove it")
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{p}:{lineno}: malformed JSON ({e.msg} at column {e.colno}); fix the line") from None
        problem = _check_metadata(obj)
        if problem:
            raise ValueError(f"{p}:{lineno}: {problem}")
        out.append(obj)
    if not out:
        raise ValueError(f"{p}: no prompts in the metadata file")
    return out


# ----------------------------------------------------------------------------- rules


def compute_iou(box_a: Sequence[float], box_b: Sequence[float]) -> float:
    """IoU with the official +1 pixel area convention (only used when max_overlap < 1)."""

    def area(b):
        return max(b[2] - b[0] + 1, 0) * max(b[3] - b[1] + 1, 0)

    inter = area([max(box_a[0], box_b[0]), max(box_a[1], box_b[1]), min(box_a[2], box_b[2]), min(box_a[3], box_b[3])])
    union = area(box_a) + area(box_b) - inter
    return inter / union if union else 0.0


def _validate_detection(d: Mapping, i: int) -> None:
    if not isinstance(d, Mapping) or not {"class", "box", "score"} <= set(d):
        raise ValueError(f"detection {i} must be a dict with 'class', 'box' [x1,y1,x2,y2] and 'score'; got {d!r}")
    if len(d["box"]) != 4:
        raise ValueError(f"detection {i} box must be [x1, y1, x2, y2], got {d['box']!r}")


def filter_detections(
    detections: Sequence[Mapping],
    tag: str,
    *,
    threshold: float = THRESHOLD,
    counting_threshold: float = COUNTING_THRESHOLD,
    max_objects: int = MAX_OBJECTS,
    max_overlap: float = NMS_THRESHOLD,
) -> dict[str, list[Mapping]]:
    """Official `evaluate_image` filtering: per class, sort by score (desc), keep score >
    threshold (0.9 for every class when the image's tag is `counting`, else 0.3), keep the first
    16, greedy NMS only if max_overlap < 1. Classes with no survivors are absent.
    Ties keep input order (the official np.argsort order for ties is unspecified)."""
    thr = counting_threshold if tag == "counting" else threshold
    by_class: dict[str, list[Mapping]] = {}
    for i, d in enumerate(detections):
        _validate_detection(d, i)
        by_class.setdefault(d["class"], []).append(d)
    out: dict[str, list[Mapping]] = {}
    for cls, dets in by_class.items():
        ordering = sorted(dets, key=lambda d: -float(d["score"]))
        ordering = [d for d in ordering if float(d["score"]) > thr][:max_objects]
        kept = []
        while ordering:
            best = ordering.pop(0)
            kept.append(best)
            if max_overlap < 1:
                ordering = [d for d in ordering if compute_iou(best["box"], d["box"]) < max_overlap]
        if kept:
            out[cls] = kept
    return out


def relative_position(box_a: Sequence[float], box_b: Sequence[float], margin: float = POSITION_THRESHOLD) -> set[str]:
    """Relations of A relative to B, factoring in object sizes (official `relative_position`).

    offset = centre_a - centre_b; each axis shrinks by margin·(dim_a + dim_b) towards 0; if
    both revised components are < 1e-3 the objects are too close (no relation); otherwise
    revised / ||offset|| beyond ±0.5 gives left/right (x) and above/below (y, y grows down),
    so a diagonal placement can satisfy two relations.
    """
    boxes = np.asarray([box_a[:4], box_b[:4]], dtype=np.float64).reshape(2, 2, 2)
    centre_a, centre_b = boxes.mean(axis=-2)
    dim_a, dim_b = np.abs(np.diff(boxes, axis=-2))[..., 0, :]
    offset = centre_a - centre_b
    revised = np.maximum(np.abs(offset) - margin * (dim_a + dim_b), 0) * np.sign(offset)
    if np.all(np.abs(revised) < 1e-3):
        return set()
    dx, dy = revised / np.linalg.norm(offset)
    rels = set()
    if dx < -0.5:
        rels.add("left of")
    if dx > 0.5:
        rels.add("right of")
    if dy < -0.5:
        rels.add("above")
    if dy > 0.5:
        rels.add("below")
    return rels


def _found(objects: Mapping[str, list], req: Mapping) -> list:
    # Official: the top-`count` objects by score are the ones colour/position are judged on.
    return list(objects.get(req["class"], []))[: req["count"]]


def objects_needing_color(metadata: Mapping, detections: Sequence[Mapping], **filter_kw) -> list[int]:
    """Indices (into `detections`) whose colour the rules will read: the top-`count` filtered
    objects of every include clause with a colour. Classify just these before scoring."""
    objects = filter_detections(detections, metadata["tag"], **filter_kw)
    ids = {id(d): i for i, d in enumerate(detections)}
    need = []
    for req in metadata.get("include", []):
        if "color" in req:
            need += [ids[id(d)] for d in _found(objects, req)]
    return sorted(set(need))


def evaluate_objects(
    objects: Mapping[str, Sequence[Mapping]], metadata: Mapping, margin: float = POSITION_THRESHOLD
) -> tuple[bool, str]:
    """Official `evaluate` on already-filtered objects (class -> detections sorted by score).

    include clauses are ANDed, exclude clauses ORed; colour and position are judged on the
    top-`count` objects; position only when the clause's class/colour matched and its target
    group (an earlier include) matched.
    """
    correct = True
    reasons: list[str] = []
    matched_groups: list[list | None] = []
    for req in metadata.get("include", []):
        cls, count = req["class"], req["count"]
        matched = True
        found = _found(objects, req)
        if len(found) < count:
            correct = matched = False
            reasons.append(f"expected {cls}>={count}, found {len(found)}")
        else:
            if "color" in req:
                colors = []
                for d in found:
                    if d.get("color") is None:
                        raise ValueError(
                            f"detection of {cls!r} needs a 'color' for this prompt; classify the "
                            "colours of objects_needing_color(...) first"
                        )
                    colors.append(d["color"])
                target = req["color"]
                if colors.count(target) < count:
                    correct = matched = False
                    reasons.append(
                        f"expected {target} {cls}>={count}, found {colors.count(target)} {target}; and "
                        + ", ".join(f"{colors.count(c)} {c}" for c in COLORS if c in colors)
                    )
            if "position" in req and matched:
                expected_rel, target_group = req["position"]
                if matched_groups[target_group] is None:
                    correct = matched = False
                    reasons.append(f"no target for {cls} to be {expected_rel}")
                else:
                    for obj in found:
                        for target_obj in matched_groups[target_group]:
                            rels = relative_position(obj["box"], target_obj["box"], margin)
                            if expected_rel not in rels:
                                correct = matched = False
                                found_rels = " and ".join(r for r in RELATIONS if r in rels)
                                reasons.append(f"expected {cls} {expected_rel} target, found {found_rels} target")
                                break
                        if not matched:
                            break
        matched_groups.append(found if matched else None)
    for req in metadata.get("exclude", []):
        cls = req["class"]
        n = len(objects.get(cls, []))
        if n >= req["count"]:
            correct = False
            reasons.append(f"expected {cls}<{req['count']}, found {n}")
    return correct, "\n".join(reasons)


def score_geneval(metadata: Mapping, detections: Sequence[Mapping], **options) -> tuple[bool, str]:
    """Is one image correct for its prompt? Pure: filter the detections, then the rules.

    options: threshold, counting_threshold, max_objects, max_overlap (filter_detections) and
    margin (position). Returns (correct, reason) with the official reason strings.
    """
    margin = options.pop("margin", POSITION_THRESHOLD)
    objects = filter_detections(detections, metadata["tag"], **options)
    return evaluate_objects(objects, metadata, margin)


# ----------------------------------------------------------------------------- results


def geneval_row(filename: str, metadata: Mapping, detections: Sequence[Mapping], **options) -> dict:
    """One official per-image result row: filename, tag, prompt, correct, reason, metadata, details.

    metadata and details are JSON strings as in the official output (details = kept boxes
    per class as [x1, y1, x2, y2, score], the mmdet row layout).
    """
    margin = options.pop("margin", POSITION_THRESHOLD)
    objects = filter_detections(detections, metadata["tag"], **options)
    correct, reason = evaluate_objects(objects, metadata, margin)
    details = {cls: [[float(v) for v in d["box"]] + [float(d["score"])] for d in dets] for cls, dets in objects.items()}
    return {
        "filename": str(filename),
        "tag": metadata["tag"],
        "prompt": metadata["prompt"],
        "correct": bool(correct),
        "reason": reason,
        "metadata": json.dumps(metadata),
        "details": json.dumps(details),
    }


def write_geneval_results(path: str | os.PathLike, rows: Iterable[Mapping]) -> Path:
    """Write per-image rows as JSON Lines (the official results.jsonl), atomically."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=p.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(dict(row)) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def read_geneval_results(path: str | os.PathLike) -> list[dict]:
    """Read per-image rows written by write_geneval_results (or the official script)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def summarize_geneval(rows: Iterable[Mapping]) -> dict:
    """Official summary_scores.py: per-tag accuracy over images, overall = unweighted mean of
    the tag scores (tags in first-appearance order), plus the fractions of correct images and
    of correct prompts (a prompt, grouped by its metadata JSON, is correct if any image is)."""
    rows = list(rows)
    if not rows:
        raise ValueError("no GenEval result rows to summarise; evaluate some images first")
    per_tag: dict[str, list[bool]] = {}
    per_prompt: dict[str, bool] = {}
    for r in rows:
        ok = bool(r["correct"])
        per_tag.setdefault(r["tag"], []).append(ok)
        key = r["metadata"] if isinstance(r["metadata"], str) else json.dumps(r["metadata"])
        per_prompt[key] = per_prompt.get(key, False) or ok
    tags = {t: float(np.mean(v)) for t, v in per_tag.items()}
    return {
        "overall": float(np.mean(list(tags.values()))),
        "tags": tags,
        "tag_counts": {t: [int(sum(v)), len(v)] for t, v in per_tag.items()},
        "images": len(rows),
        "prompts": len(per_prompt),
        "frac_correct_images": float(np.mean([bool(r["correct"]) for r in rows])),
        "frac_correct_prompts": float(np.mean(list(per_prompt.values()))),
        "all_tags_present": set(tags) == set(TAGS),
    }


# ----------------------------------------------------------------------------- folder layout


def prompt_dir(outdir: str | os.PathLike, index: int) -> Path:
    """`<outdir>/<index:05>` (official folder name, geneval README)."""
    return Path(outdir) / f"{index:0>5}"


def sample_path(outdir: str | os.PathLike, index: int, sample: int) -> Path:
    """`<outdir>/<index:05>/samples/<sample:04>.png` (README naming; any digits are accepted)."""
    return prompt_dir(outdir, index) / "samples" / f"{sample:04}.png"


def write_prompt_folder(outdir: str | os.PathLike, index: int, metadata: Mapping) -> Path:
    """Create `<index:05>/samples/` and `<index:05>/metadata.jsonl` holding the prompt's single
    JSON object (the official reader uses json.load on it, not JSON Lines)."""
    d = prompt_dir(outdir, index)
    (d / "samples").mkdir(parents=True, exist_ok=True)
    (d / "metadata.jsonl").write_text(json.dumps(metadata) + "\n", encoding="utf-8")
    return d


@dataclass
class PromptFolder:
    index: int
    metadata: dict
    samples: list[Path]


_SAMPLE_RE = re.compile(r"\d+\.png")


def iter_geneval_folder(outdir: str | os.PathLike, expected_samples: int | None = 4) -> Iterator[PromptFolder]:
    """Walk an image folder as the official `main` does (sub-folders with all-digit names,
    `metadata.jsonl` via json.load, `samples/<digits>.png`), in index order.
    expected_samples: images per prompt to enforce (GenEval uses 4); None to accept any."""
    root = Path(outdir)
    if not root.is_dir():
        raise FileNotFoundError(f"GenEval image folder {str(root)!r} not found")
    subs = sorted((p for p in root.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    if not subs:
        raise ValueError(f"{root}: no <00000>-style prompt folders; write them with write_prompt_folder")
    for sub in subs:
        meta_file = sub / "metadata.jsonl"
        try:
            metadata = json.loads(meta_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{meta_file}: cannot read the prompt's metadata ({e}); rewrite it") from None
        problem = _check_metadata(metadata)
        if problem:
            raise ValueError(f"{meta_file}: {problem}")
        sdir = sub / "samples"
        samples = (
            sorted(
                (p for p in sdir.iterdir() if p.is_file() and _SAMPLE_RE.fullmatch(p.name)), key=lambda p: int(p.stem)
            )
            if sdir.is_dir()
            else []
        )
        if expected_samples is not None and len(samples) != expected_samples:
            raise ValueError(
                f"{sdir}: {len(samples)} images, expected {expected_samples}; generate the missing samples"
            )
        yield PromptFolder(int(sub.name), metadata, samples)


def evaluate_geneval_folder(
    outdir: str | os.PathLike, detector, color_classifier=None, expected_samples: int | None = 4, **options
) -> list[dict]:
    """Score every image of an official-layout folder: detect (only the prompt's classes),
    classify the colours the rules will read, apply the rules. `detector` follows
    evaluators.detectors.DetectorBackend, `color_classifier` has `annotate(image, dets, idx)`
    (evaluators.geneval_colors.ColorClassifier). Returns the official per-image rows."""
    from PIL import Image, ImageOps

    rows = []
    for folder in iter_geneval_folder(outdir, expected_samples):
        m = folder.metadata
        classes = sorted({c["class"] for c in m["include"] + m.get("exclude", [])})
        for path in folder.samples:
            image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")  # as the official reader
            dets = detector.detect([image], class_names=classes)[0]
            need = objects_needing_color(m, dets, **{k: v for k, v in options.items() if k != "margin"})
            if need:
                if color_classifier is None:
                    raise ValueError(f"{path}: prompt {m['prompt']!r} has a colour clause; pass a color_classifier")
                color_classifier.annotate(image, dets, need)
            rows.append(geneval_row(str(path), m, dets, **options))
    return rows
