"""Speed / memory of paper-scale steps with random weights: FPD and DiMO training steps, MaskGIT teacher
multi-step sampling and one-step student sampling (MaskGIT v1 transformer + taming VQGAN + DINOv3 ViT-B/16).

Teacher / student sampling go through methods.teacher_sampler.TeacherSampler and
methods.fpd.OneStepStudent (uint8 images, per-sample seeds). Prints ONE JSON line: per mode the median step time, peak memory, images/s, the FLOP count of one
step (torch.utils.flop_counter: matmuls, convolutions, attention; forward + backward) and the
achieved TFLOP/s. The FPD step is `methods.fpd.FPD.loss` (per-sample seed streams, STE, one teacher
step, DINOv3 features, multi-bandwidth drift loss) + AdamW; the DiMO step is a compact DiMO-style
step written here (generator FKL step with a CFG teacher and the auxiliary model, then the
auxiliary model's CE step; shared/reference/teachers.md §2.3-2.4).

    python benchmarks/bench_paper_scale.py                      # GPU, bf16 autocast, batch 32
    python benchmarks/bench_paper_scale.py --tiny               # CPU smoke run: depth 2, 64px narrow VQGAN
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import platform
import resource
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.networks.dinov3 import DinoFeatureConfig, dino_from_config, dinov3_vitb16_config  # noqa: E402
from harness.networks.maskgit_v1 import MaskGITConfig, MaskGITTransformer  # noqa: E402
from harness.networks.vqgan_taming import TamingVQGAN, VQGANConfig  # noqa: E402
from methods.fpd import FPD, FPDConfig, OneStepStudent  # noqa: E402
from methods.teacher_sampler import TeacherSampler, TeacherSamplerConfig  # noqa: E402


def build(args, device):
    depth = args.depth or (2 if args.tiny else 24)
    student = MaskGITTransformer(MaskGITConfig(depth=depth, dropout=0.0)).to(device)
    teacher = copy.deepcopy(student).eval().requires_grad_(False)
    # tiny: a narrow 3-level VQGAN (16x16 tokens -> 64x64 images) so a CPU smoke run takes seconds
    vcfg = VQGANConfig(ch=32, ch_mult=(1, 1, 2), resolution=64) if args.tiny else VQGANConfig()
    vq = TamingVQGAN(vcfg).to(device).eval().requires_grad_(False)
    if args.tiny:
        from transformers import DINOv3ViTConfig
        dcfg = DINOv3ViTConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=12, num_attention_heads=4,
                               num_register_tokens=4, patch_size=16)
    else:
        dcfg = dinov3_vitb16_config()
    dino = dino_from_config(dcfg, DinoFeatureConfig()).to(device)
    return student, teacher, vq, dino


def z_init(b, n, k, mask_id, r, device):
    """r of the positions [MASK], the rest uniform random codes (FPD / DiMO token initialisation)."""
    z = torch.randint(0, k, (b, n), device=device)
    order = torch.rand(b, n, device=device).argsort(1)
    return torch.where(order < round(r * n), torch.full_like(z, mask_id), z)


def remask(z, mask_id):
    b, n = z.shape
    r = torch.acos(torch.rand(b, 1, device=z.device)) / (math.pi / 2)       # arccos ratio
    m = torch.rand(b, n, device=z.device).argsort(1) < (r * n).round().clamp(min=1)
    return torch.where(m, torch.full_like(z, mask_id), z), m


def sample_codes(logits):
    g = -torch.log(-torch.log(torch.rand_like(logits, dtype=torch.float).clamp_min(1e-20)).clamp_min(1e-20))
    return (logits.float() + g).argmax(-1)


def fpd_step(fpd, opt, b, device, amp, step=[0]):
    """One FPD training step through methods.fpd.FPD (STE, one teacher step, DINOv3 drift loss)."""
    y = torch.randint(0, 1000, (b,), device=device)
    seeds = list(range(step[0] * b, (step[0] + 1) * b))
    step[0] += 1
    with amp():
        loss, _, _ = fpd.loss(y, seeds)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def dimo_step(nets, opts, b, args, device, amp):
    student, teacher, _, _ = nets
    fake = opts["fake_model"]
    y = torch.randint(0, 1000, (b,), device=device)
    with amp():
        zl = student(z_init(b, 256, 1024, 1024, 0.6, device), y, emb_perturb=0.1)
        with torch.no_grad():
            x = sample_codes(zl)
            xt, m = remask(x, 1024)
            lc, lu = teacher(torch.cat([xt, xt]), torch.cat([y, teacher.null_cond(y)])).float().chunk(2)
            pt = (lu + 2.0 * (lc - lu)).softmax(-1)
            pf = fake(xt, y).float().softmax(-1)
            g = (pf - pt) * m[..., None]
        loss = 0.5 * ((zl.float() - (zl.float() - g).detach()) ** 2).sum() / b
    opts["gen"].zero_grad(set_to_none=True)
    loss.backward()
    opts["gen"].step()
    with amp():
        with torch.no_grad():
            x = sample_codes(student(z_init(b, 256, 1024, 1024, 0.6, device), y, emb_perturb=0.1))
            xt, m = remask(x, 1024)
        lf = fake(xt, y)
        ce = F.cross_entropy(lf.float()[m], x[m], label_smoothing=0.1)
    opts["fake"].zero_grad(set_to_none=True)
    ce.backward()
    opts["fake"].step()


def sample_step(gen, b, device, amp, step=[0]):
    """Generate b images through a Generator (teacher multistep sampler or one-step student)."""
    y = torch.randint(0, 1000, (b,), device=device)
    seeds = list(range(step[0] * b, (step[0] + 1) * b))
    step[0] += 1
    with amp():
        gen.generate(y, seeds)


def peak_mem_gb(device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB -> GiB (process RSS)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(fn, args, device):
    from torch.utils.flop_counter import FlopCounterMode
    flops = None
    for i in range(args.warmup):
        if i == 0 and args.flops:  # the FLOP-counted run doubles as the first warm-up
            with FlopCounterMode(display=False) as fc:
                fn()
            flops = fc.get_total_flops()
        else:
            fn()
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(args.iters):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    mem = peak_mem_gb(device)
    if flops is None and args.flops:
        with FlopCounterMode(display=False) as fc:
            fn()
        flops = fc.get_total_flops()
    t = statistics.median(times)
    out = {"step_time_s": round(t, 5), "peak_mem_gb": round(mem, 3), "images_per_s": round(args.batch / t, 3)}
    if flops is not None:
        out.update(flops=int(flops), tflops_achieved=round(flops / t / 1e12, 3))
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modes", default="fpd,dimo,teacher,student", help="comma list of fpd, dimo, teacher, student")
    ap.add_argument("--batch", type=int, default=None, help="images per step (default 32; 1 with --tiny)")
    ap.add_argument("--depth", type=int, default=None, help="transformer depth (default 24; 2 with --tiny)")
    ap.add_argument("--steps", type=int, default=None, help="teacher sampling steps (default 16; 2 with --tiny)")
    ap.add_argument("--cfg", type=float, default=3.0, help="teacher guidance w (MaskGIT (1+w)c - wu form)")
    ap.add_argument("--r-init", type=float, default=0.95)
    ap.add_argument("--iters", type=int, default=None, help="timed iterations (default 5; 1 with --tiny)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed iterations (default 2; 0 with --tiny)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", choices=["bf16", "fp32"], default=None, help="autocast dtype (default bf16 on GPU)")
    ap.add_argument("--tiny", action="store_true", help="CPU smoke run: depth 2, narrow 64px VQGAN and DINOv3, batch 1 (token shapes stay real)")
    ap.add_argument("--no-flops", dest="flops", action="store_false", help="skip the FLOP-counting run")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    args.batch = args.batch or (1 if args.tiny else 32)
    args.steps = args.steps or (2 if args.tiny else 16)
    args.iters = args.iters or (1 if args.tiny else 5)
    args.warmup = args.warmup if args.warmup is not None else (0 if args.tiny else 2)
    device = torch.device(args.device)
    dtype = args.dtype or ("bf16" if device.type == "cuda" else "fp32")
    torch.manual_seed(args.seed)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    amp = ((lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if dtype == "bf16" else nullcontext)
    nets = build(args, device)
    opt = torch.optim.AdamW(nets[0].parameters(), lr=1e-5)
    results = {}
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for mode in modes:
        if mode == "fpd":
            fpd = FPD(nets[0], nets[1], nets[2], nets[3], FPDConfig(r_init=args.r_init))
            fn = lambda: fpd_step(fpd, opt, args.batch, device, amp)  # noqa: E731
        elif mode == "dimo":
            fake = copy.deepcopy(nets[0])
            opts = {"gen": opt, "fake": torch.optim.Adam(fake.parameters(), lr=1e-5), "fake_model": fake}
            fn = lambda: dimo_step(nets, opts, args.batch, args, device, amp)  # noqa: E731
        elif mode == "teacher":
            gen = TeacherSampler(nets[1], nets[2], TeacherSamplerConfig(steps=args.steps, w=args.cfg), device)
            fn = lambda: sample_step(gen, args.batch, device, amp)  # noqa: E731
        elif mode == "student":
            gen = OneStepStudent(nets[0], nets[2], args.r_init, device=device)
            fn = lambda: sample_step(gen, args.batch, device, amp)  # noqa: E731
        else:
            raise SystemExit(f"unknown mode {mode!r}; use fpd, dimo, teacher, student")
        results[mode] = measure(fn, args, device)
        if mode == "teacher":
            results[mode]["teacher_steps"] = args.steps
    out = {"bench": "paper_scale", "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
           "dtype": dtype, "batch": args.batch, "depth": nets[0].cfg.depth, "vqgan_ch": nets[2].cfg.ch, "image_size": nets[2].cfg.resolution,
           "dino_width": nets[3].model.config.hidden_size, "tiny": args.tiny, "torch": torch.__version__,
           "modes": results}
    print(json.dumps(out), flush=True)
    return out


if __name__ == "__main__":
    main()
