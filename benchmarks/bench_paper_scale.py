"""FPD vs DiMO at MaskGIT scale with random weights: step time, peak memory and FLOPs per step (one JSON line).

    python benchmarks/bench_paper_scale.py                      # GPU: MaskGIT v1 (24 blocks) + taming VQGAN + DINOv3
    ViT-B/16, batch 32, bf16
    python benchmarks/bench_paper_scale.py --small --cpu        # seconds: depth 2, narrow 64-px VQGAN and DINOv3

The networks are the harness's paper-scale modules at their official configs (harness/networks), randomly
initialised: no downloads, and speed and memory do not depend on the weights. `--small` keeps the token
shapes (256 tokens, 1024 codes) but shrinks the depth, the VQGAN and DINOv3 so a CPU smoke run takes seconds.
Each step is its trainer's with the `imagenet` preset: FPD = FPD.loss (draft, STE, one teacher step,
decode, DINOv3 features, drift loss) + clipping + AdamW (harness/trainers/fpd.py); DiMO = generator
loss + clipping + Adam + EMA, then the auxiliary model's CE step on a fresh sample (harness/trainers/dimo.py).
Modes `teacher` / `student` time sampling (the imagenet teacher preset's sampler; the one-step student).
Precision as `harness train --precision`: bf16 autocast of the network forwards by default on a GPU, fp32 on
CPU. FLOPs: torch.utils.flop_counter (matmuls, convolutions, attention; forward + backward) of one more step.
Each mode runs in a fresh process so its peak memory is its own (GPU: max_memory_allocated; CPU: growth of
the RSS high-water mark after imports); `--in-process` (tests) shares one process.
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

from benchmarks.flops import common_args, count_flops, device_of, emit, env_info, rss_peak_mb, summary, sync  # noqa: E402

MODES = ("fpd", "dimo", "teacher", "student")


def build(args, device):
    """(teacher, VQGAN, DINOv3 features), frozen, random weights, on `device`."""
    import torch
    from transformers import DINOv3ViTConfig

    from harness.networks.dinov3 import DinoFeatureConfig, dino_from_config, dinov3_vitb16_config
    from harness.networks.maskgit_v1 import MaskGITConfig, MaskGITTransformer
    from harness.networks.vqgan_taming import TamingVQGAN, VQGANConfig
    from harness.trainers.fpd import FPDTrainConfig

    torch.manual_seed(args.seed)
    cfg = FPDTrainConfig.preset("imagenet")
    teacher = MaskGITTransformer(MaskGITConfig(depth=args.depth))
    vcfg = (
        VQGANConfig(ch=32, ch_mult=(1, 1, 2), resolution=64) if args.small else VQGANConfig()
    )  # small: 16x16 codes -> 64 px
    dcfg = (
        DINOv3ViTConfig(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=12,
            num_attention_heads=4,
            num_register_tokens=4,
            patch_size=16,
        )
        if args.small
        else dinov3_vitb16_config()
    )
    dino = dino_from_config(
        dcfg, DinoFeatureConfig(blocks=tuple(cfg.blocks), grid=cfg.grid or 4, token_norm=cfg.token_norm)
    )
    return tuple(m.to(device).eval().requires_grad_(False) for m in (teacher, TamingVQGAN(vcfg), dino))


def make_step(mode: str, nets, args, device, amp):
    """(step(i), trainable parameters): one training step or one sampling call, as the harness runs it."""
    import torch

    from methods.rng import SeedStreams

    teacher, vq, dino = nets
    b = args.batch

    def conds(i: int, offset: int = 0):
        seeds = SeedStreams.derive(args.seed, i, range(offset, offset + b))
        return torch.tensor([s % 1000 for s in seeds], device=device), seeds  # ImageNet: seed -> class

    if mode == "fpd":
        from harness.trainers.fpd import FPDTrainConfig
        from methods.fpd import FPD

        cfg = FPDTrainConfig.preset("imagenet")
        student = copy.deepcopy(teacher).train().requires_grad_(True)
        opt = torch.optim.AdamW(student.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        fpd = FPD(amp(student), amp(teacher), amp(vq), amp(dino), cfg.fpd())

        def step(i: int) -> None:
            loss, _, _ = fpd.loss(*conds(i))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(student.parameters(), cfg.grad_clip)
            opt.step()

        return step, sum(p.numel() for p in student.parameters())
    if mode == "dimo":
        from harness.trainers.dimo import DiMOTrainConfig
        from methods.dimo import EMA, DiMO, freeze_embeddings

        cfg = DiMOTrainConfig(task="imagenet", lr=1e-5, fake_lr=1e-5)  # DiMO's MaskGIT run
        dcfg = cfg.dimo()
        gen, aux = (copy.deepcopy(teacher).train().requires_grad_(True) for _ in range(2))
        freeze_embeddings(gen, dcfg.frozen)
        freeze_embeddings(aux, dcfg.frozen)
        ema = EMA(gen, dcfg.ema_decay)
        gp, fp = [p for p in gen.parameters() if p.requires_grad], [p for p in aux.parameters() if p.requires_grad]
        opt_g = torch.optim.Adam(gp, lr=cfg.lr, betas=cfg.betas, eps=cfg.adam_eps)
        opt_f = torch.optim.Adam(fp, lr=cfg.fake_lr or cfg.lr, betas=cfg.betas, eps=cfg.adam_eps)
        dimo = DiMO(amp(gen), amp(aux), amp(teacher), amp(vq), dcfg)

        def step(i: int) -> None:
            loss, _, _ = dimo.generator_loss(*conds(i))
            opt_g.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(gp, cfg.grad_clip)
            opt_g.step()
            ema.update(gen, i)
            loss_f, _ = dimo.aux_loss(*conds(i, b))
            opt_f.zero_grad(set_to_none=True)
            loss_f.backward()
            opt_f.step()

        return step, sum(p.numel() for p in gp + fp)
    if mode == "teacher":
        from harness.sampler_presets import build_teacher_sampler, teacher_preset

        gen, _ = build_teacher_sampler(
            amp(teacher), amp(vq), args.steps, teacher_preset("imagenet")["settings"], device=device
        )
    elif mode == "student":
        from harness.trainers.fpd import FPDTrainConfig
        from methods.fpd import OneStepStudent

        gen = OneStepStudent(amp(teacher), amp(vq), FPDTrainConfig.preset("imagenet").r_init, device=device)
    else:
        raise SystemExit(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    return (lambda i: gen.generate(*conds(i))), 0


def worker(mode: str, args) -> dict:
    import torch

    from harness.precision import Autocast

    device = device_of(args.cpu)
    rss0 = rss_peak_mb()
    if device.type == "cuda":  # TF32 left as the trainers leave it (off for matmuls): the steps they run
        torch.cuda.reset_peak_memory_stats(device)
    amp = (lambda m: Autocast(m, device.type)) if args.precision == "bf16" else (lambda m: m)
    nets = build(args, device)
    step, trainable = make_step(mode, nets, args, device, amp)
    for i in range(args.warmup):
        step(i)
    times = []
    for i in range(args.warmup, args.warmup + args.iters):
        sync(device)
        t0 = time.perf_counter()
        step(i)
        sync(device)
        times.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else rss_peak_mb() - rss0
    s = summary(times)
    out = {
        "sec_per_step": s,
        "step_time_s": s["median_s"],
        "images_per_s": args.batch / s["median_s"],
        "peak_memory_mb": peak,
        "trainable_params": trainable,
    }
    if args.flops:
        _, flops = count_flops(lambda: step(args.warmup + args.iters))
        out.update(flops_per_step=flops, achieved_tflops=flops / s["median_s"] / 1e12)
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_args(ap)  # --random is implied: the weights are always random here
    ap.add_argument("--modes", default="fpd,dimo,teacher,student", help=f"comma list of {', '.join(MODES)}")
    ap.add_argument(
        "--small",
        "--tiny",
        dest="small",
        action="store_true",
        help="CPU smoke run: depth 2, narrow 64-px VQGAN and DINOv3, batch 1 (token shapes stay real)",
    )
    ap.add_argument(
        "--batch",
        type=int,
        default=None,
        help="images per step (default 32, the paper's MaskGIT batch; 1 with --small)",
    )
    ap.add_argument("--depth", type=int, default=None, help="transformer depth (default 24; 2 with --small)")
    ap.add_argument("--steps", type=int, default=None, help="teacher sampling steps (default 16; 2 with --small)")
    ap.add_argument("--iters", type=int, default=None, help="timed iterations (default 5; 1 with --small)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed iterations (default 2; 0 with --small)")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default=None, help="default bf16 on a GPU, fp32 on CPU")
    ap.add_argument("--no-flops", dest="flops", action="store_false", help="skip the FLOP-counting step")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--in-process", action="store_true", help="all modes in this process (tests); peak memory then accumulates"
    )
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    small = args.small
    args.batch = args.batch or (1 if small else 32)
    args.depth = args.depth or (2 if small else 24)
    args.steps = args.steps or (2 if small else 16)
    args.iters = args.iters or (1 if small else 5)
    args.warmup = args.warmup if args.warmup is not None else (0 if small else 2)
    device = device_of(args.cpu)
    args.precision = args.precision or ("bf16" if device.type == "cuda" else "fp32")
    if args.worker:
        print(json.dumps(worker(args.worker, args)))
        return {}
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise SystemExit(f"unknown mode {bad[0]!r}; choose from {', '.join(MODES)}")
    results = {m: run_mode(m, args) for m in modes}
    if "teacher" in results:
        results["teacher"]["teacher_steps"] = args.steps
    rec = {
        "task": "imagenet",
        "networks": "random",
        "scale": "small" if small else "maskgit",
        "config": {
            "batch": args.batch,
            "depth": args.depth,
            "precision": args.precision,
            "vqgan": "ch 32, 64 px" if small else "taming f16, 256 px",
            "dinov3": "width 64, 12 blocks" if small else "ViT-B/16",
        },
        **env_info(device),
        "modes": results,
        "peak_memory_kind": "cuda max_memory_allocated"
        if device.type == "cuda"
        else "RSS high-water growth after imports"
        + (" (one process: accumulates over modes)" if args.in_process else ""),
        "fresh_process": not args.in_process,
    }
    if "fpd" in results and "dimo" in results:
        f, d = results["fpd"], results["dimo"]
        rec["ratio_dimo_over_fpd"] = {
            "step_time": d["step_time_s"] / f["step_time_s"],
            "peak_memory": d["peak_memory_mb"] / max(f["peak_memory_mb"], 1e-9),
        }
        if args.flops:
            rec["ratio_dimo_over_fpd"]["flops_per_step"] = d["flops_per_step"] / max(f["flops_per_step"], 1)
    return emit(rec, "paper_scale", args.out_dir)


def run_mode(mode: str, args) -> dict:
    if args.in_process:
        return worker(mode, args)
    flags = [f"--{k}={getattr(args, k)}" for k in ("batch", "depth", "steps", "iters", "warmup", "precision", "seed")]
    flags += ["--small"] * args.small + ["--cpu"] * args.cpu + ["--no-flops"] * (not args.flops)
    p = subprocess.run(
        [sys.executable, __file__, f"--worker={mode}", *flags],
        capture_output=True,
        text=True,
        env={**os.environ, "FPD_NO_PROGRESS": "1"},
    )
    if p.returncode:
        raise SystemExit(f"bench_paper_scale {mode} worker failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main(sys.argv[1:])
