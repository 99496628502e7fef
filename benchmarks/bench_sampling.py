"""One-step student vs multistep teacher: images/s at a fixed batch, their ratio, and the FLOP-ratio ideal.

    OMP_NUM_THREADS=2 python benchmarks/bench_sampling.py [--random] [--batch 64] [--repeats 5] [--teacher-steps 16]

Both go through the Generator interface exactly as `harness eval` calls them (per-sample seed
streams, decode, uint8). The teacher samples with the shapes task's defaults (guidance w=1 with
MaskGIT's linear ramp, so step 0 is one pass and later steps two); the hooks count the network
evaluations actually run. The ideal speedup is teacher FLOPs / student FLOPs per image; measured /
ideal says how much of it survives the sampler's non-network work.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.flops import (
    CallCounter,
    class_conditions,
    common_args,
    count_flops,
    device_of,
    emit,  # noqa: E402
    env_info,
    fpd_student,
    shapes_networks,
    summary,
    time_calls,
)


def measure(gen, model, cond, seeds, repeats: int, warmup: int, device) -> dict:
    """Timing, FLOPs and network evaluations of gen.generate on one batch."""
    times = time_calls(lambda: gen.generate(cond, seeds), repeats, warmup, device)
    counter = CallCounter(model)
    try:
        _, flops = count_flops(lambda: gen.generate(cond, seeds))
    finally:
        counter.close()
    s = summary(times)
    b = len(seeds)
    return {
        "steps": gen.steps,
        "sec_per_batch": s,
        "images_per_s": b / s["median_s"],
        "ms_per_image": 1e3 * s["median_s"] / b,
        "flops_per_image": flops / b,
        "achieved_flops_per_s": flops / s["median_s"],
        "network_calls": counter.calls,
        "network_evals_per_image": counter.rows / b,
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_args(ap)
    ap.add_argument("--batch", type=int, default=64, help="images per generate() call")
    ap.add_argument("--repeats", type=int, default=5, help="timed batches per generator (median reported)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--teacher-steps", type=int, default=16)
    ap.add_argument("--w", type=float, default=None, help="teacher guidance (default: the shapes task's, 1.0)")
    args = ap.parse_args(argv)
    import torch
    from harness.registry import TASKS
    from methods.teacher_sampler import TeacherSampler, TeacherSamplerConfig

    dev = device_of(args.cpu)
    nets = shapes_networks(args.random, dev)
    student, student_src = fpd_student(nets, args.random, dev)
    opts = dict(TASKS["shapes"].teacher_defaults) | ({"w": args.w} if args.w is not None else {})
    teacher = TeacherSampler(nets["teacher"], nets["tok"], TeacherSamplerConfig(steps=args.teacher_steps, **opts), dev)
    cond, seeds = class_conditions(args.batch, dev)
    with torch.inference_mode():
        s = measure(student, student.model, cond, seeds, args.repeats, args.warmup, dev)
        t = measure(teacher, nets["teacher"], cond, seeds, args.repeats, args.warmup, dev)
    speedup = s["images_per_s"] / t["images_per_s"]
    ideal = t["flops_per_image"] / s["flops_per_image"]
    rec = {
        "task": "shapes",
        "batch": args.batch,
        "networks": nets["which"],
        "student_source": student_src,
        **env_info(dev),
        "teacher_sampler": teacher.cfg.to_dict(),
        "student": s,
        "teacher": t,
        "speedup_student_over_teacher": speedup,
        "flop_ratio_ideal": ideal,
        "speedup_over_ideal": speedup / ideal,
    }
    return emit(rec, "sampling", args.out_dir)


if __name__ == "__main__":
    main()
