"""Shared benchmark plumbing: FLOP counting, timing, the shapes networks, and the one-JSON-line output.

FLOPs come from torch.utils.flop_counter.FlopCounterMode, which counts matmuls, convolutions and
attention (forward and backward) — the work a roofline cares about; elementwise ops, sampling and
numpy code count as zero, so "achieved FLOP/s" is a lower bound on the machine's busy-ness.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

RESULTS_DIR = ROOT / "benchmarks" / "results"


@contextmanager
def _counting():
    """FlopCounterMode with the fused transformer fast path off: the counter cannot see inside
    torch._transformer_encoder_layer_fwd and would report the attention blocks as zero FLOPs."""
    was = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with FlopCounterMode(display=False) as fc:
            yield fc
    finally:
        torch.backends.mha.set_fastpath_enabled(was)


def count_flops(fn: Callable[[], Any]) -> tuple[Any, int]:
    """(fn(), FLOPs of that call) — run once under FlopCounterMode (same math as the timed calls)."""
    with _counting() as fc:
        out = fn()
    return out, int(fc.get_total_flops())


def flops_by_module(fn: Callable[[], Any]) -> dict[str, int]:
    """FLOPs of fn() per module it called (FlopCounterMode's module tracking; 'Global' is the total)."""
    with _counting() as fc:
        fn()
    return {name: int(sum(c.values())) for name, c in fc.get_flop_counts().items()}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(
    fn: Callable[[], Any],
    repeats: int,
    warmup: int = 1,
    device: torch.device | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Seconds of `repeats` calls of fn (after `warmup` untimed calls), each synchronised. `clock` is wall
    time by default; time.process_time gives CPU seconds, steadier on a shared machine."""
    dev = device or torch.device("cpu")
    for _ in range(warmup):
        fn()
    sync(dev)
    out = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        sync(dev)
        out.append(clock() - t0)
    return out


def summary(times: list[float]) -> dict[str, float]:
    """Median (the number to quote: robust to a busy machine), min and max seconds."""
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "n": len(times)}


def rss_peak_mb() -> float:
    """This process's RSS high-water mark (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def device_of(cpu: bool = False) -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() and not cpu else "cpu")


def env_info(device: torch.device) -> dict:
    """Where the numbers came from: they mean little without the machine and thread count."""
    return {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.machine()})",
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
    }


# ---------------------------------------------------------------- networks


def shapes_networks(
    random: bool, device: torch.device, task: str = "shapes", classifier: bool = False, backbone: bool = False
) -> dict:
    """The shipped shapes networks (teacher, tokenizer, optionally classifier / drift backbone), or random
    networks of the same architecture with `random` (or when a shipped asset is missing — then `which` says so)."""
    from harness.networks.shapes_transformer import ShapesMaskTransformer, TransformerConfig
    from harness.networks.shapes_vq import ShapesVQ, VQConfig
    from harness.tasks import shapes as S

    nets: dict[str, Any] = {"which": "random"}
    if not random:
        try:
            from harness.trainers.teacher import load_shipped as load_teacher
            from harness.trainers.tokenizer import load_shipped as load_tokenizer

            nets["tok"], nets["teacher"] = load_tokenizer(), load_teacher(task)
            if classifier:
                from harness.trainers.evaluator_nets import load_classifier

                nets["classifier"] = load_classifier()[0]
            if backbone:
                from harness.trainers.evaluator_nets import load_backbone

                nets["backbone"] = load_backbone()
            nets["which"] = "shipped"
        except Exception as e:  # noqa: BLE001 - a missing asset falls back to random nets, and says so
            nets = {"which": f"random (shipped unavailable: {str(e).splitlines()[0][:120]})"}
    if nets["which"] != "shipped":
        torch.manual_seed(0)
        nets["tok"] = ShapesVQ(VQConfig(channels=48))
        nets["teacher"] = ShapesMaskTransformer(
            TransformerConfig(
                cond="class" if task == "shapes" else "text",
                num_classes=S.NUM_CLASSES,
                text_vocab=len(S.CAPTION_VOCAB),
                text_len=S.CAPTION_LEN,
                width=128,
                depth=4,
                heads=4,
            )
        )
        if classifier:
            from evaluators.shapes_classifier import ShapesClassifier

            nets["classifier"] = ShapesClassifier()
        if backbone:
            from harness.networks.shapes_backbone import ShapesBackbone

            nets["backbone"] = ShapesBackbone()
    for k, v in nets.items():
        if isinstance(v, torch.nn.Module):
            nets[k] = v.eval().requires_grad_(False).to(device)
    return nets


def fpd_student(nets: dict, random: bool, device: torch.device, checkpoint: str | Path | None = None):
    """(OneStepStudent, source): the trained FPD student when present (and not --random), else the teacher's
    weights under the one-step sampler — the same architecture and cost, which is all a speed benchmark needs."""
    from methods.fpd import OneStepStudent

    ck = Path(checkpoint) if checkpoint else ROOT / "runs" / "fpd-shapes" / "student"
    if not random and nets["which"] == "shipped" and ck.with_suffix(".safetensors").exists():
        from harness.io import load_weights
        import copy

        sd, meta = load_weights(ck)
        student = copy.deepcopy(nets["teacher"])
        student.load_state_dict(sd)
        train = meta["config"]["train"]
        return OneStepStudent(
            student.to(device), nets["tok"], r_init=train["r_init"], temp=train["student_temp"], device=device
        ), str(ck)
    return OneStepStudent(
        nets["teacher"], nets["tok"], r_init=0.95, device=device
    ), "teacher weights (untrained student)"


def class_conditions(batch: int, device: torch.device) -> tuple[torch.Tensor, list[int]]:
    """Conditions and seeds as `harness eval --suite shapes-fid` makes them (seed i -> class i mod 24)."""
    from harness.tasks import shapes as S

    seeds = list(range(batch))
    return torch.tensor([s % S.NUM_CLASSES for s in seeds], device=device), seeds


class CallCounter:
    """Counts forward calls and rows seen by a module (network evaluations per image, guidance included)."""

    def __init__(self, module: torch.nn.Module):
        self.calls = self.rows = 0
        self._h = module.register_forward_hook(self._hook)

    def _hook(self, mod, args, out) -> None:
        self.calls += 1
        self.rows += int(args[0].shape[0])

    def close(self) -> None:
        self._h.remove()


# ---------------------------------------------------------------- output


def emit(record: dict, name: str, out_dir: str | Path | None = None) -> dict:
    """Print ONE JSON line and append it to <out_dir>/<name>.jsonl (default benchmarks/results)."""
    record = {"bench": name, "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **record}
    line = json.dumps(record, default=float)
    folder = Path(out_dir) if out_dir else RESULTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.jsonl", "a") as f:  # one write of one line: appends from two runs do not interleave
        f.write(line + "\n")
    print(line, flush=True)
    return record


def common_args(ap) -> None:
    """Flags every benchmark takes."""
    ap.add_argument("--random", action="store_true", help="random networks of the shipped architecture")
    ap.add_argument("--cpu", action="store_true", help="stay on CPU even when a GPU is present")
    ap.add_argument("--out-dir", default=None, help="folder for <bench>.jsonl (default benchmarks/results)")
