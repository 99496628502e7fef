"""FPD vs DiMO training cost on the same teacher and batch: one JSON line.

    OMP_NUM_THREADS=1 python benchmarks/bench_fpd_vs_dimo.py [--random] [--batch 64] [--steps 5] [--warmup 2]

Each method runs in a fresh subprocess (so peak memory is comparable): build the networks (the shipped
shapes teacher, tokenizer and backbone when present, else random ones of the same architecture; `--random`
forces those), run `--warmup` steps, time `--steps` training steps exactly as the trainers do them
(harness/trainers/fpd.py, harness/trainers/dimo.py), count the matmul/conv FLOPs of one more step with
torch.utils.flop_counter.FlopCounterMode, and report peak memory: torch.cuda.max_memory_allocated on a GPU,
on CPU the growth of the RSS high-water mark (ru_maxrss) from just after imports, so networks, optimiser
state and activations all count.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def build(random: bool, dev):
    """(tokenizer, teacher, backbone, which) on `dev`."""
    from harness.networks.shapes_backbone import FrozenBackbone, ShapesBackbone
    from harness.networks.shapes_transformer import ShapesMaskTransformer, TransformerConfig
    from harness.networks.shapes_vq import ShapesVQ, VQConfig

    which = "random"
    if not random:
        try:
            from harness.trainers.evaluator_nets import load_backbone
            from harness.trainers.teacher import load_shipped as load_teacher
            from harness.trainers.tokenizer import load_shipped as load_tokenizer

            tok, teacher, net = load_tokenizer(), load_teacher("shapes"), load_backbone()
            which = "shipped"
        except Exception as e:  # noqa: BLE001 - any missing asset: fall back, and say so
            which = f"random (shipped unavailable: {type(e).__name__})"
    if which != "shipped":
        import torch

        torch.manual_seed(0)
        tok = ShapesVQ(VQConfig(channels=48, codebook_size=256, code_dim=32)).eval().requires_grad_(False)
        teacher = ShapesMaskTransformer(TransformerConfig()).eval().requires_grad_(False)
        net = ShapesBackbone().eval().requires_grad_(False)
    backbone = FrozenBackbone(net.to(dev), (0, 1, 2, 3), 4, True)
    return tok.to(dev), teacher.to(dev), backbone, which


def make_step(method: str, tok, teacher, backbone, batch: int, dev):
    """A closure running one training step i exactly as the method's trainer does (default configs)."""
    import torch

    from harness.trainers.common import shapes_conditions
    from methods.rng import SeedStreams

    student = copy.deepcopy(teacher).train().requires_grad_(True)
    if method == "fpd":
        from harness.trainers.fpd import FPDTrainConfig
        from methods.fpd import FPD

        cfg = FPDTrainConfig()
        opt = torch.optim.AdamW(student.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        fpd = FPD(student, teacher, tok, backbone, cfg.fpd())

        def step(i: int) -> None:
            seeds = SeedStreams.derive(0, i, range(batch))
            loss, _, _ = fpd.loss(shapes_conditions("shapes", seeds).to(dev), seeds)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(student.parameters(), cfg.grad_clip)
            opt.step()

        return step, sum(p.numel() for p in student.parameters() if p.requires_grad)
    from harness.trainers.dimo import DiMOTrainConfig
    from methods.dimo import EMA, DiMO, freeze_embeddings

    cfg = DiMOTrainConfig()
    dcfg = cfg.dimo()
    aux = copy.deepcopy(teacher).train().requires_grad_(True)
    freeze_embeddings(student, dcfg.frozen)
    freeze_embeddings(aux, dcfg.frozen)
    ema = EMA(student, dcfg.ema_decay)
    gp = [p for p in student.parameters() if p.requires_grad]
    fp = [p for p in aux.parameters() if p.requires_grad]
    opt_g = torch.optim.Adam(gp, lr=cfg.lr, betas=cfg.betas, eps=cfg.adam_eps)
    opt_f = torch.optim.Adam(fp, lr=cfg.fake_lr or cfg.lr, betas=cfg.betas, eps=cfg.adam_eps)
    dimo = DiMO(student, aux, teacher, tok, dcfg)

    def step(i: int) -> None:
        seeds = SeedStreams.derive(0, i, range(batch))
        loss, _, _ = dimo.generator_loss(shapes_conditions("shapes", seeds).to(dev), seeds)
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(gp, cfg.grad_clip)
        opt_g.step()
        ema.update(student, i)
        aux_seeds = SeedStreams.derive(0, i, range(batch, 2 * batch))
        loss_f, _ = dimo.aux_loss(shapes_conditions("shapes", aux_seeds).to(dev), aux_seeds)
        opt_f.zero_grad(set_to_none=True)
        loss_f.backward()
        opt_f.step()

    return step, sum(p.numel() for p in gp + fp)


def worker(args) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    cuda = torch.cuda.is_available() and not args.cpu
    dev = torch.device("cuda" if cuda else "cpu")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    rss0 = _rss_mb()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    tok, teacher, backbone, which = build(args.random, dev)
    step, trainable = make_step(args.worker, tok, teacher, backbone, args.batch, dev)
    for i in range(args.warmup):
        step(i)
    sync()
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(args.warmup, args.warmup + args.steps):
        step(i)
    sync()
    sec = (time.perf_counter() - t0) / args.steps
    cpu = (time.process_time() - c0) / args.steps  # CPU seconds: robust to other jobs on a shared machine
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else _rss_mb() - rss0
    with FlopCounterMode(display=False) as fc:
        step(args.warmup + args.steps)
    flops = fc.get_total_flops()
    return {
        "method": args.worker,
        "networks": which,
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "threads": torch.get_num_threads(),
        "sec_per_step": sec,
        "cpu_sec_per_step": cpu,
        "peak_memory_mb": peak,
        "peak_memory_kind": "cuda max_memory_allocated" if cuda else "RSS high-water mark growth after imports",
        "flops_per_step": flops,
        "achieved_flops_per_s": flops / sec,
        "trainable_params": trainable,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--random", action="store_true", help="random networks of the shipped architecture")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5, help="timed training steps per method")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--cpu", action="store_true", help="stay on CPU even when a GPU is present")
    ap.add_argument("--out-dir", default=None, help="folder for fpd_vs_dimo.jsonl (default benchmarks/results)")
    ap.add_argument("--worker", choices=["fpd", "dimo"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    flags = [f"--batch={args.batch}", f"--steps={args.steps}", f"--warmup={args.warmup}"]
    flags += ["--random"] * args.random + ["--cpu"] * args.cpu
    res = {}
    for m in ("fpd", "dimo"):
        p = subprocess.run(
            [sys.executable, __file__, "--worker", m, *flags],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "FPD_NO_PROGRESS": "1"},
        )
        if p.returncode:
            sys.exit(f"{m} worker failed:\n{p.stderr[-3000:]}")
        res[m] = json.loads(p.stdout.strip().splitlines()[-1])
    f, d = res["fpd"], res["dimo"]
    keys = (
        "sec_per_step",
        "cpu_sec_per_step",
        "peak_memory_mb",
        "flops_per_step",
        "achieved_flops_per_s",
        "trainable_params",
    )
    from benchmarks.flops import emit

    emit(
        {
            "task": "shapes",
            "batch": args.batch,
            "timed_steps": args.steps,
            "networks": f["networks"],
            "device": f["device"],
            "threads": f["threads"],
            "fpd": {k: f[k] for k in keys},
            "dimo": {k: d[k] for k in keys},
            "ratio_dimo_over_fpd": {
                "sec_per_step": d["sec_per_step"] / f["sec_per_step"],
                "cpu_sec_per_step": d["cpu_sec_per_step"] / max(f["cpu_sec_per_step"], 1e-9),
                "peak_memory": d["peak_memory_mb"] / max(f["peak_memory_mb"], 1e-9),
                "flops_per_step": d["flops_per_step"] / max(f["flops_per_step"], 1),
            },
            "peak_memory_kind": f["peak_memory_kind"],
        },
        "fpd_vs_dimo",
        args.out_dir,
    )  # printed and appended to results/


if __name__ == "__main__":
    main()
