"""The paper-scale suites (need official weights and, realistically, GPUs).

  imagenet256@1  ADM protocol: 50,000 samples, 50 per class (seed i -> class i mod 1000), Inception
                 pool features and unbiased logits via torch-fidelity's inception-v3-compat, FID
                 against the ADM reference batch's mu/sigma (VIRTUAL_imagenet256_labeled.npz), IS with
                 10 consecutive splits, precision/recall (k=3) against the reference batch's images.
  geneval@1      the official 553 prompts (a local evaluation_metadata.jsonl), 4 images per prompt
                 written in the official folder layout (so djghosh13/geneval can score them too),
                 the detector named by --detector (default mask2former-hf: Mask2Former through
                 transformers, NOT GenEval's checkpoint; mmdet: GenEval's own, needs mmdet 2.x), both
                 recorded in the results, CLIP ViT-L/14 colours, the official rules; overall = mean of
                 the six tag scores.

Files come from the task preset's weights folder; `suite_files` lists what each suite reads, and both
`check_paper_suite` (before any sampling) and `harness doctor --task imagenet|t2i` check that list.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from harness.errors import HarnessError
from harness.presets import file_record
from harness.registry import SUITES, TASKS

GENEVAL_METADATA_ENV = "FPD_GENEVAL_METADATA"
PAPER_SUITES = {n: s.task for n, s in SUITES.items() if TASKS[s.task].scale == "paper"}  # suite -> its task
# GenEval detector choice -> the preset file it reads. The default is a choice, not a fallback: it is named here,
# in `harness eval --help` and in every result; GenEval's own mmdet detector needs mmdet 2.x + mmcv-full 1.7 built.
GENEVAL_DETECTORS = {"mask2former-hf": "mask2former_hf", "mmdet": "mask2former"}
DEFAULT_GENEVAL_DETECTOR = "mask2former-hf"
MMDET_CONFIG = "configs/mask2former/mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco.py"  # GenEval's --model-config
IMAGES_PER_PROMPT = 4


def _preset_file(task: str, key: str) -> Path:
    from harness.presets import get_preset, locate

    preset = get_preset(task)
    path = locate(preset.weight(key))
    if path is None:
        w = preset.weight(key)
        raise HarnessError(
            f"{w.description} not found at {preset.path(key)}; get it from {w.source} "
            f"(or run `harness doctor --task {task}`)"
        )
    return path


def geneval_detector(detector: str | None) -> str:
    """The detector a geneval run uses: `detector`, else the default (never a silent substitute)."""
    name = detector or DEFAULT_GENEVAL_DETECTOR
    if name not in GENEVAL_DETECTORS:
        raise HarnessError(f"unknown --detector {name!r}; choose one of {', '.join(GENEVAL_DETECTORS)}")
    return name


def suite_files(name: str, detector: str | None = None) -> tuple[str, list[str]]:
    """(task, preset keys of every file suite `name` reads): the one list the suite and `harness doctor` check."""
    if name == "imagenet256":
        return "imagenet", ["inception", "adm_ref_batch"]
    if name == "geneval":
        return "t2i", ["geneval_metadata", GENEVAL_DETECTORS[geneval_detector(detector)], "geneval_clip"]
    raise HarnessError(f"{name!r} is not a paper-scale suite; choose one of {', '.join(PAPER_SUITES)}")


def _mmdet_config() -> tuple[Path | None, str]:
    """GenEval's mmdet 2.x config inside the mmdet source checkout, or why it is not there (without importing mmdet)."""
    import importlib.util

    spec = importlib.util.find_spec("mmdet")
    if spec is None or not spec.origin:
        return None, (
            "--detector mmdet needs mmdet 2.x and mmcv-full 1.7, which are not installed (GenEval's setup: "
            "`pip install mmcv-full==1.7.2`, then `git clone -b 2.x https://github.com/open-mmlab/mmdetection` "
            "and `pip install -v -e mmdetection`); or use --detector mask2former-hf"
        )
    cfg = Path(spec.origin).parent.parent / MMDET_CONFIG
    if not cfg.is_file():
        return None, (
            f"mmdet's config {cfg} is missing: install mmdet 2.x from a source checkout (the pip package "
            "has no configs/), or use --detector mask2former-hf"
        )
    return cfg, ""


def suite_problems(
    name: str, detector: str | None = None, metadata: str | Path | None = None, weights_dir: str | Path | None = None
) -> list[str]:
    """What suite `name` lacks on this machine, one phrase each naming where to get it; [] when it can run.

    An explicit metadata file (`--metadata` / $FPD_GENEVAL_METADATA) replaces the preset's."""
    from harness.presets import get_preset, locate, resolve_weights_dir

    task, keys = suite_files(name, detector)
    preset, root = get_preset(task), resolve_weights_dir(weights_dir)
    problems = []
    for key in keys:
        if key == "geneval_metadata" and (metadata or os.environ.get(GENEVAL_METADATA_ENV)):
            continue  # read (and checked line by line) by geneval_metadata_path / read_geneval_metadata
        w = preset.weight(key)
        if locate(w, root) is None:
            problems.append(f"{w.relpath} is missing under {root} (get it from {w.source})")
    if name == "geneval" and geneval_detector(detector) == "mmdet":
        _, why = _mmdet_config()
        if why:
            problems.append(why)
    return problems


def geneval_metadata_path(explicit: str | Path | None = None) -> Path:
    """`--metadata PATH`, else $FPD_GENEVAL_METADATA, else the preset's eval/geneval/evaluation_metadata.jsonl."""
    p = str(explicit) if explicit else os.environ.get(GENEVAL_METADATA_ENV)
    if not p:
        from harness.presets import get_preset, locate

        w = get_preset("t2i").weight("geneval_metadata")
        found = locate(w)
        if found is None:
            raise HarnessError(
                f"GenEval metadata: pass --metadata PATH (or set {GENEVAL_METADATA_ENV}), or put {w.relpath} "
                f"under the t2i weights folder; get it from {w.source} (553 prompts)"
            )
        return found
    if not Path(p).is_file():
        raise HarnessError(
            f"GenEval metadata {p} not found; download prompts/evaluation_metadata.jsonl from djghosh13/geneval"
        )
    return Path(p)


def check_paper_suite(name: str, metadata: str | Path | None = None, detector: str | None = None) -> int | None:
    """Fail before any sampling when anything the suite reads is missing. Returns the protocol's sample count
    where the files decide it (geneval: 4 images per prompt of the metadata file), else None."""
    n = None
    if name == "geneval":  # the prompt file first: a malformed line fails here, naming file:line
        from evaluators import read_geneval_metadata

        n = IMAGES_PER_PROMPT * len(read_geneval_metadata(geneval_metadata_path(metadata)))
    problems = suite_problems(name, detector, metadata)
    if problems:
        raise HarnessError(f"suite {name} cannot run: {'; '.join(problems)}")
    return n


def check_geneval_seeds(seeds: list[int], n_prompts: int) -> None:
    """Seeds 4p..4p+3 are prompt p's images; a run scores whole prompts of the metadata file."""
    if (
        seeds[0] % IMAGES_PER_PROMPT
        or (seeds[-1] + 1) % IMAGES_PER_PROMPT
        or seeds[-1] >= IMAGES_PER_PROMPT * n_prompts
    ):
        raise HarnessError(
            f"--seeds {seeds[0]}-{seeds[-1]}: geneval scores whole prompts ({IMAGES_PER_PROMPT} images "
            f"each, seeds 4p..4p+3) of the {n_prompts} in the metadata file, e.g. 0-{IMAGES_PER_PROMPT * n_prompts - 1}"
        )


def _device() -> torch.device:
    from harness import distributed as D

    return D.device()  # this rank's GPU under torchrun, else the CPU


def run_imagenet256(gen, seeds: list[int], work: Path, batch: int) -> tuple[dict, dict]:
    from evaluators import fid_from_stats, feature_stats, inception_score, precision_recall
    from evaluators.inception import InceptionV3Compat
    from evaluators.reference_stats import reference_stats
    from harness.sampling import load_shards, run_sharded

    device = _device()
    inception = InceptionV3Compat(_preset_file("imagenet", "inception"), device=device)

    def process(images: torch.Tensor, chunk: list[int]) -> dict[str, np.ndarray]:
        f = inception(images)
        return {"pool": f["pool"].numpy(), "logits": f["logits"].numpy()}

    counts = run_sharded(
        work, seeds, lambda ch: torch.tensor([s % 1000 for s in ch]), gen.generate, process, batch, desc="imagenet256"
    )
    r = load_shards(work, seeds)
    ref = reference_stats(_preset_file("imagenet", "adm_ref_batch"), inception, need_pool=True)
    mu, sigma = feature_stats(r["pool"].astype(np.float64))
    prec, rec = precision_recall(ref.pool, r["pool"].astype(np.float64), k=3)
    metrics = {
        "fid": fid_from_stats(mu, sigma, ref.mu, ref.sigma),
        "is": inception_score(r["logits"], split_size=5000).mean,
        "precision": prec,
        "recall": rec,
    }
    return metrics, {
        "sampling": counts,
        "reference_sha256": ref.source_sha256,
        "extractor": f"{inception.name}@{inception.version}",
    }


def _geneval_detector(name: str, device: str):
    """(backend, the files it reads) for a --detector choice; its files were checked before sampling."""
    from evaluators.detectors import get_detector

    if name == "mmdet":
        config, why = _mmdet_config()
        if config is None:
            raise HarnessError(why)
        ckpt = _preset_file("t2i", GENEVAL_DETECTORS[name])
        return get_detector("mmdet", config=config, checkpoint=ckpt, device=device), [
            file_record(config),
            file_record(ckpt),
        ]
    folder = _preset_file("t2i", GENEVAL_DETECTORS[name])
    return get_detector(name, model_dir=folder, device=device), [file_record(folder)]


def run_geneval(
    gen, seeds: list[int], work: Path, batch: int, metadata: str | Path | None = None, detector: str | None = None
) -> tuple[dict, dict]:
    from PIL import Image

    from evaluators import read_geneval_metadata, summarize_geneval
    from evaluators.detectors import is_official
    from evaluators.geneval import evaluate_geneval_folder, sample_path, write_geneval_results, write_prompt_folder
    from evaluators.geneval_colors import ColorClassifier
    from harness.io import atomic_write
    from harness.networks.geneval_clip import load_geneval_clip
    from harness.trainers.paper_scale import tokenize_prompts

    meta_path = geneval_metadata_path(metadata)
    prompts = read_geneval_metadata(meta_path)  # seeds were checked against it before sampling (harness.evaluate)
    folder = work / "images"
    covered = sorted({s // IMAGES_PER_PROMPT for s in seeds})
    for p in covered:  # only the prompts this run scores: the folder then holds exactly 4 images per prompt
        write_prompt_folder(folder, p, prompts[p])
    k = IMAGES_PER_PROMPT
    todo = [s for s in seeds if not sample_path(folder, s // k, s % k).exists()]  # resume: skip written images
    for i in range(0, len(todo), batch):
        chunk = todo[i : i + batch]
        images = gen.generate(tokenize_prompts([prompts[s // k]["prompt"] for s in chunk]), chunk)
        for s, img in zip(chunk, images.permute(0, 2, 3, 1).cpu().numpy()):
            atomic_write(
                sample_path(folder, s // k, s % k), lambda f, im=img: Image.fromarray(im).save(f, format="PNG")
            )
    device, name = _device(), geneval_detector(detector)
    det, det_files = _geneval_detector(name, device)
    clip_path = _preset_file("t2i", "geneval_clip")
    model, transform, tokenizer, clip_cfg = load_geneval_clip(clip_path, device)
    colors = ColorClassifier.from_model(model, transform, tokenizer, device)
    rows = evaluate_geneval_folder(folder, det, colors)
    write_geneval_results(work / "results.jsonl", rows)
    summ = summarize_geneval(rows)
    return {"overall": summ["overall"], **summ["tags"]}, {
        "images": len(rows),
        "prompts": len(covered),
        "images_per_prompt": IMAGES_PER_PROMPT,
        "frac_correct_prompts": summ["frac_correct_prompts"],
        "metadata": file_record(meta_path),
        "detector": det.name,
        "official_detector": is_official(det),
        "detector_files": det_files,
        "color_classifier": {
            "name": colors.name,
            "files": [file_record(clip_path)],
            "config": clip_cfg,
            "objects_classified": colors.classified,
        },
    }
