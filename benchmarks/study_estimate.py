"""What `harness reproduce --scale shapes` will cost on this machine, from jobs already measured (nothing is run).

    python benchmarks/study_estimate.py --measured runs/s13-t1 runs/s13-t2 [--train-steps 200] [--seeds 3]
    [--budget-min 150]

Each --measured folder is a `harness reproduce --root` that ran part of the study (e.g. with --only). Every job of the
full plan is costed from the most specific measurement there is:
  * a training run: its measured wall time split into a fixed part (start-up: loading networks, making data) and
    seconds per update (the mean of the run's logged `sec_per_step`), re-scaled to the planned number of updates;
  * an evaluation: its measured wall time;
  * a teacher evaluation: the `wall_time_s` of the live leaderboard row made with the shipped teacher;
  * an FPD ablation cell never measured: a measured GAN cell's cost for a GAN cell, else the reference (main)
    cell's, marked "assumed" (cells differ: a GAN cell trains a discriminator, a pixel-space cell skips the backbone).
It prints the cost per job family, the total, and the number of updates per distiller that would fit --budget-min.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.reproduce import plan  # noqa: E402


SEED = re.compile(r" seed (\d+)$")  # how a reproduce job's name ends


def family(name: str) -> str:
    """A job's name without its seed: 'train fpd shapes-t2i soft seed 2' -> 'train fpd shapes-t2i soft'."""
    return SEED.sub("", name)


def stand_ins(name: str) -> list[tuple[str, str]]:
    """(family, its variant) whose cost an unmeasured FPD ablation cell borrows, nearest first: another GAN cell for a
    GAN cell (the discriminator is most of the difference), then the reference cell (the main configuration)."""
    parts = name.split()
    if parts[1] != "fpd":
        return []
    at = 3 if parts[0] == "train" else 2  # where the variant sits in the job's name
    variants = (["ste+gan"] if parts[at].endswith("+gan") else []) + ["main"]
    return [(" ".join(parts[:at] + [v] + parts[at + 1 :]), v) for v in variants]


def lookup(table: dict, fam: str) -> tuple[list | None, str]:
    if fam in table:
        return table[fam], "measured"
    for other, variant in stand_ins(fam):
        if other in table:
            return table[other], f"assumed = {variant} cell"
    return None, "missing"


def planned_updates(job) -> int | None:
    steps = [o.split("=", 1)[1] for o in job.args.get("overrides", []) if o.startswith("steps=")]
    return int(steps[-1]) if steps else None


def measurements(roots: list[Path]) -> tuple[dict, dict]:
    """{family: [train (fixed s, s/update)]} and {family: [eval seconds]} from reproduce run folders."""
    train, evals = defaultdict(list), defaultdict(list)
    for root in roots:
        timing = root / "timing.jsonl"
        if not timing.exists():
            raise SystemExit(f"{root} has no timing.jsonl: pass the --root of a `harness reproduce` run")
        records = [json.loads(line) for line in timing.read_text().splitlines()]
        seeds = 1 + max((int(m.group(1)) for r in records if (m := SEED.search(r["job"]))), default=0)
        jobs = {j.name: j for j in plan(seeds, root, 1)}  # job names -> run folders (the layout is the plan's)
        for rec in records:
            fam = family(rec["job"])
            if rec["kind"] == "eval":
                evals[fam].append(rec["seconds"])
                continue
            job = jobs.get(rec["job"])
            log = job.args["out"] / "log.jsonl" if job else None
            if log is None or not log.exists():
                continue
            rows = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
            per_update = statistics.mean(r["sec_per_step"] for r in rows if "sec_per_step" in r)
            updates = max(r["step"] for r in rows)
            train[fam].append((rec["seconds"] - updates * per_update, per_update))
    return train, evals


def teacher_seconds() -> dict:
    """{(suite, steps): wall seconds} of the live teacher rows made with the shipped teachers."""
    from harness.assets import TEACHER_ASSETS, asset_sha256
    from leaderboards.store import latest, read_rows

    out = {}
    for suite, task in (("shapes-fid", "shapes"), ("shapes-geneval", "shapes-t2i")):
        sha = asset_sha256(TEACHER_ASSETS[task])
        for row in latest(read_rows(suite)):
            if row["method"] == "teacher" and row["eval"]["generator"].get("networks", {}).get("teacher") == sha:
                out[(suite, row["steps"])] = row["provenance"]["wall_time_s"]
    return out


def estimate(roots: list[Path], seeds: int, train_steps: int) -> dict:
    train, evals = measurements(roots)
    teacher = teacher_seconds()
    lines, fixed, per_update_sum, missing = [], 0.0, 0.0, []
    for job in plan(seeds, Path("runs/estimate"), train_steps):
        fam = family(job.name)
        if job.kind == "train":
            got, how = lookup(train, fam)
            if not got:
                missing.append(job.name)
                continue
            f0, u = statistics.mean(g[0] for g in got), statistics.mean(g[1] for g in got)
            n = planned_updates(job)
            fixed += f0
            per_update_sum += u
            lines.append((fam, job.kind, how, f0 + u * n))
        else:
            a = job.args
            if a["method"] == "teacher":
                sec = (
                    0.0 if (a["suite"] == "shapes-geneval" and a["seed"] > 0) else teacher.get((a["suite"], a["steps"]))
                )
                how = "leaderboard row"
            else:
                got, how = lookup(evals, fam)
                sec = statistics.mean(got) if got else None
            if sec is None:
                missing.append(job.name)
                continue
            fixed += sec
            lines.append((fam, job.kind, how, sec))
    return {"lines": lines, "fixed_s": fixed, "per_update_s": per_update_sum, "missing": missing}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--measured", type=Path, nargs="+", required=True, help="reproduce run folders with timing.jsonl")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--train-steps", type=int, default=200, help="updates per distiller in the planned study")
    ap.add_argument("--budget-min", type=float, default=150.0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/study_estimate.jsonl")
    args = ap.parse_args(argv)
    est = estimate(args.measured, args.seeds, args.train_steps)
    groups: dict = defaultdict(lambda: [0, 0.0, set()])
    for fam, kind, how, sec in est["lines"]:
        key = " ".join(fam.split()[:2] + ([fam.split()[2]] if kind == "train" else [fam.split()[-1]]))
        groups[key][0] += 1
        groups[key][1] += sec
        groups[key][2].add(how)
    print("| jobs | count | minutes | from |\n|---|---|---|---|")
    for key, (count, sec, hows) in sorted(groups.items(), key=lambda kv: -kv[1][1]):
        print(f"| {key} | {count} | {sec / 60:.1f} | {', '.join(sorted(hows))} |")
    total = sum(line[3] for line in est["lines"]) / 60
    fit = (args.budget_min * 60 - est["fixed_s"]) / est["per_update_s"] if est["per_update_s"] else float("nan")
    print(
        f"\ntotal ≈ {total:.1f} min for {len(est['lines'])} jobs at {args.train_steps} updates, {args.seeds} seeds "
        f"(fixed part {est['fixed_s'] / 60:.1f} min: evaluations and start-ups); "
        f"{args.budget_min:.0f} min fits ≈ {fit:.0f} updates per distiller"
    )
    if est["missing"]:
        print(f"not costed (no measurement): {len(est['missing'])} jobs, e.g. {est['missing'][0]!r}")
    from harness.io import append_jsonl

    rec = {
        "bench": "study_estimate",
        "measured": [str(m) for m in args.measured],
        "seeds": args.seeds,
        "train_steps": args.train_steps,
        "total_min": round(total, 1),
        "fixed_min": round(est["fixed_s"] / 60, 1),
        "fits_updates": round(fit),
        "budget_min": args.budget_min,
        "missing": len(est["missing"]),
    }
    append_jsonl(args.out, rec)
    return rec


if __name__ == "__main__":
    main()
