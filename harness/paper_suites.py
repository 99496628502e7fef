"""The paper-scale suites (need official weights and, realistically, GPUs).

  imagenet256@1  ADM protocol: 50,000 samples, 50 per class (seed i -> class i mod 1000), Inception
                 pool features and unbiased logits via torch-fidelity's inception-v3-compat, FID
                 against the ADM reference batch's mu/sigma (VIRTUAL_imagenet256_labeled.npz), IS with
                 10 consecutive splits, precision/recall (k=3) against the reference batch's images.
  geneval@1      the official 553 prompts (a local evaluation_metadata.jsonl), 4 images per prompt
                 written in the official folder layout (so djghosh13/geneval can score them too),
                 a detector backend (mmdet if installed, else Mask2Former through transformers —
                 NOT GenEval's official checkpoint, recorded in the results), CLIP ViT-L/14 colours,
                 the official rules; overall = mean of the six tag scores.

Files come from the task preset's weights folder (`harness doctor --task imagenet|t2i`).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from harness.errors import HarnessError
from harness.registry import SUITES

GENEVAL_METADATA_ENV = "FPD_GENEVAL_METADATA"


def _preset_file(task: str, key: str) -> Path:
    from harness.presets import get_preset
    preset = get_preset(task)
    path = preset.path(key)
    if not path.exists():
        w = preset.weight(key)
        raise HarnessError(f"{w.description} not found at {path}; get it from {w.source} "
                           f"(or run `harness doctor --task {task}`)")
    return path


def geneval_metadata_path(explicit: str | Path | None = None) -> Path:
    """`--metadata PATH`, else $FPD_GENEVAL_METADATA."""
    p = str(explicit) if explicit else os.environ.get(GENEVAL_METADATA_ENV)
    if not p:
        raise HarnessError(f"pass --metadata PATH (or set {GENEVAL_METADATA_ENV}) to GenEval's evaluation_metadata.jsonl "
                           "(djghosh13/geneval prompts/evaluation_metadata.jsonl; 553 prompts)")
    if not Path(p).is_file():
        raise HarnessError(f"GenEval metadata {p} not found; download prompts/evaluation_metadata.jsonl from djghosh13/geneval")
    return Path(p)


def check_paper_suite(name: str, metadata: str | Path | None = None) -> None:
    """Fail before any sampling when a required evaluation file is missing."""
    if name == "imagenet256":
        _preset_file("imagenet", "inception")
        _preset_file("imagenet", "adm_ref_batch")
    elif name == "geneval":
        from evaluators import read_geneval_metadata
        read_geneval_metadata(geneval_metadata_path(metadata))  # a malformed line fails here, naming file:line
        _preset_file("t2i", "geneval_clip")


def run_imagenet256(gen, seeds: list[int], work: Path, batch: int) -> tuple[dict, dict]:
    from evaluators import fid_from_stats, feature_stats, inception_score, precision_recall
    from evaluators.inception import InceptionV3Compat
    from evaluators.reference_stats import reference_stats
    from harness.sampling import load_shards, run_sharded
    device = "cuda" if torch.cuda.is_available() else "cpu"
    inception = InceptionV3Compat(_preset_file("imagenet", "inception"), device=device)

    def process(images: torch.Tensor, chunk: list[int]) -> dict[str, np.ndarray]:
        f = inception(images)
        return {"pool": f["pool"].numpy(), "logits": f["logits"].numpy()}

    counts = run_sharded(work, seeds, lambda ch: torch.tensor([s % 1000 for s in ch]), gen.generate, process, batch,
                         desc="imagenet256")
    r = load_shards(work, seeds)
    ref = reference_stats(_preset_file("imagenet", "adm_ref_batch"), inception, need_pool=True)
    mu, sigma = feature_stats(r["pool"].astype(np.float64))
    prec, rec = precision_recall(ref.pool, r["pool"].astype(np.float64), k=3)
    metrics = {"fid": fid_from_stats(mu, sigma, ref.mu, ref.sigma), "is": inception_score(r["logits"], split_size=5000).mean,
               "precision": prec, "recall": rec}
    return metrics, {"sampling": counts, "reference_sha256": ref.source_sha256, "extractor": f"{inception.name}@{inception.version}"}


def run_geneval(gen, seeds: list[int], work: Path, batch: int, metadata: str | Path | None = None) -> tuple[dict, dict]:
    from PIL import Image

    from evaluators import read_geneval_metadata, summarize_geneval
    from evaluators.detectors import get_detector
    from evaluators.geneval import evaluate_geneval_folder, sample_path, write_geneval_results, write_prompt_folder
    from evaluators.geneval_colors import ColorClassifier
    from harness.io import atomic_write
    prompts = read_geneval_metadata(geneval_metadata_path(metadata))
    encode = getattr(gen, "encode_prompts", None)
    if encode is None:
        raise HarnessError("this generator cannot take text prompts; geneval needs a text-conditioned task (t2i)")
    folder = work / "images"
    for p, meta in enumerate(prompts):
        write_prompt_folder(folder, p, meta)
    todo = [s for s in seeds if not sample_path(folder, s // 4, s % 4).exists()]  # resume: skip written images
    for i in range(0, len(todo), batch):
        chunk = todo[i:i + batch]
        images = gen.generate(encode([prompts[s // 4]["prompt"] for s in chunk]), chunk)
        for s, img in zip(chunk, images.permute(0, 2, 3, 1).cpu().numpy()):
            atomic_write(sample_path(folder, s // 4, s % 4), lambda f, im=img: Image.fromarray(im).save(f, format="PNG"))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        detector = get_detector("mmdet")
    except Exception:
        detector = get_detector("mask2former-hf", model_dir=_preset_file("t2i", "mask2former_hf"), device=device)
    colors = ColorClassifier(_preset_file("t2i", "geneval_clip"), device=device)
    rows = evaluate_geneval_folder(folder, detector, colors)
    write_geneval_results(work / "results.jsonl", rows)
    summ = summarize_geneval(rows)
    return {"overall": summ["overall"], **summ["tags"]}, {"images": len(rows), "detector": detector.name,
                                                         "official_detector": detector.name == "mmdet"}


def register_suites() -> None:
    from harness.evaluate import Suite
    SUITES["imagenet256"] = Suite("imagenet256", "imagenet256-adm@1", "imagenet", 50_000, run_imagenet256)
    SUITES["geneval"] = Suite("geneval", "geneval@1", "t2i", 553 * 4, run_geneval)
