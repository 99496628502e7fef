"""A cached pool of 16-step teacher samples per condition: the positives of `positives=teacher|mix:α`.

The data-free extension beyond the paper replaces FPD's paired targets with independent samples of the
teacher's own multistep sampler, drawn once and reused by every run and seed. The pool is:
  - seed-keyed: sample j of class c is the teacher's sample of seed POOL_SEED_BASE + j·C + c (class = seed mod C,
    as every shapes suite maps seeds to classes), seeds that neither reported rows, validation nor training
    statistics use;
  - fingerprinted by the teacher's sha256 and its sampler preset: a folder made by another teacher is refused;
  - resumable: it is generated in shards, a killed generation continues where it stopped;
  - costed: the seconds spent generating it are stored, and a trainer adds them to its training cost.
"""
from __future__ import annotations

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


def default_folder(task: str) -> Path:
    cache = Path(os.environ.get("FPD_CACHE_DIR", Path.home() / ".cache" / "fpd-harness"))
    return cache / "teacher-pools" / task


def pool_seeds(num_classes: int, per_class: int) -> list[int]:
    return list(range(POOL_SEED_BASE, POOL_SEED_BASE + num_classes * per_class))


class TeacherPool:
    """per_class teacher samples of each class, as float images in [-1, 1]: images[c, j]."""

    def __init__(self, images: torch.Tensor, meta: dict):
        self.images, self.meta = images, meta

    @property
    def per_class(self) -> int:
        return self.images.shape[1]

    def draw(self, labels: list[int], generator: torch.Generator) -> torch.Tensor:
        """One pool sample of each label, chosen uniformly by `generator` (a step's own stream: resumes exactly)."""
        j = torch.randint(0, self.per_class, (len(labels),), generator=generator)
        return self.images[torch.as_tensor(labels), j]


def build_pool(task: str, per_class: int, folder: Path | None = None, batch: int = 250) -> TeacherPool:
    """The pool of `task` with per_class samples per class: read from its folder, made (or completed) there first.
    The folder is bound to one teacher and sampler: the default one is named by its fingerprint, an explicit one
    that holds another teacher's pool is refused in one line."""
    from harness.fingerprint import claim_folder, fingerprint
    from harness.generators import build_generator
    from harness.sampling import load_shards, run_sharded
    from harness.tasks import shapes as S
    from harness.tasks.shapes_data import to_float
    if task != "shapes":
        raise HarnessError(f"positives=teacher|mix is built for the class task (--task shapes), not {task}")
    if per_class < 1:
        raise HarnessError(f"pool_per_class must be >= 1, got {per_class}")
    gen = build_generator("teacher", task, TEACHER_STEPS)
    fp = fingerprint(gen.describe, {"protocol": POOL_PROTOCOL, "seed_base": POOL_SEED_BASE})
    folder = Path(folder) if folder else default_folder(task) / fp["id"]
    try:
        claim_folder(folder, fp)
    except HarnessError as e:   # name the fix in this command's terms
        raise HarnessError(str(e).split("; pass another")[0] + "; set pool_dir= to another folder or delete that one") from None
    seeds = pool_seeds(S.NUM_CLASSES, per_class)
    work = folder / "shards_pool"
    t0 = time.perf_counter()
    counts = run_sharded(work, seeds, lambda ch: torch.tensor([s % S.NUM_CLASSES for s in ch]), gen.generate,
                         lambda images, chunk: {"image": images.numpy()}, batch, desc="teacher pool")
    cost_path = folder / "cost.json"
    cost = json.loads(cost_path.read_text()) if cost_path.exists() else {"generation_s": 0.0, "samples": 0}
    if counts["generated"]:
        cost = {"generation_s": cost["generation_s"] + time.perf_counter() - t0,
                "samples": cost["samples"] + counts["generated"]}
        write_json(cost_path, cost)
    images = torch.from_numpy(np.ascontiguousarray(load_shards(work, seeds)["image"]))   # [K·C, 3, H, W] uint8
    per = to_float(images).reshape(per_class, S.NUM_CLASSES, *images.shape[1:])            # seed j·C + c -> [j, c]
    meta = {"folder": str(folder), "fingerprint": fp["id"], "teacher_sha256": fp["generator"]["networks"]["teacher"],
            "sampler_preset": gen.describe.get("sampler_preset"), "teacher_steps": TEACHER_STEPS,
            "per_class": per_class, "seed_base": POOL_SEED_BASE, **cost}
    return TeacherPool(per.transpose(0, 1).contiguous(), meta)
