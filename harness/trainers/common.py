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


def count_trainable(*modules) -> int:
    return sum(p.numel() for m in modules for p in m.parameters() if p.requires_grad)


def cost_report(stats: dict, trainable: int, networks_in_memory: list[str], aux_score_net: bool) -> dict:
    """The training-cost accounting stored with every distilled checkpoint (issue [4/7])."""
    return {"trainable_params": trainable, "networks_in_memory": networks_in_memory,
            "aux_score_net": aux_score_net, "sec_per_step": stats.get("sec_per_step"),
            "peak_memory_mb": stats.get("peak_memory_mb", peak_memory_mb()),
            "train_wall_time_s": stats.get("wall_time_s"), "steps_run_this_call": stats.get("steps_run"),
            "hardware": f"{platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}"
                        + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""),
            "date": time.strftime("%Y-%m-%d")}


def export_student(out: Path, name: str, model, config: dict, extra: dict) -> dict:
    """Write the final student as `<out>/<name>.safetensors` + `.json` (config, sha256, costs)."""
    return save_weights(Path(out) / name, model.state_dict(), config, extra)
