"""`harness quickstart` / `make quickstart`: the main job on the embedded shapes world.

Uses the shipped tokenizer, teacher, backbone and classifier (it never retrains them):
  1. teacher sample grids at 16 and 1 steps (the one-step collapse FPD removes),
  2. FPD distillation of the class-conditional teacher into a one-step student (resumes if interrupted),
  3. the student's grid, and shapes-fid for teacher 16 / 1 steps and the FPD student,
  4. Table 2 with the measured shapes rows beside the paper's ImageNet rows.
Outputs go to runs/quickstart/ and runs/fpd-shapes/; rows are appended to leaderboards/data/shapes-fid.jsonl.
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


def run(fast: bool = False) -> None:
    t0 = time.time()
    missing = [n for n in REGEN if not asset_path(n).exists()]
    if missing:
        raise HarnessError(f"shipped networks missing: {missing}; regenerate with {[REGEN[m] for m in missing]}")
    from harness.evaluate import evaluate
    from harness.generators import build_generator
    from harness.grids import generator_grid
    from harness.tables import render_table
    from harness.trainers.fpd import FPDTrainConfig, train

    OUT.mkdir(parents=True, exist_ok=True)
    for steps in (16, 1):
        path = generator_grid(build_generator("teacher", "shapes", steps), "shapes", OUT / f"teacher_{steps}step.png")
        typer.echo(f"[quickstart] teacher {steps}-step grid -> {path}")
    cfg = FPDTrainConfig()
    if fast:
        cfg = dataclasses.replace(cfg, steps=60)
    run_dir = Path("runs/fpd-shapes-fast" if fast else "runs/fpd-shapes")
    typer.echo(f"[quickstart] training FPD ({cfg.steps} steps) in {run_dir} (re-run to resume)")
    res = train(cfg, run_dir)
    ckpt = run_dir / "student"
    path = generator_grid(build_generator("fpd", "shapes", 1, ckpt), "shapes", OUT / "fpd_1step.png")
    typer.echo(f"[quickstart] FPD one-step grid -> {path}")
    seeds = "0-499" if fast else None
    results = {}
    for method, steps, ck in (("teacher", 16, None), ("teacher", 1, None), ("fpd", 1, ckpt)):
        r = evaluate(method, "shapes-fid", steps, ck, seeds, append=not fast)   # fingerprinted default folders
        results[f"{method}-{steps}step"] = r["metrics"]
        typer.echo(f"[quickstart] shapes-fid {method} {steps}-step: " + json.dumps({k: round(v, 4) for k, v in r["metrics"].items()}))
    (OUT / "summary.json").write_text(json.dumps({"fpd_train": res.get("costs"), "shapes_fid": results,
                                                  "wall_time_s": time.time() - t0}, indent=2, default=str))
    typer.echo(render_table(2, "markdown"))
    typer.echo(f"[quickstart] done in {time.time() - t0:.0f} s. Outputs: {OUT}/ (grids, eval results, summary.json), "
               f"{run_dir}/ (FPD run: log.jsonl, samples/, student.safetensors)"
               + ("" if fast else ", leaderboards/data/shapes-fid.jsonl (rows appended)"))
