"""Evaluation throughput on the shapes world: images/s for generation, classifier features and the exact detector.

    OMP_NUM_THREADS=2 python benchmarks/bench_eval_throughput.py [--random] [--batch 250] [--n-detect 200]

The three stages of `harness eval --suite shapes-fid` per image: one-step generation (the FPD
student, as the suite calls it), classifier features (pool + logits, the FID/IS network) and the
exact detector (numpy/scipy, zero counted FLOPs). The detector runs on held-out class renders,
on multi-object scene renders (the shapes-geneval inputs) and on generated images, since its cost
depends on how many regions an image has. `per_image_ms_shapes_fid` adds the three stages up.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.flops import (
    class_conditions,
    common_args,
    count_flops,
    device_of,
    emit,
    env_info,  # noqa: E402
    fpd_student,
    shapes_networks,
    summary,
    time_calls,
)


def detector_rate(images_u8) -> dict:
    """Images/s of detect_shapes over uint8 [N, 3, H, W] (one pass; it is deterministic numpy)."""
    from evaluators.shapes_detector import detect_shapes

    hwc = images_u8.permute(0, 2, 3, 1).cpu().numpy()
    t0 = time.perf_counter()
    n_det = sum(len(detect_shapes(im)) for im in hwc)
    sec = time.perf_counter() - t0
    return {
        "n": len(hwc),
        "images_per_s": len(hwc) / sec,
        "ms_per_image": 1e3 * sec / len(hwc),
        "detections_per_image": n_det / len(hwc),
        "flops_per_image": 0,
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_args(ap)
    ap.add_argument("--batch", type=int, default=250, help="generation / feature batch (harness eval's default)")
    ap.add_argument("--repeats", type=int, default=3, help="timed batches (median reported)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--n-detect", type=int, default=200, help="images per detector measurement")
    args = ap.parse_args(argv)
    import torch
    from evaluators.shapes_classifier import ShapesClassifierExtractor
    from harness.tasks.shapes_data import class_dataset, scene_dataset

    dev = device_of(args.cpu)
    nets = shapes_networks(args.random, dev, classifier=True)
    gen, gen_src = fpd_student(nets, args.random, dev)
    cond, seeds = class_conditions(args.batch, dev)
    with torch.inference_mode():
        g_times = time_calls(lambda: gen.generate(cond, seeds), args.repeats, args.warmup, dev)
        fake, g_flops = count_flops(lambda: gen.generate(cond, seeds))
    ext = ShapesClassifierExtractor(nets["classifier"], "bench", dev, batch=args.batch)
    real, _ = class_dataset(args.batch, "eval")
    f_times = time_calls(lambda: ext(real), args.repeats, args.warmup, dev)
    _, f_flops = count_flops(lambda: ext(real))
    g, f = summary(g_times), summary(f_times)
    n = min(args.n_detect, args.batch)
    det = {
        "class_renders": detector_rate(real[:n]),
        "scene_renders": detector_rate(scene_dataset(n, "eval")[0]),
        "generated": detector_rate(fake[:n]),
    }
    b = args.batch
    generation = {
        "sec_per_batch": g,
        "images_per_s": b / g["median_s"],
        "ms_per_image": 1e3 * g["median_s"] / b,
        "flops_per_image": g_flops / b,
        "achieved_flops_per_s": g_flops / g["median_s"],
        "source": gen_src,
    }
    features = {
        "sec_per_batch": f,
        "images_per_s": b / f["median_s"],
        "ms_per_image": 1e3 * f["median_s"] / b,
        "flops_per_image": f_flops / b,
        "achieved_flops_per_s": f_flops / f["median_s"],
    }
    per_image = generation["ms_per_image"] + features["ms_per_image"] + det["generated"]["ms_per_image"]
    rec = {
        "task": "shapes",
        "batch": b,
        "networks": nets["which"],
        **env_info(dev),
        "generation": generation,
        "features": features,
        "detector": det,
        "per_image_ms_shapes_fid": per_image,
        "images_per_s_shapes_fid": 1e3 / per_image,
    }
    return emit(rec, "eval_throughput", args.out_dir)


if __name__ == "__main__":
    main()
