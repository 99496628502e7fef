"""Real images and captions through Hugging Face `datasets`, streamed: rows are read as they are used.

A source (the value of FPD_REAL_IMAGES / FPD_T2I_PROMPTS, or a task's default dataset id) is one of
  * a folder written by `Dataset.save_to_disk` (a `DatasetDict`'s: its train split),
  * a parquet or arrow file, or a folder of them or of images (`datasets`' packaged parquet, arrow and
    imagefolder loaders; split names come from the file names, as in a Hub repo),
  * a dataset repo id (`org/name` or `hf://org/name`): its snapshot in the local HF cache, as
    `huggingface-cli download --repo-type dataset org/name` leaves it; streamed from the Hub instead
    only when neither HF_DATASETS_OFFLINE nor HF_HUB_OFFLINE is set.
Anything missing is a one-line HarnessError that names the source and where to get it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from harness.errors import HarnessError

IMAGENET_TRAIN = "ILSVRC/imagenet-1k"  # gated on the Hub: accept its terms, `huggingface-cli login`, then download
CAPTION_COLUMNS = ("caption", "prompt", "text", "txt")  # matched case-insensitively (LAION: TEXT)
IMAGE_COLUMNS = ("image", "img", "jpg", "jpeg", "png", "webp")
_REPO_ID = re.compile(r"(hf://)?[\w.-]+/[\w.-]+")


def offline() -> bool:
    return any(
        os.environ.get(k, "").upper() in ("1", "ON", "YES", "TRUE") for k in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
    )


def _hub_cache() -> str:
    from huggingface_hub import constants

    return os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE


def _datasets_cache() -> str | None:
    """HF_DATASETS_CACHE read now, not at import (streaming keeps only lock files there)."""
    return os.environ.get("HF_DATASETS_CACHE") or None


def _fail(what: str, why: str, hint: str) -> HarnessError:
    return HarnessError(f"{what}: {why}; {hint}" if hint else f"{what}: {why}")


def open_train_split(spec: str, what: str, hint: str = ""):
    """The train split of a source as a `datasets.IterableDataset` (nothing read yet)."""
    path = Path(spec).expanduser()
    if path.exists():
        return _local(path, what, hint)
    if _REPO_ID.fullmatch(spec):
        return _hub(spec.removeprefix("hf://"), what, hint)
    raise _fail(what, f"{spec} does not exist", hint)


def _local(path: Path, what: str, hint: str):
    from datasets import DatasetDict, load_dataset, load_from_disk

    try:
        if path.is_dir() and any((path / f).exists() for f in ("state.json", "dataset_dict.json")):
            ds = load_from_disk(str(path))  # memory-mapped arrow: iterating reads row by row
            if isinstance(ds, DatasetDict):
                if "train" not in ds:
                    raise _fail(what, f"{path} has no train split (it has {', '.join(ds)})", hint)
                ds = ds["train"]
            return ds.to_iterable_dataset()
        if path.is_file():
            kind = {".parquet": "parquet", ".arrow": "arrow"}.get(path.suffix)
            if kind is None:
                raise _fail(what, f"{path} is not a parquet or arrow file", hint)
            return load_dataset(kind, data_files=str(path), split="train", streaming=True, cache_dir=_datasets_cache())
        return load_dataset(str(path), split="train", streaming=True, cache_dir=_datasets_cache())
    except HarnessError:
        raise
    except Exception as e:  # noqa: BLE001 - datasets raises many kinds; the user needs one line
        raise _fail(what, f"`datasets` cannot read {path} ({_first_line(e)})", hint) from None


def _hub(repo: str, what: str, hint: str):
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:  # the local HF cache first, never a download
        local = snapshot_download(repo, repo_type="dataset", local_files_only=True, cache_dir=_hub_cache())
        return _local(Path(local), what, hint)
    except LocalEntryNotFoundError:
        pass
    get = (
        f"on a machine with internet run `huggingface-cli download --repo-type dataset {repo}` "
        f"(HF_HUB_CACHE={_hub_cache()})"
    )
    if offline():
        raise _fail(
            what,
            f"dataset {repo} is not in the HF cache and HF_DATASETS_OFFLINE/HF_HUB_OFFLINE is set",
            f"{get}, or {hint}" if hint else get,
        )
    from datasets import load_dataset

    try:
        return load_dataset(repo, split="train", streaming=True, cache_dir=_datasets_cache())
    except Exception as e:  # noqa: BLE001
        raise _fail(what, f"cannot stream dataset {repo} from the Hub ({_first_line(e)})", get) from None


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]


def _columns(ds) -> dict:
    """{column: feature}; a source without declared features shows its first row's values instead."""
    if ds.features is not None:
        return dict(ds.features)
    return dict(next(iter(ds), {}))


def caption_column(ds, what: str, source: str) -> str:
    cols = _columns(ds)
    by_lower = {c.lower(): c for c in cols}
    for name in CAPTION_COLUMNS:
        if name in by_lower:
            return by_lower[name]
    raise HarnessError(
        f"{what}: {source} has no caption column (looked for {', '.join(CAPTION_COLUMNS)}; "
        f"it has {', '.join(cols) or 'none'})"
    )


def image_column(ds, what: str, source: str) -> str:
    from datasets import Image
    from PIL.Image import Image as PILImage

    cols = _columns(ds)
    typed = [c for c, f in cols.items() if isinstance(f, (Image, PILImage))]
    named = [c for c in cols if c.lower() in IMAGE_COLUMNS]
    if typed or named:
        return (typed or named)[0]
    raise HarnessError(
        f"{what}: {source} has no image column (an Image feature or one of {', '.join(IMAGE_COLUMNS)}; "
        f"it has {', '.join(cols) or 'none'})"
    )


def iter_captions(spec: str, what: str, hint: str = "") -> Iterator[str]:
    """Non-empty captions of a source, in its order; only the caption column is read."""
    ds = open_train_split(spec, what, hint)
    col = caption_column(ds, what, spec)
    for row in ds.select_columns([col]):
        text = (row[col] or "").strip()
        if text:
            yield text


def iter_images(spec: str, what: str, hint: str = "", shuffle_seed: int | None = 0, buffer: int = 1000):
    """PIL images of a source, shard order and a `buffer`-row window shuffled (a class-sorted folder still mixes)."""
    ds = open_train_split(spec, what, hint)
    col = image_column(ds, what, spec)
    ds = ds.select_columns([col])
    if shuffle_seed is not None:
        ds = ds.shuffle(seed=shuffle_seed, buffer_size=buffer)
    for row in ds:
        yield row[col]
