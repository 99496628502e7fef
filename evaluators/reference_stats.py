"""Reference statistics (mu, sigma) and pool features from an ADM-format reference batch, cached.

ADM reference batches (e.g. `VIRTUAL_imagenet256_labeled.npz`, guided-diffusion `evaluations/README.md`) are `.npz`
files with `arr_0` (uint8 [N, H, W, 3] images, 10k for ImageNet-256) and/or precomputed `mu`,
`sigma`. As ADM's `read_statistics` does, stored `mu`/`sigma` are used for FID when present
(they are the whole-dataset statistics; the 10k images serve precision/recall); otherwise they
are computed from the images' pool features.

The cache key is sha256(file content) + extractor name + extractor version, never a user-given
name, so a changed file or a different feature network can never reuse stale statistics.
Writes are atomic (temp file, fsync, os.replace; docs/references/design.md §4).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluators.errors import EvaluatorError
from evaluators.features import FeatureExtractor, run_extractor
from evaluators.metrics import feature_stats

DEFAULT_CACHE_DIR = Path("~/.cache/fpd-harness/refstats")
CACHE_ENV_VAR = "FPD_REFSTATS_CACHE"


@dataclass
class ReferenceStats:
    """FID statistics and (optionally) per-image pool features of a reference batch."""

    mu: np.ndarray
    sigma: np.ndarray
    pool: np.ndarray | None
    source_sha256: str
    extractor: str
    extractor_version: str
    stats_from: str  # "npz" (stored mu/sigma, ADM read_statistics) or "images"


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """sha256 of a file's bytes, streamed (reference batches are ~2 GB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def cache_key(source_sha256: str, extractor_name: str, extractor_version: str) -> str:
    """Key of one (file content, feature space) pair."""
    blob = json.dumps([source_sha256, extractor_name, extractor_version]).encode()
    return hashlib.sha256(blob).hexdigest()


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Explicit dir, else $FPD_REFSTATS_CACHE, else ~/.cache/fpd-harness/refstats."""
    d = cache_dir or os.environ.get(CACHE_ENV_VAR) or DEFAULT_CACHE_DIR
    return Path(d).expanduser()


def atomic_save_npz(path: Path, **arrays: np.ndarray) -> None:
    """np.savez to a temp file in the same dir, fsync, then os.replace (never a torn file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_reference_batch(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an ADM reference `.npz`; validates `arr_0` (uint8 NHWC) and `mu`/`sigma` shapes."""
    p = Path(path)
    if not p.is_file():
        raise EvaluatorError(
            f"reference batch {str(p)!r} not found; pass the path of the ADM .npz "
            "(e.g. VIRTUAL_imagenet256_labeled.npz)"
        )
    try:
        with np.load(p, allow_pickle=False) as z:
            keys = set(z.files)
            out = {k: z[k] for k in ("arr_0", "mu", "sigma") if k in keys}
    except (OSError, ValueError) as e:
        raise EvaluatorError(f"cannot read reference batch {str(p)!r} as .npz ({e}); re-download it") from e
    if "arr_0" not in out and "mu" not in out:
        raise EvaluatorError(
            f"{str(p)!r} has neither 'arr_0' images nor 'mu'/'sigma' (keys: "
            f"{sorted(keys)}); it is not an ADM reference batch"
        )
    if ("mu" in out) != ("sigma" in out):
        raise EvaluatorError(f"{str(p)!r} has only one of 'mu'/'sigma'; both are needed")
    if "arr_0" in out:
        a = out["arr_0"]
        if a.dtype != np.uint8 or a.ndim != 4 or a.shape[-1] != 3:
            raise EvaluatorError(f"{str(p)!r}: arr_0 must be uint8 [N, H, W, 3], got {a.dtype} {a.shape}")
    if "mu" in out:
        mu, sigma = out["mu"], out["sigma"]
        if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
            raise EvaluatorError(f"{str(p)!r}: mu {mu.shape} / sigma {sigma.shape} are not [D] / [D, D]")
    return out


def reference_stats(
    path: str | os.PathLike,
    extractor: FeatureExtractor,
    *,
    need_pool: bool = True,
    use_stored_stats: bool = True,
    cache_dir: str | os.PathLike | None = None,
    batch_size: int = 250,
) -> ReferenceStats:
    """Statistics of a reference batch in `extractor`'s feature space, computed once and cached.

    need_pool: also return the images' pool features (precision/recall needs them).
    use_stored_stats: use the npz's `mu`/`sigma` when present (ADM); they must have been
    computed in the same feature space (true for ADM batches + inception-v3-compat).
    """
    src = Path(path)
    sha = file_sha256(src) if src.is_file() else ""
    if not sha:
        load_reference_batch(src)  # raises the one-line "not found" error
    name, version = extractor.name, extractor.version
    tag = "stored" if use_stored_stats else "computed"
    cache_file = resolve_cache_dir(cache_dir) / f"{cache_key(sha, name, version)}-{tag}.npz"

    if cache_file.is_file():
        with np.load(cache_file, allow_pickle=False) as z:
            if not need_pool or "pool" in z.files:
                return ReferenceStats(
                    z["mu"],
                    z["sigma"],
                    z["pool"] if "pool" in z.files else None,
                    sha,
                    name,
                    version,
                    str(z["stats_from"]),
                )

    batch = load_reference_batch(src)
    stored = use_stored_stats and "mu" in batch
    pool = None
    if need_pool or not stored:
        if "arr_0" not in batch:
            raise EvaluatorError(
                f"{str(src)!r} has no 'arr_0' images, so pool features (precision/"
                "recall) cannot be computed; use a batch with images or need_pool=False"
            )
        pool = run_extractor(extractor, batch["arr_0"], batch_size)["pool"]
    if stored:
        mu, sigma = batch["mu"].astype(np.float64), batch["sigma"].astype(np.float64)
        if pool is not None and pool.shape[1] != mu.shape[0]:
            raise EvaluatorError(
                f"stored mu has dim {mu.shape[0]} but {name} features have dim "
                f"{pool.shape[1]}; the npz stats are from another network, "
                "pass use_stored_stats=False"
            )
    else:
        mu, sigma = feature_stats(pool)
    arrays = {"mu": mu, "sigma": sigma, "stats_from": np.array("npz" if stored else "images")}
    if pool is not None:
        arrays["pool"] = pool
    atomic_save_npz(cache_file, **arrays)
    return ReferenceStats(mu, sigma, pool, sha, name, version, str(arrays["stats_from"]))
