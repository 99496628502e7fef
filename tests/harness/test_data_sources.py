"""Real images and captions through `datasets` (issue 14 item 4): tiny local datasets in the formats users
bring (parquet in a Hub repo's layout, a parquet file, save_to_disk folders, an image folder, a repo id in
the HF cache), streamed; every missing piece is a one-line error naming what and where to get it."""

import numpy as np
import pytest
from PIL import Image

from harness.errors import HarnessError
from harness.trainers import paper_scale as P

CAPTIONS = ["a red car", "two cats on a sofa", "a blue bird", "a green apple"]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """{format: path} of one 4-row dataset (image + caption columns) written in each format."""
    import datasets

    root = tmp_path_factory.mktemp("data-sources")
    images = [Image.fromarray(np.full((20 + 4 * i, 30, 3), 60 * i, np.uint8)) for i in range(4)]  # sizes differ
    feats = datasets.Features({"image": datasets.Image(), "caption": datasets.Value("string")})
    ds = datasets.Dataset.from_dict({"image": images, "caption": CAPTIONS}, features=feats)
    (root / "hub" / "data").mkdir(parents=True)
    ds.to_parquet(root / "hub" / "data" / "train-00000-of-00001.parquet")  # a downloaded Hub repo's layout
    ds.to_parquet(root / "one.parquet")
    ds.save_to_disk(root / "saved")
    datasets.DatasetDict({"train": ds, "validation": ds.select([0])}).save_to_disk(root / "saved-dict")
    ds.remove_columns("image").rename_column("caption", "TEXT").to_parquet(
        root / "laion.parquet"
    )  # LAION's column name
    (root / "folder").mkdir()
    for i, im in enumerate(images):
        im.save(root / "folder" / f"{i}.png")
    # a dataset repo in the HF cache, as `huggingface-cli download --repo-type dataset org/tiny` leaves it
    snap = root / "hf-cache" / "datasets--org--tiny" / "snapshots" / "abc123" / "data"
    snap.mkdir(parents=True)
    (root / "hf-cache" / "datasets--org--tiny" / "refs").mkdir()
    (root / "hf-cache" / "datasets--org--tiny" / "refs" / "main").write_text("abc123")
    ds.to_parquet(snap / "train-00000-of-00001.parquet")
    return root


@pytest.fixture
def env(monkeypatch, sources):
    """Offline, with the test's HF cache; no source configured."""
    for k in (P.PROMPTS_ENV, P.REAL_ENV, P.MAX_CAPTIONS_ENV):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(sources / "hf-cache"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(sources / "hf-datasets"))
    # datasets sleeps 5 s after a shuffled parquet stream stops early (apache/arrow#45214); not needed for 4 rows
    monkeypatch.setattr("datasets.config.SLEEP_TIME_ON_THREADS_SHUTDOWN", 0)
    return monkeypatch


@pytest.mark.parametrize("fmt", ["hub", "one.parquet", "saved", "saved-dict", "hf://org/tiny", "org/tiny"])
def test_captions_stream_from_every_format(env, sources, fmt):
    spec = fmt if "/" in fmt and not fmt.startswith("hub") else str(sources / fmt)
    env.setenv(P.PROMPTS_ENV, spec)
    assert P._prompts() == tuple(CAPTIONS)
    env.setenv(P.MAX_CAPTIONS_ENV, "2")  # only the first captions are read
    assert P._prompts() == tuple(CAPTIONS[:2])


def test_laion_text_column_and_caption_files(env, sources, tmp_path):
    env.setenv(P.PROMPTS_ENV, str(sources / "laion.parquet"))
    assert P._prompts() == tuple(CAPTIONS)
    (tmp_path / "p.txt").write_text("a red car\n\n two cats \n")
    (tmp_path / "p.jsonl").write_text('{"caption": "a red car"}\n{"prompt": "two cats"}\n')
    for name in ("p.txt", "p.jsonl"):  # the plain prompt files keep working
        env.setenv(P.PROMPTS_ENV, str(tmp_path / name))
        assert P._prompts() == ("a red car", "two cats")


@pytest.mark.parametrize("fmt", ["hub", "saved", "folder", "org/tiny"])
def test_real_images_stream_into_a_uint8_pool(env, sources, fmt):
    env.setenv(P.REAL_ENV, fmt if fmt == "org/tiny" else str(sources / fmt))
    P.check_data("imagenet", gan=True)
    pool = P.real_images(n=3, size=16, task="imagenet")
    assert len(pool) == 3 and pool.images.dtype.is_floating_point is False
    x = pool[[0, 2]]
    assert x.shape == (2, 3, 16, 16) and x.min() >= -1 and x.max() <= 1


def _one_line(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg
    return msg


def test_missing_data_are_one_line_errors_naming_what_and_where(env, sources, tmp_path):
    with pytest.raises(HarnessError) as e:  # ImageNet train images: not in the (empty) HF cache, offline
        P.check_data("imagenet", gan=True)
    msg = _one_line(e)
    assert "ILSVRC/imagenet-1k" in msg and "huggingface-cli download --repo-type dataset ILSVRC/imagenet-1k" in msg
    assert P.REAL_ENV in msg
    with pytest.raises(HarnessError) as e:  # t2i captions: nothing configured
        P.check_data("t2i")
    assert P.PROMPTS_ENV in _one_line(e) and "LAION" in _one_line(e)
    env.setenv(P.PROMPTS_ENV, str(sources / "laion.parquet"))
    with pytest.raises(HarnessError) as e:  # the t2i GAN has no default real images
        P.check_data("t2i", gan=True)
    assert P.REAL_ENV in _one_line(e) and "LAION" in _one_line(e)
    env.setenv(P.PROMPTS_ENV, str(tmp_path / "nowhere" / "captions.parquet"))
    with pytest.raises(HarnessError, match="does not exist") as e:
        P._prompts()
    _one_line(e)
    env.setenv(P.PROMPTS_ENV, str(sources / "folder"))  # images, no caption column: the columns are named
    with pytest.raises(HarnessError, match="no caption column.*image") as e:
        P._prompts()
    _one_line(e)
    env.setenv(P.REAL_ENV, str(sources / "laion.parquet"))  # captions, no image column
    with pytest.raises(HarnessError, match="no image column.*TEXT") as e:
        P.check_data("imagenet", gan=True)
    _one_line(e)


def test_sources_are_streamed_not_loaded(env, sources):
    from datasets import IterableDataset

    from harness.data_sources import open_train_split

    for spec in (sources / "hub", sources / "saved", sources / "one.parquet"):
        assert isinstance(open_train_split(str(spec), "test"), IterableDataset)
