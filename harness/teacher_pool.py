"""A cached pool of 16-step teacher samples per condition: the positives of `positives=teacher|mix:α`.

The data-free extension beyond the paper replaces FPD's paired targets with independent samples of the
teacher's own multistep sampler, drawn once and reused by every run and seed. The pool is:
  - per condition: the 24 classes of `shapes`, or `pool_captions` captions of `shapes-t2i` (caption c is the
    training-scene caption of seed POOL_SEED_BASE + c), each with `per_cond` samples; a text run then trains on
    these captions, in blocks of one caption (per_cond);
  - seed-keyed: sample j of condition c is the teacher's sample of seed POOL_SEED_BASE + j·M + c (M conditions),
    seeds that neither reported rows, validation nor training statistics use, so a larger per_cond extends a pool;
  - fingerprinted by the teacher's sha256, its sampler preset and the conditions: a folder made by another teacher
    is refused in one line;
  - resumable: it is generated in shards, a killed generation continues where it stopped;
  - costed: the seconds spent generating it are stored, and a trainer adds them to its training cost.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from harness.errors import HarnessError
from harness.io import write_json

POOL_SEED_BASE = 3_000_000
POOL_PROTOCOL = "teacher-pool@1"
TEACHER_STEPS = 16
TASKS = ("shapes", "shapes-t2i")


def default_folder(task: str) -> Path:
    cache = Path(os.environ.get("FPD_CACHE_DIR", Path.home() / ".cache" / "fpd-harness"))
    return cache / "teacher-pools" / task


def pool_conditions(task: str, captions: int) -> torch.Tensor:
    """The pool's M conditions: class labels 0..23, or the encoded captions of `captions` training scenes."""
    from harness.tasks import shapes as S

    if task == "shapes":
        return torch.arange(S.NUM_CLASSES)
    caps = [
        S.encode_caption(S.caption_for(S.random_metadata(np.random.default_rng(POOL_SEED_BASE + c))))
        for c in range(captions)
    ]
    return torch.from_numpy(np.stack(caps))


class TeacherPool:
    """per_cond teacher samples of each of M conditions: images[c, j] (float in [-1, 1]), conds[c]."""

    def __init__(self, images: torch.Tensor, conds: torch.Tensor, meta: dict):
        self.images, self.conds, self.meta = images, conds, meta

    @property
    def num_conds(self) -> int:
        return self.images.shape[0]

    @property
    def per_cond(self) -> int:
        return self.images.shape[1]

    def draw(self, index: list[int], generator: torch.Generator) -> torch.Tensor:
        """One pool sample of each condition index, chosen uniformly by `generator` (a step's own stream)."""
        j = torch.randint(0, self.per_cond, (len(index),), generator=generator)
        return self.images[torch.as_tensor(index), j]


def build_pool(
    task: str, per_cond: int, captions: int = 256, folder: Path | None = None, batch: int = 250
) -> TeacherPool:
    """The pool of `task`: read from its folder, made (or completed) there first. The default folder is named by
    its fingerprint; an explicit one that holds another teacher's pool is refused in one line."""
    from harness.fingerprint import claim_folder, fingerprint
    from harness.generators import build_generator
    from harness.sampling import load_shards, run_sharded
    from harness.tasks.shapes_data import to_float

    if task not in TASKS:
        raise HarnessError(f"positives=teacher|mix is built for the shapes tasks ({', '.join(TASKS)}), not {task}")
    if per_cond < 1 or captions < 1:
        raise HarnessError(f"pool_per_cond and pool_captions must be >= 1, got {per_cond} and {captions}")
    conds = pool_conditions(task, captions)
    m = len(conds)
    gen = build_generator("teacher", task, TEACHER_STEPS)
    ident = {
        "protocol": POOL_PROTOCOL,
        "seed_base": POOL_SEED_BASE,
        "task": task,
        "conditions": hashlib.sha256(conds.numpy().tobytes()).hexdigest()[:16],
    }
    fp = fingerprint(gen.describe, ident)
    folder = Path(folder) if folder else default_folder(task) / fp["id"]
    try:
        claim_folder(folder, fp)
    except HarnessError as e:  # name the fix in this command's terms
        raise HarnessError(
            str(e).split("; pass another")[0] + "; set pool_dir= to another folder or delete that one"
        ) from None
    seeds = list(range(POOL_SEED_BASE, POOL_SEED_BASE + m * per_cond))
    work = folder / "shards_pool"
    t0 = time.perf_counter()
    counts = run_sharded(
        work,
        seeds,
        lambda ch: conds[[(s - POOL_SEED_BASE) % m for s in ch]],
        gen.generate,
        lambda images, chunk: {"image": images.numpy()},
        batch,
        desc="teacher pool",
    )
    cost_path = folder / "cost.json"
    cost = json.loads(cost_path.read_text()) if cost_path.exists() else {"generation_s": 0.0, "samples": 0}
    if counts["generated"]:
        cost = {
            "generation_s": cost["generation_s"] + time.perf_counter() - t0,
            "samples": cost["samples"] + counts["generated"],
        }
        write_json(cost_path, cost)
    images = torch.from_numpy(np.ascontiguousarray(load_shards(work, seeds)["image"]))  # [K·M, 3, H, W] uint8
    per = to_float(images).reshape(per_cond, m, *images.shape[1:])  # seed j·M + c -> [j, c]
    meta = {
        "folder": str(folder),
        "fingerprint": fp["id"],
        "teacher_sha256": fp["generator"]["networks"]["teacher"],
        "sampler_preset": gen.describe.get("sampler_preset"),
        "teacher_steps": TEACHER_STEPS,
        "task": task,
        "conditions": m,
        "per_cond": per_cond,
        "seed_base": POOL_SEED_BASE,
        **cost,
    }
    return TeacherPool(per.transpose(0, 1).contiguous(), conds, meta)
