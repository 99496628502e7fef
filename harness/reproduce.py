"""`harness reproduce --scale shapes`: the paper's study (Tables 2-4) in the shapes world, resumable.

The plan is a list of jobs; a job whose output already exists is skipped, so re-running resumes.
  * teacher sweep 16/8/4/2/1 on shapes-fid and shapes-geneval (seed blocks for repeats),
  * SDTT (4 and 1 steps) and DiMO (1 step) on shapes-fid, FPD (1 step) on shapes-fid and shapes-geneval,
  * every ablation of Tables 3-4 as an FPD variant on shapes-t2i, scored on shapes-geneval,
each distiller over `--seeds` training seeds; per-seed values land in ONE leaderboard row per
configuration (mean, values, t-interval). Paper variants map onto the shapes backbone's 4 blocks:
the paper's shallow half {2,5} -> {0,1}, deep half {8,11} -> {2,3}, all {2,5,8,11} -> {0,1,2,3}.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import typer

# paper variant label (harness.tables ABLATION_LAYOUT) -> FPD `--set` overrides in the shapes world
VARIANT_OVERRIDES: dict[str, list[str]] = {
    "ste": [], "soft": ["estimator=soft"], "soft+gan": ["estimator=soft", "gan=true"], "ste+gan": ["gan=true"],
    "draft=random": ["draft_source=random"], "space=pixel": ["space=pixel"], "bw={0.05}": ["bandwidths=[0.05]"],
    "pool=global": ["grid=0"], "blocks={2,5}": ["blocks=[0,1]"], "blocks={8,11}": ["blocks=[2,3]"],
}
TEACHER_STEPS = (16, 8, 4, 2, 1)


@dataclass
class Job:
    kind: str                      # "train" | "eval"
    name: str
    args: dict = field(default_factory=dict)

    def done(self) -> bool:
        marker = Path(self.args["marker"])
        return marker.exists()


def plan(n_seeds: int = 3, root: Path = Path("runs/reproduce")) -> list[Job]:
    jobs: list[Job] = []
    def train(kind, task, seed, variant="", overrides=()):
        out = root / f"{kind}-{task}{'-' + variant if variant else ''}-seed{seed}"
        marker = out / ("student_1step.json" if kind == "sdtt" else "student.json")
        jobs.append(Job("train", f"train {kind} {task} {variant or 'main'} seed {seed}",
                        {"kind": kind, "task": task, "out": out, "overrides": [f"seed={seed}", *overrides], "marker": marker}))
        return out
    def evaluate(method, suite, steps, ck, group, seed, variant=""):
        out = root / "eval" / suite / f"{group}-seed{seed}-{steps}step"
        jobs.append(Job("eval", f"eval {method} {variant or 'main'} {steps}-step on {suite} seed {seed}",
                        {"method": method, "suite": suite, "steps": steps, "checkpoint": ck, "out": out, "group": group,
                         "variant": variant, "seed": seed, "marker": out / "results.json"}))
    for s in range(n_seeds):
        for suite in ("shapes-fid", "shapes-geneval"):
            for n in TEACHER_STEPS:
                evaluate("teacher", suite, n, None, f"teacher-{n}", s)     # seed block s of the sampling seeds
        sd = train("sdtt", "shapes", s)
        for n in (4, 1):
            evaluate("sdtt", "shapes-fid", n, sd / f"student_{n}step", f"sdtt-{n}", s)
        dm = train("dimo", "shapes", s)
        evaluate("dimo", "shapes-fid", 1, dm / "student", "dimo-1", s)
        fp = train("fpd", "shapes", s)
        evaluate("fpd", "shapes-fid", 1, fp / "student", "fpd-1", s)
        for variant, overrides in VARIANT_OVERRIDES.items():
            ft = train("fpd", "shapes-t2i", s, variant if variant != "ste" else "", overrides)
            evaluate("fpd", "shapes-geneval", 1, ft / "student", f"fpd-{variant}", s, variant)
    return jobs


def _seed_range(suite: str, seed: int) -> str | None:
    """Teacher repeats use disjoint sampling-seed blocks; distilled students differ by training seed."""
    from harness.registry import SUITES
    n = SUITES[suite].default_n
    return f"{seed * n}-{seed * n + n - 1}" if suite == "shapes-fid" else None


def run_job(job: Job) -> None:
    if job.kind == "train":
        import importlib

        from harness.cli import TRAINERS
        from harness.config import apply_overrides, task_defaults
        mod_name, cfg_name, fn_name, _ = TRAINERS[job.args["kind"]]
        mod = importlib.import_module(mod_name)
        cfg = apply_overrides(task_defaults(getattr(mod, cfg_name), job.args["task"]), job.args["overrides"])
        getattr(mod, fn_name)(cfg, job.args["out"])
        return
    from harness.evaluate import evaluate
    a = job.args
    seeds = _seed_range(a["suite"], a["seed"]) if a["method"] == "teacher" else None
    if a["method"] == "teacher" and a["suite"] == "shapes-geneval" and a["seed"] > 0:
        return _mark_repeat(job)  # the prompt set is fixed: a teacher repeat on it would only re-draw images
    evaluate(a["method"], a["suite"], a["steps"], a["checkpoint"], seeds, out=a["out"], variant=a["variant"], append=False)


def _mark_repeat(job: Job) -> None:
    from harness.io import write_json
    write_json(job.args["marker"], {"skipped": "teacher repeats on the fixed prompt set use seed 0 only"})


def aggregate(jobs: list[Job]) -> list[dict]:
    """One leaderboard row per (suite, group), from the per-seed results.json files."""
    from harness.evaluate import LABELS
    from leaderboards.store import append_row, measured_row, provenance
    groups: dict[tuple, list[dict]] = {}
    for j in jobs:
        if j.kind == "eval" and j.done():
            r = json.loads(Path(j.args["marker"]).read_text())
            if "metrics" in r:
                groups.setdefault((j.args["suite"], j.args["group"]), []).append(r)
    rows = []
    for (suite, group), results in groups.items():
        r0 = results[0]
        per_seed = {k: [float(r["metrics"][k]) for r in results] for k in r0["metrics"]}
        row = measured_row(suite, r0["method"], r0["steps"], per_seed,
                           label=f"{LABELS.get(r0['method'], r0['method'])}, {r0['steps']} step(s) [reproduce, {len(results)} seeds]",
                           provenance=provenance({"reproduce": group}, None, sum(r["wall_time_s"] for r in results)),
                           variant=r0["variant"], ablation=bool(r0["variant"]),
                           attributes={"aux_score_net": r0["method"] == "dimo" if r0["method"] != "teacher" else None},
                           protocol=r0["protocol"], eval={"n": r0["n"], "seeds_run": len(results)})
        append_row(suite, row)
        rows.append(row)
    return rows


def register(app: typer.Typer) -> None:
    @app.command()
    def reproduce(
        scale: str = typer.Option("shapes", help="only 'shapes' runs here; paper scale needs GPUs and official weights"),
        seeds: int = typer.Option(3, help="training seeds per distiller (and sampling-seed blocks for the teacher)"),
        dry_run: bool = typer.Option(False, help="list the jobs (done / to do) and exit"),
    ):
        """Train what is missing and evaluate everything for the shapes-world Tables 2-4, then render them."""
        from harness.errors import HarnessError
        if scale != "shapes":
            raise HarnessError(f"--scale {scale!r}: only 'shapes' can run here; use `harness train/eval` with --task imagenet|t2i on a GPU machine")
        if seeds < 1:
            raise HarnessError("--seeds must be >= 1")
        jobs = plan(seeds)
        todo = [j for j in jobs if not j.done()]
        for j in jobs:
            typer.echo(f"[{'done' if j.done() else 'todo'}] {j.name}")
        typer.echo(f"{len(jobs) - len(todo)} done, {len(todo)} to do")
        if dry_run:
            return
        for i, j in enumerate(todo, 1):
            t0 = time.time()
            typer.echo(f"[{i}/{len(todo)}] {j.name}")
            run_job(j)
            typer.echo(f"    {time.time() - t0:.0f} s")
        rows = aggregate(jobs)
        typer.echo(f"appended {len(rows)} aggregated rows")
        from harness.tables import render_all
        typer.echo(render_all("markdown"))
