"""Seed-keyed, sharded, resumable sampling with streamed features (docs/references/design.md §2).

Sample i depends only on seed i and its condition. Work is cut into chunks of seeds; each finished
chunk is written atomically as `<work>/shard_<first seed>.npz` holding its seeds and per-sample
outputs (features, logits, anything the suite computes) — images only when asked. A re-run reads
the shards, skips finished seeds and does the rest, whatever the batch size or process count.
Under torchrun, rank r takes chunks r, r+W, r+2W, ...
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm import tqdm

from harness import distributed as D
from harness.io import write_bytes


def finished_seeds(work: Path) -> set[int]:
    done: set[int] = set()
    for f in sorted(Path(work).glob("shard_*.npz")):
        with np.load(f) as z:
            done.update(int(s) for s in z["seeds"])
    return done


def load_shards(work: Path, seeds: Sequence[int]) -> dict[str, np.ndarray]:
    """All per-sample arrays of `seeds`, in the order of `seeds` (each seed exactly once)."""
    parts: dict[int, dict[str, np.ndarray]] = {}
    for f in sorted(Path(work).glob("shard_*.npz")):
        with np.load(f) as z:
            keys = [k for k in z.files if k != "seeds"]
            for j, s in enumerate(z["seeds"]):
                parts[int(s)] = {k: z[k][j] for k in keys}
    missing = [s for s in seeds if s not in parts]
    if missing:
        raise RuntimeError(f"{len(missing)} seeds have no results in {work} (first: {missing[:3]})")
    keys = list(parts[seeds[0]])
    return {k: np.stack([parts[s][k] for s in seeds]) for k in keys}


def run_sharded(
    work: Path,
    seeds: Sequence[int],
    cond_of: Callable[[list[int]], torch.Tensor],
    generate: Callable[[torch.Tensor, list[int]], torch.Tensor],
    process: Callable[[torch.Tensor, list[int]], dict[str, np.ndarray]],
    batch: int = 250,
    desc: str = "sampling",
) -> dict:
    """Generate and process every unfinished seed; returns counts (generated now / skipped)."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    done = finished_seeds(work)
    todo = [s for s in seeds if s not in done]
    chunks = [todo[i : i + batch] for i in range(0, len(todo), batch)]
    mine = chunks[D.rank() :: D.world()]
    for chunk in tqdm(mine, desc=desc, disable=not D.is_main() or not mine, dynamic_ncols=True):
        images = generate(cond_of(chunk), chunk)
        out = process(images, chunk)
        buf = io.BytesIO()
        np.savez(buf, seeds=np.asarray(chunk, np.int64), **out)
        write_bytes(work / f"shard_{chunk[0]:09d}.npz", buf.getvalue())
    D.barrier()
    return {"generated": len(todo), "skipped": len(seeds) - len(todo)}
