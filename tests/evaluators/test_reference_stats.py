"""Reference-batch loading and the content-keyed, atomic statistics cache."""

from __future__ import annotations

import numpy as np
import pytest

from evaluators import reference_stats as rs
from evaluators.errors import EvaluatorError
from evaluators.metrics import feature_stats


class CountingExtractor:
    def __init__(self, name="fake", version="1"):
        self.name, self.version, self.calls = name, version, 0

    def __call__(self, images):
        self.calls += 1
        x = images.float()
        return {"pool": x.mean((2, 3)), "logits": x.amax((2, 3))}


@pytest.fixture
def batch(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, size=(12, 8, 8, 3), dtype=np.uint8)
    p = tmp_path / "ref.npz"
    np.savez(p, arr_0=imgs)
    return p, imgs


def test_stats_from_images_and_cache_hit(batch, tmp_path):
    p, imgs = batch
    ext = CountingExtractor()
    a = rs.reference_stats(p, ext, cache_dir=tmp_path / "c", batch_size=5)
    assert ext.calls == 3 and a.stats_from == "images" and a.pool.shape == (12, 3)
    mu, sigma = feature_stats(imgs.astype(np.float64).mean((1, 2)))
    np.testing.assert_allclose(a.mu, mu, rtol=1e-6)
    np.testing.assert_allclose(a.sigma, sigma, rtol=1e-5)
    b = rs.reference_stats(p, ext, cache_dir=tmp_path / "c")
    assert ext.calls == 3  # served from cache
    np.testing.assert_array_equal(a.pool, b.pool)
    assert a.source_sha256 == rs.file_sha256(p) == b.source_sha256
    # atomic write: exactly one cache file, no temp leftovers
    assert [f.suffix for f in (tmp_path / "c").iterdir()] == [".npz"]


def test_cache_key_depends_on_content_and_extractor(batch, tmp_path):
    p, imgs = batch
    c = tmp_path / "c"
    rs.reference_stats(p, CountingExtractor(), cache_dir=c)
    ext2 = CountingExtractor(version="2")
    rs.reference_stats(p, ext2, cache_dir=c)
    assert ext2.calls == 1  # a new version never reuses old statistics
    ext3 = CountingExtractor(name="other")
    rs.reference_stats(p, ext3, cache_dir=c)
    assert ext3.calls == 1
    np.savez(p, arr_0=imgs[::-1].copy())  # same file name, new content
    ext4 = CountingExtractor()
    rs.reference_stats(p, ext4, cache_dir=c)
    assert ext4.calls == 1 and len(list(c.iterdir())) == 4
    assert rs.cache_key("a", "b", "c") != rs.cache_key("a", "b", "d")


def test_stored_mu_sigma_used_like_adm(tmp_path):
    imgs = np.zeros((5, 4, 4, 3), np.uint8)
    mu, sigma = np.arange(3.0), np.eye(3) * 2
    p = tmp_path / "ref.npz"
    np.savez(p, arr_0=imgs, mu=mu.astype(np.float32), sigma=sigma)
    ext = CountingExtractor()
    s = rs.reference_stats(p, ext, cache_dir=tmp_path / "c", need_pool=False)
    assert ext.calls == 0 and s.stats_from == "npz" and s.pool is None
    np.testing.assert_array_equal(s.mu, mu)
    assert s.mu.dtype == np.float64
    # Asking for pool features later recomputes them into the cache.
    s2 = rs.reference_stats(p, ext, cache_dir=tmp_path / "c")
    assert ext.calls == 1 and s2.pool.shape == (5, 3) and s2.stats_from == "npz"
    # Recompute-from-images mode ignores the stored stats.
    s3 = rs.reference_stats(p, ext, cache_dir=tmp_path / "c", use_stored_stats=False)
    assert s3.stats_from == "images" and np.allclose(s3.mu, 0)


def test_stats_only_npz_and_errors(tmp_path):
    p = tmp_path / "stats.npz"
    np.savez(p, mu=np.zeros(4), sigma=np.eye(4))
    s = rs.reference_stats(p, CountingExtractor(), cache_dir=tmp_path / "c", need_pool=False)
    assert s.mu.shape == (4,)
    with pytest.raises(EvaluatorError, match="no 'arr_0'"):
        rs.reference_stats(p, CountingExtractor(), cache_dir=tmp_path / "c", need_pool=True)
    with pytest.raises(EvaluatorError, match="not found"):
        rs.reference_stats(tmp_path / "missing.npz", CountingExtractor(), cache_dir=tmp_path / "c")
    bad = tmp_path / "bad.npz"
    np.savez(bad, arr_0=np.zeros((2, 3, 4, 4), np.float32))
    with pytest.raises(EvaluatorError, match="uint8"):
        rs.load_reference_batch(bad)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(EvaluatorError, match="cannot read"):
        rs.load_reference_batch(junk)
    dim = tmp_path / "dim.npz"
    np.savez(dim, arr_0=np.zeros((3, 2, 2, 3), np.uint8), mu=np.zeros(7), sigma=np.eye(7))
    with pytest.raises(EvaluatorError, match="another network"):
        rs.reference_stats(dim, CountingExtractor(), cache_dir=tmp_path / "c")


def test_cache_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv(rs.CACHE_ENV_VAR, raising=False)
    assert rs.resolve_cache_dir() == rs.DEFAULT_CACHE_DIR.expanduser()
    monkeypatch.setenv(rs.CACHE_ENV_VAR, str(tmp_path))
    assert rs.resolve_cache_dir() == tmp_path
    assert rs.resolve_cache_dir(tmp_path / "x") == tmp_path / "x"
