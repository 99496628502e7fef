"""The shapes world: a deterministic procedural world of coloured geometric shapes.

Everything is a pure function of a seed: the same seed gives the same scene and the same pixels.
It provides
  (a) class-conditional samples, class = (shape, colour)                    -> `render_class`
  (b) text-conditional scenes with captions in GenEval's grammar            -> `sample_scene`
  (c) the exact ground truth (boxes, masks, classes, colours) of a render   -> `Render.objects`
  (d) a prompt set in GenEval's metadata schema                             -> `prompt_set`
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from evaluators.shapes_geometry import BACKGROUND, COLORS, PALETTE, SHAPES, coverage

NUM_CLASSES = len(SHAPES) * len(COLORS)
TAGS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")
RELATIONS = ("left of", "right of", "above", "below")
NUMBER_WORDS = {2: "two", 3: "three", 4: "four"}
PLURAL = {s: s + "s" for s in SHAPES}


def class_name(label: int) -> str:
    shape, color = class_parts(label)
    return f"{color} {shape}"


def class_parts(label: int) -> tuple[str, str]:
    if not 0 <= label < NUM_CLASSES:
        raise ValueError(f"class label {label} out of range 0..{NUM_CLASSES - 1}")
    return SHAPES[label // len(COLORS)], COLORS[label % len(COLORS)]


def class_label(shape: str, color: str) -> int:
    return SHAPES.index(shape) * len(COLORS) + COLORS.index(color)


@dataclass(frozen=True)
class Obj:
    shape: str
    color: str
    cx: float
    cy: float
    size: int

    @property
    def box(self) -> tuple[float, float, float, float]:
        h = self.size / 2
        return (self.cx - h, self.cy - h, self.cx + h, self.cy + h)


@dataclass
class Render:
    image: np.ndarray  # uint8 [H, W, 3]
    objects: list[Obj]
    masks: list[np.ndarray] = field(default_factory=list)  # bool [H, W] per object (>= half covered)
    caption: str = ""
    metadata: dict | None = None  # GenEval-schema metadata of the caption (text scenes only)


def render(objects: list[Obj], resolution: int = 32) -> Render:
    """Composite objects in order over the background; anti-aliased by supersampled coverage."""
    img = np.empty((resolution, resolution, 3), np.float32)
    img[:] = BACKGROUND
    masks = []
    for o in objects:
        a = coverage(o.shape, o.cx, o.cy, o.size, resolution, resolution)[..., None]
        img = img * (1 - a) + np.asarray(PALETTE[o.color], np.float32) * a
        masks.append(a[..., 0] >= 0.5)
    return Render(np.clip(np.rint(img), 0, 255).astype(np.uint8), list(objects), masks)


def _rng(seed: int) -> np.random.Generator:
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.default_rng(np.random.PCG64(seed))


def _place(rng, size: int, res: int) -> tuple[float, float]:
    # Integer-aligned boxes (centre at a pixel corner for even sizes, a pixel centre for odd ones),
    # so the detector's templates reproduce ground-truth masks exactly.
    lo = size / 2 + 1
    hi = res - size / 2 - 1
    cx = np.floor(rng.uniform(lo, hi) - size / 2) + size / 2
    cy = np.floor(rng.uniform(lo, hi) - size / 2) + size / 2
    return float(cx), float(cy)


def render_class(label: int, seed: int, resolution: int = 32) -> Render:
    """One object of class `label` with random size and position (the class-conditional task)."""
    shape, color = class_parts(label)
    rng = _rng(seed)
    size = int(rng.integers(round(resolution * 0.25), round(resolution * 0.5) + 1))
    cx, cy = _place(rng, size, resolution)
    r = render([Obj(shape, color, cx, cy, size)], resolution)
    r.caption = f"a photo of a {color} {shape}"
    return r


# ---------------------------------------------------------------- text scenes (GenEval grammar)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def caption_for(meta: dict) -> str:
    """GenEval's prompt grammar from a metadata dict (tags as in evaluation_metadata.jsonl)."""
    inc = meta["include"]

    def noun(c: dict) -> str:
        words = ([c["color"]] if "color" in c else []) + [c["class"]]
        return f"{_article(words[0])} {' '.join(words)}"

    tag = meta["tag"]
    if tag in ("single_object", "colors"):
        return f"a photo of {noun(inc[0])}"
    if tag in ("two_object", "color_attr"):
        return f"a photo of {noun(inc[0])} and {noun(inc[1])}"
    if tag == "counting":
        return f"a photo of {NUMBER_WORDS[inc[0]['count']]} {PLURAL[inc[0]['class']]}"
    if tag == "position":
        return f"a photo of {noun(inc[1])} {inc[1]['position'][0]} {noun(inc[0])}"
    raise ValueError(f"unknown GenEval tag {tag!r}")


def parse_tag_mix(spec: str) -> tuple[float, ...] | None:
    """'two_object:2,color_attr:3' -> one weight per tag of TAGS, in TAGS' order (an unnamed tag weighs 1);
    '' -> None, the uniform draw. A tag mix changes which training scenes exist, never the evaluation prompts."""
    if not spec:
        return None
    weights = dict.fromkeys(TAGS, 1.0)
    for item in spec.split(","):
        name, _, raw = item.partition(":")
        name = name.strip()
        if name not in weights:
            raise ValueError(f"tag_mix: unknown tag {name!r}; tags: {', '.join(TAGS)} (e.g. color_attr:2,counting:1.5)")
        try:
            weights[name] = float(raw)
        except ValueError:
            raise ValueError(f"tag_mix: {item!r} is not tag:weight (e.g. color_attr:2)") from None
        if weights[name] < 0:
            raise ValueError(f"tag_mix: weight of {name} is negative ({raw})")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("tag_mix: every weight is 0; give at least one tag a positive weight")
    return tuple(weights[t] / total for t in TAGS)


def random_metadata(
    rng: np.random.Generator, tag: str | None = None, tag_probs: tuple[float, ...] | None = None
) -> dict:
    """A random prompt of one of GenEval's six tags, as a metadata dict; tags uniform unless `tag_probs`."""
    if tag is None:  # the uniform draw keeps its own rng call, so uniform scenes stay what they always were
        tag = TAGS[int(rng.choice(len(TAGS), p=tag_probs))] if tag_probs else TAGS[int(rng.integers(len(TAGS)))]
    pick = lambda seq: seq[int(rng.integers(len(seq)))]
    if tag == "single_object":
        inc = [{"class": pick(SHAPES), "count": 1}]
        return {"tag": tag, "include": inc}
    if tag == "colors":
        return {"tag": tag, "include": [{"class": pick(SHAPES), "count": 1, "color": pick(COLORS)}]}
    a, b = (SHAPES[i] for i in rng.choice(len(SHAPES), 2, replace=False))
    if tag == "two_object":
        return {"tag": tag, "include": [{"class": a, "count": 1}, {"class": b, "count": 1}]}
    if tag == "color_attr":
        ca, cb = (COLORS[i] for i in rng.choice(len(COLORS), 2, replace=False))
        return {"tag": tag, "include": [{"class": a, "count": 1, "color": ca}, {"class": b, "count": 1, "color": cb}]}
    if tag == "counting":
        n = int(rng.integers(2, 5))
        return {"tag": tag, "include": [{"class": a, "count": n}], "exclude": [{"class": a, "count": n + 1}]}
    if tag == "position":
        return {
            "tag": tag,
            "include": [{"class": b, "count": 1}, {"class": a, "count": 1, "position": [pick(RELATIONS), 0]}],
        }
    raise ValueError(f"unknown GenEval tag {tag!r}")


def _disjoint(o: Obj, others: list[Obj], gap: float = 2.0) -> bool:
    x1, y1, x2, y2 = o.box
    for p in others:
        a1, b1, a2, b2 = p.box
        if x1 < a2 + gap and a1 < x2 + gap and y1 < b2 + gap and b1 < y2 + gap:
            return False
    return True


def _relation_holds(a: Obj, b: Obj, rel: str) -> bool:
    """`a rel b` strictly, with a clear dominant axis (|minor| <= 0.3 |major|), so GenEval's rule agrees."""
    dx, dy = a.cx - b.cx, a.cy - b.cy
    gap = 0.1 * (a.size + b.size) + 1
    if rel in ("left of", "right of"):
        ok = dx < -gap if rel == "left of" else dx > gap
        return ok and abs(dy) <= 0.3 * abs(dx)
    ok = dy < -gap if rel == "above" else dy > gap
    return ok and abs(dx) <= 0.3 * abs(dy)


def scene_sizes(resolution: int = 32) -> tuple[int, int]:
    """The smallest and largest side (px) of a text-task object: 6..11 at 32 px."""
    return round(resolution * 0.19), round(resolution * 0.34)


def scene_for(meta: dict, seed: int, resolution: int = 32, max_tries: int = 500) -> Render:
    """A render whose ground truth satisfies `meta`; unconstrained colours are drawn at random."""
    rng = _rng(seed)
    lo, hi = scene_sizes(resolution)
    wanted: list[tuple[str, str | None]] = []
    for c in meta["include"]:
        wanted += [(c["class"], c.get("color"))] * c["count"]
    for _ in range(max_tries):
        objs: list[Obj] = []
        for shape, color in wanted:
            color = color or COLORS[int(rng.integers(len(COLORS)))]
            for _ in range(50):
                size = int(rng.integers(lo, hi + 1))
                cx, cy = _place(rng, size, resolution)
                o = Obj(shape, color, cx, cy, size)
                if _disjoint(o, objs):
                    objs.append(o)
                    break
        if len(objs) != len(wanted):
            continue
        if meta["tag"] == "position" and not _relation_holds(objs[1], objs[0], meta["include"][1]["position"][0]):
            continue
        r = render(objs, resolution)
        r.caption = caption_for(meta)
        r.metadata = {**meta, "prompt": r.caption}
        return r
    raise RuntimeError(f"could not place a scene for {meta} in {max_tries} tries (resolution {resolution} too small?)")


def sample_scene(seed: int, resolution: int = 32, tag_probs: tuple[float, ...] | None = None) -> Render:
    """A random text-conditional training scene: a random tag (uniform, or drawn by `tag_probs`), prompt and
    layout from one seed."""
    rng = _rng(seed)
    meta = random_metadata(rng, tag_probs=tag_probs)
    return scene_for(meta, int(rng.integers(2**31)), resolution)


def prompt_set(seed: int = 0) -> list[dict]:
    """The shapes GenEval prompt set, in the official metadata schema, deterministic by seed.

    single_object: every shape; two_object: every ordered pair; counting: every shape x {2,3,4};
    colors: every (colour, shape); position: every ordered pair x relation; color_attr: 48 sampled.
    """
    rng = _rng(seed)
    rows: list[dict] = []
    for s in SHAPES:
        rows.append({"tag": "single_object", "include": [{"class": s, "count": 1}]})
    pairs = [(a, b) for a in SHAPES for b in SHAPES if a != b]
    for a, b in pairs:
        rows.append({"tag": "two_object", "include": [{"class": a, "count": 1}, {"class": b, "count": 1}]})
    for s in SHAPES:
        for n in (2, 3, 4):
            rows.append(
                {"tag": "counting", "include": [{"class": s, "count": n}], "exclude": [{"class": s, "count": n + 1}]}
            )
    for c in COLORS:
        for s in SHAPES:
            rows.append({"tag": "colors", "include": [{"class": s, "count": 1, "color": c}]})
    for a, b in pairs:
        for rel in RELATIONS:
            rows.append(
                {
                    "tag": "position",
                    "include": [{"class": b, "count": 1}, {"class": a, "count": 1, "position": [rel, 0]}],
                }
            )
    for _ in range(48):
        rows.append(random_metadata(rng, "color_attr"))
    for r in rows:
        r["prompt"] = caption_for(r)
    return rows


# ---------------------------------------------------------------- captions -> token ids

CAPTION_VOCAB: tuple[str, ...] = (
    ("<pad>", "<bos>", "a", "an", "photo", "of", "and", "two", "three", "four", "left", "right", "above", "below")
    + SHAPES
    + tuple(PLURAL.values())
    + COLORS
)
_WORD_ID = {w: i for i, w in enumerate(CAPTION_VOCAB)}
CAPTION_LEN = 12


def encode_caption(caption: str, length: int = CAPTION_LEN) -> np.ndarray:
    """Word ids, <bos> first, padded with <pad>=0. The empty caption is the null condition."""
    words = caption.split()
    unknown = [w for w in words if w not in _WORD_ID]
    if unknown:
        raise ValueError(f"caption {caption!r} has words outside the shapes vocabulary: {unknown}")
    ids = [1] + [_WORD_ID[w] for w in words]
    if len(ids) > length:
        raise ValueError(f"caption {caption!r} is longer than {length - 1} words")
    return np.asarray(ids + [0] * (length - len(ids)), np.int64)
