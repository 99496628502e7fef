"""FID, Inception Score and precision/recall computed from features, as the ADM evaluator does.

Everything here takes numpy arrays of features or logits (any extractor: Inception-v3 for
ImageNet, the shapes classifier for the shapes world) and works in float64. The definitions
follow openai/guided-diffusion `evaluations/evaluator.py`, which is the community's reference for
ImageNet-256 numbers.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from scipy import linalg
from scipy.special import log_softmax, xlogy


def _as_2d(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a [N, D] array, got shape {x.shape}; reshape it to 2-D")
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {x.dtype}")
    return x.astype(np.float64, copy=False)


def feature_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of [N, D] features, float64 (ADM: np.mean / np.cov(rowvar=False))."""
    f = _as_2d(feats, "feats")
    if f.shape[0] < 2:
        raise ValueError(f"need at least 2 feature rows for a covariance, got {f.shape[0]}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def _sqrtm(m: np.ndarray) -> np.ndarray:
    # scipy >= 1.16 deprecates `disp`; older versions print a warning unless disp=False.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        # Singular products are expected (ReLU features with dead dimensions); the caller checks finiteness
        # and retries with eps on the diagonal, so scipy's warning is noise to a user.
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        try:
            out = linalg.sqrtm(m, disp=False)
        except TypeError:  # `disp` removed
            return linalg.sqrtm(m)
    return out[0] if isinstance(out, tuple) else out


def fid_from_stats(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """Fréchet distance between two Gaussians.

    ||mu1-mu2||² + tr(s1) + tr(s2) - 2 tr(sqrtm(s1·s2)), with scipy's sqrtm as in ADM and
    pytorch-fid; a non-finite sqrtm (singular product) is retried with `eps` added to both
    diagonals, and an imaginary diagonal larger than 1e-3 is an error (TTUR / pytorch-fid).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(
            f"shape mismatch: mu1 {mu1.shape}, sigma1 {s1.shape}, mu2 {mu2.shape}, sigma2 {s2.shape}; "
            "both statistics must come from the same feature layer"
        )
    diff = mu1 - mu2
    covmean = _sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        # pytorch-fid: "fid calculation produces singular product; adding eps to diagonal"
        offset = np.eye(d) * eps
        covmean = _sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            m = float(np.max(np.abs(covmean.imag)))
            raise ValueError(f"FID sqrtm has an imaginary component {m:.3g}; check the statistics")
        covmean = covmean.real
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def fid_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    """FID between two [N, D] feature sets."""
    r, f = _as_2d(real, "real"), _as_2d(fake, "fake")
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"feature dims differ: real {r.shape[1]} vs fake {f.shape[1]}")
    return fid_from_stats(*feature_stats(r), *feature_stats(f))


class InceptionScore(NamedTuple):
    """Inception Score: `mean` is the headline number (ADM reports only it); `std` over splits."""

    mean: float
    std: float


def inception_score(logits: np.ndarray, splits: int = 10, split_size: int | None = None) -> InceptionScore:
    """IS from [N, K] classifier logits, ADM-style.

    ADM evaluator.py `compute_inception_score`: softmax, consecutive (unshuffled) splits,
    per split exp(mean_x KL(p(y|x) || p(y))), mean over splits. ADM uses splits of 5000, i.e.
    10 splits for 50k samples; here split i is rows [i·N//splits, (i+1)·N//splits) (torch-
    fidelity's boundaries with samples_shuffle=False), identical to ADM whenever splits divides
    N, and every row is used otherwise. Pass the *unbiased* logits
    (torch-fidelity `logits_unbiased` = pool3 @ W, no bias, as ADM's `softmax/logits/MatMul` input).
    """
    x = _as_2d(logits, "logits")
    n = x.shape[0]
    if split_size is not None:  # ADM: `for i in range(0, len(preds), split_size)`, the last split may be short
        if split_size < 1:
            raise ValueError(f"split_size must be >= 1, got {split_size}")
        splits = -(-n // split_size)
        bounds = [(lo, min(lo + split_size, n)) for lo in range(0, n, split_size)]
    else:
        bounds = [(i * n // splits, (i + 1) * n // splits) for i in range(splits)] if splits >= 1 else []
    if splits < 1 or n < splits:
        raise ValueError(f"need at least `splits` ({splits}) rows of logits, got {n}")
    logp = log_softmax(x, axis=1)
    p = np.exp(logp)
    scores = []
    for lo, hi in bounds:
        part_p, part_logp = p[lo:hi], logp[lo:hi]
        py = part_p.mean(axis=0, keepdims=True)
        # KL(p||py) = sum p log p - sum p log py; xlogy keeps 0·log 0 = 0 for underflowed classes.
        kl = (part_p * part_logp).sum(axis=1) - xlogy(part_p, py).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    s = np.asarray(scores, np.float64)
    return InceptionScore(float(s.mean()), float(s.std()))


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ADM DistanceBlock: max(|u|² - 2 u·v + |v|², 0), squared Euclidean."""
    d = (a * a).sum(1)[:, None] - 2.0 * (a @ b.T) + (b * b).sum(1)[None, :]
    return np.maximum(d, 0.0)


def manifold_radii(feats: np.ndarray, k: int = 3, block: int = 4096) -> np.ndarray:
    """Squared distance of each point to its k-th nearest neighbour in its own set.

    ADM ManifoldEstimator.manifold_radii: index k of the sorted distance row, self (0) at
    index 0. Computed in row×column blocks keeping the k+1 smallest per row, so memory is
    O(block²) whatever N is; the result is exact (independent of `block`).
    """
    f = _as_2d(feats, "feats")
    n = f.shape[0]
    if n <= k:
        raise ValueError(f"need more than k={k} points for k-NN radii, got {n}")
    radii = np.empty(n, np.float64)
    for r0 in range(0, n, block):
        rows = f[r0 : r0 + block]
        best = np.full((rows.shape[0], 0), np.inf)
        for c0 in range(0, n, block):
            cand = np.concatenate([best, _sq_dists(rows, f[c0 : c0 + block])], axis=1)
            kk = min(k + 1, cand.shape[1])
            best = np.partition(cand, kk - 1, axis=1)[:, :kk]
        radii[r0 : r0 + block] = np.sort(best, axis=1)[:, k]
    return radii


def _coverage(points: np.ndarray, centres: np.ndarray, radii: np.ndarray, block: int) -> np.ndarray:
    """For each point: is it within (<=) the radius of ANY centre (ADM `less_thans`)."""
    inside = np.zeros(points.shape[0], bool)
    for r0 in range(0, points.shape[0], block):
        rows = points[r0 : r0 + block]
        hit = np.zeros(rows.shape[0], bool)
        for c0 in range(0, centres.shape[0], block):
            d = _sq_dists(rows, centres[c0 : c0 + block])
            hit |= (d <= radii[None, c0 : c0 + block]).any(axis=1)
        inside[r0 : r0 + block] = hit
    return inside


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3, block: int = 4096) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al.) with ADM's conventions.

    precision = fraction of fake points inside any real k-NN ball; recall = fraction of real
    points inside any fake k-NN ball; squared Euclidean distances, `<=`, k=3 (ADM). ADM
    computes distances in fp16, here float64, so expect ~1e-3 differences from ADM's numbers
    (lavinal712/ADM-evaluation-suite-pytorch README). Returns (precision, recall).
    """
    r, f = _as_2d(real, "real"), _as_2d(fake, "fake")
    if r.shape[1] != f.shape[1]:
        raise ValueError(f"feature dims differ: real {r.shape[1]} vs fake {f.shape[1]}")
    r_radii, f_radii = manifold_radii(r, k, block), manifold_radii(f, k, block)
    precision = _coverage(f, r, r_radii, block).mean()
    recall = _coverage(r, f, f_radii, block).mean()
    return float(precision), float(recall)
