"""`harness quickstart` / `make quickstart`: the main job on the embedded shapes world, in minutes.

Uses the shipped tokenizer, teacher, backbone and classifier (it never retrains them):
  1. distils the class-conditional teacher into a one-step FPD student (a short run; re-run resumes),
  2. scores teacher 1 step, FPD 1 step and teacher 16 steps on shapes-fid with a small sample
     (labelled as such: not the suite's 5,000, so no leaderboard rows),
  3. writes one PNG with the three side by side (same classes, same seeds) and a summary.
The full-size evaluation is one command away (printed at the end).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import typer

from harness.assets import REGEN, asset_path
from harness.errors import HarnessError

OUT = Path("runs/quickstart")
# Stage costs measured on 2 idle CPU cores (seconds), used only for the ETA printed as it goes.
_EST = {"load": 15, "fpd_step": 1.3, "eval_1step_per_sample": 0.02, "eval_16step_per_sample": 0.2, "grid": 15}


def _eta(t0: float, remaining_s: float, stage: str) -> None:
    typer.echo(f"[quickstart {time.time() - t0:5.0f} s] {stage} (about {remaining_s / 60:.1f} min left)")


def run(fast: bool = False, steps: int | None = None, n: int | None = None) -> dict:
    t0 = time.time()
    missing = [m for m in REGEN if not asset_path(m).exists()]
    if missing:
        raise HarnessError(f"shipped networks missing: {missing}; regenerate with {[REGEN[m] for m in missing]}")
    from harness.evaluate import evaluate
    from harness.generators import build_generator
    from harness.grids import comparison_grid
    from harness.trainers.fpd import FPDTrainConfig, train

    steps = steps or (20 if fast else 150)
    n = n or (100 if fast else 600)
    est = lambda done_train: (
        (0 if done_train else steps * _EST["fpd_step"])
        + n * (2 * _EST["eval_1step_per_sample"] + _EST["eval_16step_per_sample"])
        + _EST["grid"]
    )
    OUT.mkdir(parents=True, exist_ok=True)
    run_dir = OUT / ("fpd-fast" if fast else "fpd")
    cfg = dataclasses.replace(FPDTrainConfig(), steps=steps, stats_every=0)
    _eta(t0, est(False), f"1/3 training FPD for {steps} steps in {run_dir} (re-run resumes)")
    res = train(cfg, run_dir, sample_every=0)
    ckpt = run_dir / "student"
    _eta(t0, est(True), f"2/3 scoring teacher 1 step, FPD 1 step, teacher 16 steps on shapes-fid, {n} samples each")
    seeds = f"0-{n - 1}"
    results = {}
    for name, method, k, ck in (
        ("teacher 1 step", "teacher", 1, None),
        ("FPD 1 step", "fpd", 1, ckpt),
        ("teacher 16 steps", "teacher", 16, None),
    ):
        r = evaluate(method, "shapes-fid", k, ck, seeds, append=False)
        results[name] = {m: r["metrics"][m] for m in ("fid", "recall", "precision", "detector_accuracy")}
    _eta(t0, _EST["grid"], "3/3 drawing the side-by-side picture")
    png = comparison_grid(
        [
            ("teacher 1 step", build_generator("teacher", "shapes", 1)),
            ("FPD 1 step", build_generator("fpd", "shapes", 1, ckpt)),
            ("teacher 16 steps", build_generator("teacher", "shapes", 16)),
        ],
        "shapes",
        OUT / "comparison.png",
    )
    wall = time.time() - t0
    summary = {
        "fpd_steps": steps,
        "samples_per_generator": n,
        "shapes_fid_small_sample": results,
        "fpd_train_cost": res.get("costs"),
        "picture": str(png),
        "wall_time_s": wall,
    }
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    typer.echo(
        f"\nshapes-fid on {n} samples each (a small sample: FID is biased upward at this size; "
        f"compare the three, not with the leaderboard's 5,000-sample rows):"
    )
    typer.echo(f"{'generator':18} {'FID':>8} {'recall':>7} {'precision':>9} {'detector-correct':>17}")
    for name, m in results.items():
        typer.echo(f"{name:18} {m['fid']:8.1f} {m['recall']:7.3f} {m['precision']:9.3f} {m['detector_accuracy']:17.3f}")
    typer.echo(f"\npicture: {png} (rows: classes; columns: teacher 1 step | FPD 1 step | teacher 16 steps, same seeds)")
    typer.echo(f"summary: {OUT / 'summary.json'}; FPD run: {run_dir}/ (log.jsonl, student.safetensors)")
    typer.echo(
        f"full-size evaluation (5,000 samples, appends a leaderboard row): "
        f"harness eval --method fpd --suite shapes-fid --checkpoint {ckpt}"
    )
    typer.echo(f"done in {wall / 60:.1f} min")
    return summary
