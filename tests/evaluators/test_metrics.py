"""FID / IS / precision-recall against closed forms, brute force and torch-fidelity's code."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evaluators import metrics
from evaluators.metrics import (
    feature_stats,
    fid_from_features,
    fid_from_stats,
    inception_score,
    manifold_radii,
    precision_recall,
)


def test_feature_stats_float64_and_values():
    x = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    mu, sigma = feature_stats(x)
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    np.testing.assert_allclose(mu, x.astype(np.float64).mean(0))
    np.testing.assert_allclose(sigma, np.cov(x.astype(np.float64), rowvar=False))
    with pytest.raises(ValueError, match="2-D"):
        feature_stats(np.zeros(5))


def test_fid_closed_form_diagonal_gaussians():
    # For diagonal covariances, FID = |mu1-mu2|^2 + sum(a + b - 2 sqrt(ab)).
    a, b = np.array([1.0, 2.0, 0.5]), np.array([3.0, 0.5, 0.5])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    expected = 1 + 0 + 4 + np.sum(a + b - 2 * np.sqrt(a * b))
    assert fid_from_stats(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)


def test_fid_identity_and_matches_torch_fidelity_formula():
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 16))
    y = rng.normal(size=(300, 16)) @ rng.normal(size=(16, 16)) * 0.3 + 0.5
    assert fid_from_features(x, x) == pytest.approx(0.0, abs=1e-8)
    ours = fid_from_features(x, y)
    s1, s2 = feature_stats(x), feature_stats(y)
    ref = fid_statistics_to_metric({"mu": s1[0], "sigma": s1[1]}, {"mu": s2[0], "sigma": s2[1]}, False)
    assert ours == pytest.approx(ref["frechet_inception_distance"], rel=1e-8)
    assert ours > 1.0


def test_fid_singular_covariance_uses_eps_offset(monkeypatch):
    # Fewer samples than dims -> singular covariances; force the non-finite sqrtm branch.
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(5, 10)), rng.normal(size=(5, 10))
    calls = []
    real_sqrtm = metrics._sqrtm

    def flaky(m):
        calls.append(m)
        return np.full_like(m, np.nan) if len(calls) == 1 else real_sqrtm(m)

    monkeypatch.setattr(metrics, "_sqrtm", flaky)
    val = fid_from_features(x, y)
    assert np.isfinite(val) and len(calls) == 2
    s1 = np.cov(x, rowvar=False)
    np.testing.assert_allclose(calls[1], (s1 + 1e-6 * np.eye(10)) @ (np.cov(y, rowvar=False) + 1e-6 * np.eye(10)))


def test_fid_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="feature dims differ"):
        fid_from_features(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="shape mismatch"):
        fid_from_stats(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))


def test_inception_score_limits():
    # Uniform predictions -> IS 1; confident predictions spread over C classes -> IS C.
    assert inception_score(np.zeros((100, 7)), splits=10).mean == pytest.approx(1.0)
    logits = np.full((100, 5), -1e4)
    logits[np.arange(100), np.arange(100) % 5] = 0.0
    res = inception_score(logits, splits=10)
    assert res.mean == pytest.approx(5.0) and res.std == pytest.approx(0.0, abs=1e-9)
    mean, std = res  # NamedTuple unpacks
    assert mean == res.mean


def test_inception_score_matches_torch_fidelity_unshuffled():
    from torch_fidelity.metric_isc import isc_features_to_metric

    logits = np.random.default_rng(3).normal(size=(1003, 20)) * 3
    ours = inception_score(logits, splits=10)
    ref = isc_features_to_metric(torch.from_numpy(logits), splits=10, shuffle=False)
    assert ours.mean == pytest.approx(ref["inception_score_mean"], rel=1e-10)
    assert ours.std == pytest.approx(ref["inception_score_std"], rel=1e-8)


def test_inception_score_splits_are_consecutive():
    # First half confident on class 0, second half on class 1: with 2 consecutive splits each
    # split is a single class (IS 1); shuffling would mix them (IS ~2).
    logits = np.full((10, 2), -1e4)
    logits[:5, 0] = 0
    logits[5:, 1] = 0
    assert inception_score(logits, splits=2).mean == pytest.approx(1.0)
    assert inception_score(logits, splits=1).mean == pytest.approx(2.0)


def _brute_pr(real, fake, k):
    def sq(a, b):
        return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)

    rr = np.sort(sq(real, real), axis=1)[:, k]
    fr = np.sort(sq(fake, fake), axis=1)[:, k]
    precision = (sq(fake, real) <= rr[None, :]).any(1).mean()
    recall = (sq(real, fake) <= fr[None, :]).any(1).mean()
    return precision, recall


def test_precision_recall_matches_brute_force_any_block_size():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(120, 8))
    fake = rng.normal(size=(90, 8)) * 1.3 + 0.4
    expected = _brute_pr(real, fake, 3)
    for block in (7, 64, 4096):
        assert precision_recall(real, fake, k=3, block=block) == pytest.approx(expected)
    assert 0 < expected[0] < 1 and 0 < expected[1] < 1


def test_precision_recall_matches_torch_fidelity():
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    rng = np.random.default_rng(5)
    real, fake = rng.normal(size=(150, 6)), rng.normal(size=(110, 6)) + 0.3
    # torch-fidelity: features_1 = generated, features_2 = real (torch-fidelity `metric_prc.py`)
    ref = calculate_precision_recall_full(torch.from_numpy(fake), torch.from_numpy(real), 3)
    assert precision_recall(real, fake, k=3) == pytest.approx(ref)


def test_radius_is_kth_neighbour_excluding_self_and_ties_count():
    # Points on a line 0,1,2,3,4: the 2nd-NN squared distance of 0 is 4 (to 2).
    pts = np.arange(5, dtype=float)[:, None]
    np.testing.assert_allclose(manifold_radii(pts, k=2), [4, 1, 1, 1, 4])
    # A fake point exactly on a ball's boundary counts (<=, ADM).
    far = [[100.0], [101.0], [102.0]]
    prec, _ = precision_recall(pts, np.array([[-2.0], *far]), k=2)
    assert prec == 0.25
    prec, _ = precision_recall(pts, np.array([[-2.01], *far]), k=2)
    assert prec == 0.0


def test_inception_score_adm_split_size():
    """ADM splits by 5,000 images: 1 split at N=5,000, 10 at 50k, the last split short otherwise."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(12_000, 5)) * 3
    assert inception_score(logits[:5000], split_size=5000).mean == pytest.approx(
        inception_score(logits[:5000], splits=1).mean
    )
    assert inception_score(logits[:10_000], split_size=5000).mean == pytest.approx(
        inception_score(logits[:10_000], splits=2).mean
    )
    three = inception_score(logits, split_size=5000)
    parts = [inception_score(logits[a:b], splits=1).mean for a, b in ((0, 5000), (5000, 10_000), (10_000, 12_000))]
    assert three.mean == pytest.approx(np.mean(parts))
