"""`harness eval`: named suites with a protocol id and version; results JSON + a leaderboard row.

Suites (docs/references/design.md §3):
  shapes-fid@1      class-conditional shapes, N samples (seed i -> class i mod 24), FID / IS / P / R on
                    the shapes classifier's features against held-out renders, plus the share of
                    samples the exact detector judges correct (shape and colour).
  shapes-geneval@1  the shapes prompt set (GenEval schema), 4 images per prompt (seed 4p + j), the
                    official GenEval rules on the exact shapes detector; overall = mean of six tags.
  imagenet256 / geneval (paper scale) live in harness.paper_suites and need official weights.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from evaluators import fid_from_features, inception_score, precision_recall, score_geneval, summarize_geneval
from evaluators.shapes_classifier import ShapesClassifierExtractor
from evaluators.shapes_detector import detect_shapes
from evaluators.shapes_stats import main_object, summarize_objects
from harness import distributed as D
from harness.errors import HarnessError
from harness.fingerprint import claim_folder, fingerprint
from harness.io import lock_folder, runs_root, write_json
from harness.registry import SUITES, Suite, method_label
from harness.tasks import shapes as S
from harness.tasks.shapes_data import class_dataset


def _classifier():
    from harness.trainers.evaluator_nets import load_classifier

    net, version = load_classifier()
    return ShapesClassifierExtractor(net, version, device=D.device())  # features come back on the CPU


_REF_CACHE: dict = {}


def shapes_reference(ext: ShapesClassifierExtractor, n_ref: int = 5000) -> dict[str, np.ndarray]:
    """Classifier features of n_ref held-out real renders (the 'eval' split: never trained on).

    Cached in memory and on disk (`$FPD_CACHE_DIR`, default ~/.cache/fpd-harness), keyed by the
    classifier's version, n_ref and a hash of the renderer's source, so a change to either recomputes."""
    key = (ext.version, n_ref)
    if key not in _REF_CACHE:
        import hashlib
        import os

        src = hashlib.sha256((Path(S.__file__).read_bytes() + Path(class_dataset.__code__.co_filename).read_bytes()))
        tag = hashlib.sha256(f"{ext.version}|{n_ref}|{src.hexdigest()}".encode()).hexdigest()[:16]
        cache = Path(os.environ.get("FPD_CACHE_DIR", Path.home() / ".cache" / "fpd-harness")) / f"shapes_ref_{tag}.npz"
        try:
            with np.load(cache) as z:
                _REF_CACHE[key] = {k: z[k] for k in z.files}
        except (OSError, ValueError):
            imgs, _ = class_dataset(n_ref, "eval")
            _REF_CACHE[key] = {k: v.numpy().astype(np.float64) for k, v in ext(imgs).items()}
            try:
                import io
                from harness.io import write_bytes

                buf = io.BytesIO()
                np.savez(buf, **_REF_CACHE[key])
                write_bytes(cache, buf.getvalue())
            except HarnessError:  # a read-only home must not fail an evaluation
                pass
    return _REF_CACHE[key]


def geneval_detections(dets: list[dict]) -> list[dict]:
    """The exact detector's detections as GenEval's rules read them (class, box, score, colour; no masks)."""
    return [{k: d[k] for k in ("class", "box", "score", "color")} for d in dets]


def score_shapes_image(image_u8: np.ndarray, meta: dict) -> tuple[bool, str, list[dict]]:
    """One shapes-geneval image under GenEval's rules: (correct, reason, the detections it was judged on).
    The one place that detects and scores, for the suite and the diagnostics alike."""
    dets = geneval_detections(detect_shapes(image_u8))
    ok, reason = score_geneval(meta, dets)
    return bool(ok), reason, dets


def _class_correct(image_u8: np.ndarray, label: int, dets: list[dict] | None = None) -> bool:
    shape, color = S.class_parts(label)
    dets = detect_shapes(image_u8) if dets is None else dets
    ok, _ = score_geneval(
        {"tag": "colors", "include": [{"class": shape, "count": 1, "color": color}], "prompt": ""},
        geneval_detections(dets),
    )
    return ok


def run_shapes_fid(gen, seeds: list[int], work: Path, batch: int) -> tuple[dict, dict]:
    from harness.sampling import load_shards, run_sharded

    ext = _classifier()

    def process(images: torch.Tensor, chunk: list[int]) -> dict[str, np.ndarray]:
        f = ext(images)
        hwc = images.permute(0, 2, 3, 1).numpy()
        dets = [detect_shapes(im) for im in hwc]
        correct = [_class_correct(hwc[j], s % S.NUM_CLASSES, dets[j]) for j, s in enumerate(chunk)]
        return {
            "pool": f["pool"].numpy(),
            "logits": f["logits"].numpy(),
            "correct": np.asarray(correct),
            "object": np.asarray([main_object(d) for d in dets], np.float64),
        }

    counts = run_sharded(
        work,
        seeds,
        lambda ch: torch.tensor([s % S.NUM_CLASSES for s in ch]),
        gen.generate,
        process,
        batch,
        desc="shapes-fid",
    )
    r = load_shards(work, seeds)
    ref = shapes_reference(ext)
    fake = r["pool"].astype(np.float64)
    prec, rec = precision_recall(ref["pool"], fake, k=3)
    labels = np.asarray([s % S.NUM_CLASSES for s in seeds])
    # How the objects are off, where FID only says that they are: mean area (px) and centre spread (px),
    # the data's own values being ~107 px and ~5.3 px (evaluators/shapes_stats.py).
    metrics = {
        "fid": fid_from_features(ref["pool"], fake),
        "is": inception_score(r["logits"], splits=min(10, len(seeds))).mean,
        "precision": prec,
        "recall": rec,
        "detector_accuracy": float(r["correct"].mean()),
        "classifier_accuracy": float((r["logits"].argmax(-1) == labels).mean()),
    }
    obj = summarize_objects(r["object"])
    if obj["empty_frac"] < 1.0:
        metrics["mean_area"], metrics["centre_spread"] = obj["mean_area"], obj["centre_spread"]
    return metrics, {
        "sampling": counts,
        "n_ref": len(ref["pool"]),
        "reference": "5000 held-out renders (split 'eval')",
        "extractor": f"shapes-classifier@{ext.version}",
    }


def prompt_index(seed: int, n_prompts: int) -> int:
    """Reported seeds: prompt seed // 4 (4 images per prompt). Validation seeds (>= 1,000,000, used by
    sweeps): the same prompts in the same order, cycled, with seeds no reported row ever uses."""
    from harness.sampler_presets import VALIDATION_SEED_BASE

    if seed >= VALIDATION_SEED_BASE:
        return ((seed - VALIDATION_SEED_BASE) // 4) % n_prompts
    return seed // 4


def check_shapes_geneval_seeds(seed_list: list[int]) -> None:
    """Reported seeds index the prompt set (4 images each) and must stay inside it; validation seeds cycle it."""
    from harness.sampler_presets import VALIDATION_SEED_BASE

    n_prompts = len(S.prompt_set())
    if seed_list[0] < VALIDATION_SEED_BASE and (seed_list[-1] // 4) >= n_prompts:
        raise HarnessError(f"--seeds beyond the prompt set: shapes-geneval has {4 * n_prompts} images")


def run_shapes_geneval(gen, seeds: list[int], work: Path, batch: int) -> tuple[dict, dict]:
    from harness.sampling import load_shards, run_sharded

    prompts = S.prompt_set()
    seed_prompt = {s: prompt_index(s, len(prompts)) for s in seeds}
    caps = np.stack([S.encode_caption(p["prompt"]) for p in prompts])

    def process(images: torch.Tensor, chunk: list[int]) -> dict[str, np.ndarray]:
        hwc = images.permute(0, 2, 3, 1).numpy()
        return {
            "correct": np.asarray([score_shapes_image(hwc[j], prompts[seed_prompt[s]])[0] for j, s in enumerate(chunk)])
        }

    counts = run_sharded(
        work,
        seeds,
        lambda ch: torch.from_numpy(caps[[seed_prompt[s] for s in ch]]),
        gen.generate,
        process,
        batch,
        desc="shapes-geneval",
    )
    r = load_shards(work, seeds)
    rows = [
        {"tag": prompts[seed_prompt[s]]["tag"], "correct": bool(c), "metadata": json.dumps(prompts[seed_prompt[s]])}
        for s, c in zip(seeds, r["correct"])
    ]
    summ = summarize_geneval(rows)
    metrics = {"overall": summ["overall"], **summ["tags"]}
    return metrics, {
        "sampling": counts,
        "prompts": len(prompts),
        "images_per_prompt": 4,
        "detector": "shapes-exact",
        "frac_correct_prompts": summ["frac_correct_prompts"],
    }


def parse_seeds(spec: str | None, default_n: int) -> list[int]:
    if spec is None:
        return list(range(default_n))
    try:
        a, b = (int(x) for x in spec.split("-")) if "-" in spec else (0, int(spec) - 1)
    except ValueError:
        raise HarnessError(f"--seeds {spec!r} is not a range like 0-4999")
    if a < 0 or b < a:
        raise HarnessError(f"--seeds {spec!r}: need 0 <= A <= B")
    return list(range(a, b + 1))


def suite_identity(s: Suite) -> dict:
    """What, besides the generator, decides a suite's per-sample outputs (part of the fingerprint)."""
    return {"protocol": s.protocol, **s.identify()}


def shapes_fid_identity() -> dict:
    from harness.assets import asset_sha256

    # shards hold pool, logits, correct and the main object's area and centre
    return {"extractor": asset_sha256("shapes_classifier"), "shard_outputs": 2}


def shapes_geneval_identity() -> dict:
    import hashlib

    prompts = hashlib.sha256(json.dumps(S.prompt_set(), sort_keys=True).encode()).hexdigest()[:16]
    return {"prompts": prompts, "detector": "shapes-exact"}


def evaluate(
    method: str,
    suite: str,
    steps: int,
    checkpoint=None,
    seeds: str | None = None,
    batch: int = 250,
    out: Path | None = None,
    variant: str = "",
    options: dict | None = None,
    append: bool = True,
    metadata: Path | None = None,
    detector: str | None = None,
) -> dict:
    from harness.generators import build_generator

    D.init()
    s = SUITES.get_or_fail(suite)
    if detector and s.name != "geneval":
        raise HarnessError(f"--detector applies to the geneval suite only, not {s.name}")
    default_n = s.default_n
    if s.name not in ("shapes-fid", "shapes-geneval"):
        from harness.paper_suites import check_paper_suite

        default_n = check_paper_suite(s.name, metadata, detector) or default_n  # every file it reads, before sampling
    seed_list = parse_seeds(seeds, default_n)  # cheap checks first, before loading networks
    if suite == "shapes-geneval":
        check_shapes_geneval_seeds(seed_list)
    if s.name == "geneval":
        from harness.paper_suites import IMAGES_PER_PROMPT, check_geneval_seeds

        check_geneval_seeds(seed_list, default_n // IMAGES_PER_PROMPT)
    gen = build_generator(method, s.task, steps, checkpoint, options)
    variant = variant or extension_variant(gen)
    ident = suite_identity(s)
    suite_args = {}
    if s.name == "geneval":
        from harness.io import sha256_file
        from harness.paper_suites import geneval_detector, geneval_metadata_path

        suite_args["metadata"] = geneval_metadata_path(metadata)
        suite_args["detector"] = ident["detector"] = geneval_detector(detector)  # another detector, another folder
        ident["metadata_sha256"] = sha256_file(suite_args["metadata"])
    fp = fingerprint(getattr(gen, "describe", {"method": method, "steps": steps}), ident)
    # The default folder carries the fingerprint, so two generators (two students, two samplers) never share one.
    tag = f"{method}{('-' + variant) if variant else ''}-{steps}step-{fp['id']}"
    out = Path(out or runs_root() / "eval" / suite / tag)
    if D.is_main():
        lock_folder(out, "results")  # one evaluation per results folder at a time
        claim_folder(out, fp)
    D.barrier()
    work = out / f"shards_{seed_list[0]}-{seed_list[-1]}"
    t0 = time.perf_counter()
    metrics, extra = s.scorer()(gen, seed_list, work, batch, **suite_args)
    wall = time.perf_counter() - t0
    # GenEval's numbers are defined by its mmdet detector: another detector is another protocol, never one table
    protocol = s.protocol + (f"+{extra['detector']}" if extra.get("official_detector") is False else "")
    result = {
        "suite": suite,
        "protocol": protocol,
        "method": method,
        "variant": variant,
        "steps": steps,
        "metrics": metrics,
        "n": len(seed_list),
        "seeds": [seed_list[0], seed_list[-1]],
        "generator": getattr(gen, "describe", {}),
        "fingerprint": fp,
        "wall_time_s": wall,
        **extra,
    }
    if D.is_main():
        write_json(out / "results.json", result)
        if append:
            result["leaderboard_row"] = append_leaderboard(result, checkpoint_path(gen))
    return result


def extension_variant(gen) -> str:
    """'extension:positives=…' for an FPD student trained with positives beyond the paper's (teacher samples, a mix,
    data renders): its row is an ablation-style variant, labelled, and never stands in the FPD row."""
    positives = (getattr(gen, "describe", {}).get("train") or {}).get("positives", "target")
    return "" if positives == "target" else f"extension:positives={positives}"


def checkpoint_path(gen) -> Path | None:
    ck = getattr(gen, "describe", {}).get("checkpoint")
    return Path(ck).with_suffix(".safetensors") if ck else None


def append_leaderboard(result: dict, checkpoint: Path | None) -> dict:
    from leaderboards.store import append_row, measured_row, provenance

    desc = result.get("generator", {})
    costs = desc.get("costs") or {}
    row = measured_row(
        result["suite"],
        result["method"],
        result["steps"],
        {k: [float(v)] for k, v in result["metrics"].items()},
        label=f"{method_label(result['method'])}, {result['steps']} step(s)"
        + (f" [{result['variant']}, beyond the paper]" if result["variant"].startswith("extension:") else ""),
        provenance=provenance(desc, checkpoint, result["wall_time_s"]),
        variant=result["variant"],
        ablation=bool(result["variant"]),
        attributes={
            "aux_score_net": costs.get("aux_score_net") if result["method"] != "teacher" else None,
            **({"train_cost": costs} if costs else {}),
            # geneval: which detector scored it (only mmdet is GenEval's own)
            **({k: result[k] for k in ("detector", "official_detector")} if "official_detector" in result else {}),
        },
        protocol=result["protocol"],
        eval={
            "n": result["n"],
            "seeds": result["seeds"],
            "fingerprint": result["fingerprint"]["id"],
            "generator": result["fingerprint"]["generator"],
        },
    )
    append_row(result["suite"], row)
    return row
