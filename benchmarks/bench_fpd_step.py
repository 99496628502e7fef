"""FPD training step at the default shapes config: wall time, peak memory, FLOPs, achieved FLOP/s.

    OMP_NUM_THREADS=2 python benchmarks/bench_fpd_step.py [--random] [--batch 64] [--steps 5] [--warmup 2]
                                                          [--precision fp32|bf16] [--task shapes|shapes-t2i]

The step is the trainer's (harness/trainers/fpd.py, FPDTrainConfig defaults): FPD.loss (student draft,
STE, one teacher step, decode, backbone features, drift loss), backward, gradient clipping, AdamW.
It runs in a fresh subprocess so the peak memory is this step's alone: on CPU the growth of the RSS
high-water mark from just after imports (networks, optimiser state and activations all count), on a GPU
torch.cuda.max_memory_allocated. The time and FLOPs are split into the loss (forward) and the
backward + optimiser part. `--precision bf16` runs the networks' forwards under bf16 autocast as
`harness train fpd --precision bf16` does (harness.precision.Autocast; the drift loss stays float32).
torch.compile of student and teacher was tried (2026-12-01) and not kept: 0.867 s/step with bf16 vs 0.745
without, and the fp32 compiled step fails (dynamo's wrapper has no len()).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.flops import (
    common_args,
    count_flops,
    device_of,
    emit,
    env_info,
    flops_by_module,  # noqa: E402
    rss_peak_mb,
    shapes_networks,
    summary,
    sync,
)


def make_step(nets: dict, batch: int, device, precision: str = "fp32", task: str = "shapes"):
    """(loss_fn(i), update_fn(loss), trainable params, config) exactly as the FPD trainer runs a step."""
    import torch
    from harness.networks.shapes_backbone import FrozenBackbone
    from harness.trainers.common import shapes_conditions
    from harness.trainers.fpd import FPDTrainConfig
    from methods.fpd import FPD
    from methods.rng import SeedStreams

    cfg = FPDTrainConfig()
    backbone = FrozenBackbone(nets["backbone"], tuple(cfg.blocks), cfg.grid or None, cfg.token_norm)
    student = copy.deepcopy(nets["teacher"]).train().requires_grad_(True)
    _name_networks(nets, student)
    opt = torch.optim.AdamW(student.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    wrap = lambda m: m  # noqa: E731
    if precision == "bf16":
        from harness.precision import Autocast

        wrap = lambda m: Autocast(m, device.type)  # noqa: E731
    fpd = FPD(wrap(student), wrap(nets["teacher"]), wrap(nets["tok"]), wrap(backbone), cfg.fpd())

    def loss_fn(i: int):
        seeds = SeedStreams.derive(cfg.seed, i, range(batch))
        return fpd.loss(shapes_conditions(task, seeds).to(device), seeds)[0]

    def update(loss) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), cfg.grad_clip)
        opt.step()

    return loss_fn, update, sum(p.numel() for p in student.parameters()), cfg


NETWORKS = {"student": None, "teacher": "teacher", "tokenizer": "tok", "backbone": "backbone"}


def _name_networks(nets: dict, student) -> None:
    """Prefix the class name of every module of each network with the network's name. The FLOP counter's
    module tracking names a root module by its class, and the networks are not always entered through
    their root (the decoder and the backbone call their parts directly; student and teacher share a class)."""
    for net_name, key in NETWORKS.items():
        for i, m in enumerate((student if key is None else nets[key]).modules()):
            m.__class__ = type(f"{net_name}:{type(m).__name__}{i}", (type(m),), {})


def _split(by_module: dict[str, int]) -> dict[str, float]:
    """Share of the loss's forward FLOPs per network; 'other' is what no network module owns (drift
    kernels, pooling). The counter has no module attribution for the backward: it runs through the student
    (weights and inputs) and, on the student branch only, through the decoder and backbone (inputs)."""
    total = by_module.get("Global", 0) or 1
    share = {
        n: sum(v for k, v in by_module.items() if "." not in k and k.startswith(f"{n}:")) / total for n in NETWORKS
    }
    share["other"] = max(0.0, 1.0 - sum(share.values()))
    return {k: round(v, 4) for k, v in share.items()}


def worker(args) -> dict:
    import torch

    dev = device_of(args.cpu)
    rss0 = rss_peak_mb()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    nets = shapes_networks(args.random, dev, task=args.task, backbone=True)
    loss_fn, update, trainable, cfg = make_step(nets, args.batch, dev, args.precision, args.task)
    for i in range(args.warmup):
        update(loss_fn(i))
    fwd, bwd, tot = [], [], []
    for i in range(args.warmup, args.warmup + args.steps):
        sync(dev)
        t0 = time.perf_counter()
        loss = loss_fn(i)
        sync(dev)
        t1 = time.perf_counter()
        update(loss)
        sync(dev)
        t2 = time.perf_counter()
        fwd.append(t1 - t0), bwd.append(t2 - t1), tot.append(t2 - t0)
    peak = torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else rss_peak_mb() - rss0
    i = args.warmup + args.steps
    loss, f_fwd = count_flops(lambda: loss_fn(i))
    _, f_bwd = count_flops(lambda: update(loss))
    # the autocast wrapper hides the networks from the counter's module tracking: the split is measured in fp32
    split = None if args.precision == "bf16" else _split(flops_by_module(lambda: loss_fn(i + 1)))
    s = summary(tot)
    flops = f_fwd + f_bwd
    return {
        "networks": nets["which"],
        **env_info(dev),
        "batch": args.batch,
        "trainable_params": trainable,
        "precision": args.precision,
        "config": {k: v for k, v in cfg.fpd().to_dict().items()},
        "sec_per_step": s,
        "loss_s": summary(fwd)["median_s"],
        "backward_opt_s": summary(bwd)["median_s"],
        "flops_per_step": flops,
        "flops_loss": f_fwd,
        "flops_backward_opt": f_bwd,
        "forward_flops_by_network": split,
        "achieved_flops_per_s": flops / s["median_s"],
        "samples_per_s": args.batch / s["median_s"],
        "peak_memory_mb": peak,
        "peak_memory_kind": "cuda max_memory_allocated"
        if dev.type == "cuda"
        else "RSS high-water mark growth after imports (fresh process)",
        "rss_high_water_mb": rss_peak_mb(),
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_args(ap)
    ap.add_argument("--batch", type=int, default=64, help="FPDTrainConfig's default batch")
    ap.add_argument("--steps", type=int, default=5, help="timed steps (median reported)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="bf16: the networks under autocast")
    ap.add_argument(
        "--task",
        choices=("shapes", "shapes-t2i"),
        default="shapes",
        help="which shipped teacher (and student) the step uses: class or text task",
    )
    ap.add_argument(
        "--in-process",
        action="store_true",
        help="no fresh subprocess (tests, debugging): peak memory then includes the caller's",
    )
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return {}
    if args.in_process:
        return emit({"task": args.task, **worker(args), "fresh_process": False}, "fpd_step", args.out_dir)
    flags = [
        f"--batch={args.batch}",
        f"--steps={args.steps}",
        f"--warmup={args.warmup}",
        f"--precision={args.precision}",
        f"--task={args.task}",
    ]
    flags += ["--random"] * args.random + ["--cpu"] * args.cpu
    p = subprocess.run(
        [sys.executable, __file__, "--worker", *flags],
        capture_output=True,
        text=True,
        env={**os.environ, "FPD_NO_PROGRESS": "1"},
    )
    if p.returncode:
        sys.exit(f"bench_fpd_step worker failed:\n{p.stderr[-3000:]}")
    rec = {"task": args.task, **json.loads(p.stdout.strip().splitlines()[-1]), "fresh_process": True}
    return emit(rec, "fpd_step", args.out_dir)


if __name__ == "__main__":
    main()
