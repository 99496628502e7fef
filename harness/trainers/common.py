"""Pieces every distiller's trainer shares: conditions per step, real images, cost accounting, export."""

from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np
import torch

from harness.io import save_weights
from harness.tasks import shapes as S
from harness.train_loop import peak_memory_mb


def shapes_conditions(task: str, seeds: list[int]) -> torch.Tensor:
    """A random condition per sample, drawn from that sample's own seed: class labels or captions."""
    if task == "shapes":
        return torch.tensor([s % S.NUM_CLASSES for s in seeds])
    caps = []
    for s in seeds:
        meta = S.random_metadata(np.random.default_rng(s))
        caps.append(S.encode_caption(S.caption_for(meta)))
    return torch.from_numpy(np.stack(caps))


def shapes_renders(task: str, cond_seeds: list[int], seeds: list[int]) -> torch.Tensor:
    """Fresh training-split renders of the conditions shapes_conditions draws from `cond_seeds`, one per sample
    seed: the independent positives of the drifting control (float [-1, 1])."""
    from harness.tasks.shapes_data import seed_of, to_float, to_tensor

    imgs = []
    for cs, s in zip(cond_seeds, seeds):
        train_seed = seed_of("train", s % 1_000_000_000)
        if task == "shapes":
            imgs.append(S.render_class(cs % S.NUM_CLASSES, train_seed).image)
        else:
            imgs.append(S.scene_for(S.random_metadata(np.random.default_rng(cs)), train_seed).image)
    return to_float(to_tensor(imgs))


def count_trainable(*modules) -> int:
    return sum(p.numel() for m in modules for p in m.parameters() if p.requires_grad)


def cost_report(stats: dict, trainable: int, networks_in_memory: list[str], aux_score_net: bool) -> dict:
    """The training-cost accounting stored with every distilled checkpoint (issue [4/7])."""
    return {
        "trainable_params": trainable,
        "networks_in_memory": networks_in_memory,
        "aux_score_net": aux_score_net,
        "sec_per_step": stats.get("sec_per_step"),
        "peak_memory_mb": stats.get("peak_memory_mb", peak_memory_mb()),
        "train_wall_time_s": stats.get("wall_time_s"),
        "steps_run_this_call": stats.get("steps_run"),
        "hardware": f"{platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}"
        + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""),
        "date": time.strftime("%Y-%m-%d"),
    }


def export_student(out: Path, name: str, model, config: dict, extra: dict) -> dict:
    """Write the final student as `<out>/<name>.safetensors` + `.json` (config, sha256, costs, the precision
    it was trained in)."""
    from harness import distributed as D

    extra = {"train_precision": D.precision(config.get("train", {}).get("task")), **extra}
    return save_weights(Path(out) / name, model.state_dict(), config, extra)


def curve_point(model, config: dict, teacher):
    """A distiller's TrainLoop point_fn: its student as it stands, exported at a curve point."""

    def point(step: int, folder: Path) -> None:
        export_student(
            folder,
            "student",
            model,
            config,
            {"updates": step, "teacher_sha256": getattr(teacher, "asset_sha256", None)},
        )

    return point


STATS_SEED_BASE = 1_500_000  # training diagnostics draw from their own seeds (neither reported nor validation)


@torch.no_grad()
def sample_stats(generator, task: str, n: int = 500) -> dict[str, float]:
    """What a one-step student draws now, on a fixed batch of n seeds: the exact detector's object
    statistics (mean area, centre spread) and, for the class task, detector-correct and a recall proxy
    against the evaluation classifier's reference features (n samples: a proxy, not the suite's number)."""
    from evaluators import precision_recall
    from evaluators.shapes_stats import object_stats

    seeds = list(range(STATS_SEED_BASE, STATS_SEED_BASE + n))
    cond = shapes_conditions(task, seeds)
    images = torch.cat([generator.generate(cond[i : i + 250], seeds[i : i + 250]) for i in range(0, n, 250)])
    hwc = images.permute(0, 2, 3, 1).numpy()
    out = {f"sample_{k}": v for k, v in object_stats(hwc).items()}
    if task == "shapes":
        from harness.evaluate import _class_correct, _classifier, shapes_reference

        ext = _classifier()
        ref = shapes_reference(ext)
        _, rec = precision_recall(ref["pool"], ext(images)["pool"].numpy().astype(np.float64), k=3)
        out["sample_recall_proxy"] = rec
        out["sample_detector_correct"] = float(
            np.mean([_class_correct(hwc[j], s % S.NUM_CLASSES) for j, s in enumerate(seeds)])
        )
    return out
