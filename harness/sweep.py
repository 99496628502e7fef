"""`harness sweep teacher`: choose a task's teacher-sampler preset on validation seeds.

Every combination of the `--grid` values is scored on the task's suite (shapes-fid for the class
task, shapes-geneval for captions) on a seed range at or above 1,000,000, which no reported row
uses, so a preset is never chosen on the seeds it is reported on. The table is printed and written
as JSON; `--write-preset NAME` stores the best setting (lowest FID / highest overall) as the task's
preset with the table and the command as its evidence.
"""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

from harness.errors import HarnessError
from harness.io import write_json

SUITE_OF = {"shapes": ("shapes-fid", "fid", min), "shapes-t2i": ("shapes-geneval", "overall", max)}
SWEEPABLE = {"w": float, "r_temp": float, "sm_temp": float, "schedule": str, "anneal_gumbel": lambda x: x.lower() in ("1", "true")}


def parse_grid(items: list[str]) -> dict[str, list]:
    grid: dict[str, list] = {}
    for item in items:
        if "=" not in item:
            raise HarnessError(f"--grid {item!r} is not key=v1,v2; e.g. --grid w=0,1,2")
        key, raw = item.split("=", 1)
        if key not in SWEEPABLE:
            raise HarnessError(f"--grid key {key!r} is not a sampler setting; choose from {', '.join(SWEEPABLE)}")
        try:
            grid[key] = [SWEEPABLE[key](v) for v in raw.split(",") if v]
        except ValueError:
            raise HarnessError(f"--grid {item!r}: cannot parse the values of {key}") from None
    if not grid:
        raise HarnessError("give at least one --grid key=v1,v2")
    return grid


def sweep_teacher(task: str, steps: int, grid: dict[str, list], seeds: str, batch: int = 250) -> dict:
    from harness.evaluate import evaluate, parse_seeds
    from harness.sampler_presets import VALIDATION_SEED_BASE, teacher_preset
    if task not in SUITE_OF:
        raise HarnessError(f"sweep teacher runs on the shapes tasks (shapes, shapes-t2i), not {task!r}")
    suite, metric, best_of = SUITE_OF[task]
    seed_list = parse_seeds(seeds, 0)
    if seed_list[0] < VALIDATION_SEED_BASE:
        raise HarnessError(f"--seeds {seeds} overlaps the reported seeds; validation seeds start at {VALIDATION_SEED_BASE}")
    base = teacher_preset(task)["settings"]
    rows = []
    keys = list(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        settings = {**base, **dict(zip(keys, values))}
        res = evaluate("teacher", suite, steps, seeds=seeds, batch=batch, options=settings, append=False)
        rows.append({"settings": settings, "metrics": res["metrics"], "fingerprint": res["fingerprint"]["id"],
                     "wall_time_s": res["wall_time_s"]})
        print(f"sweep: {dict(zip(keys, values))} -> {metric}={res['metrics'][metric]:.4g}", file=sys.stderr, flush=True)
    best = best_of(rows, key=lambda r: r["metrics"][metric])
    return {"task": task, "suite": suite, "steps": steps, "seeds": [seed_list[0], seed_list[-1]], "n": len(seed_list),
            "selection": f"{'lowest' if best_of is min else 'highest'} {metric}", "grid": grid, "rows": rows,
            "best": best["settings"]}


def format_table(result: dict, cols: tuple[str, ...]) -> str:
    keys = list(result["grid"])
    lines = ["| " + " | ".join(keys + list(cols)) + " |", "|" + "---|" * (len(keys) + len(cols))]
    for r in result["rows"]:
        mark = " **(chosen)**" if r["settings"] == result["best"] else ""
        lines.append("| " + " | ".join([str(r["settings"][k]) for k in keys] +
                                       [f"{r['metrics'][c]:.4g}" if c in r["metrics"] else "-" for c in cols]) + mark + " |")
    return "\n".join(lines)


def register(app) -> None:
    import typer
    sw = typer.Typer(help="Choose settings on validation seeds.", no_args_is_help=True)

    @sw.command("teacher")
    def teacher_cmd(
        task: str = typer.Option("shapes", help="shapes (scored on shapes-fid) or shapes-t2i (shapes-geneval)"),
        steps: int = typer.Option(16, help="teacher steps the preset is chosen at"),
        grid: list[str] = typer.Option([], help="sampler setting and values, repeatable: --grid w=0,1,2 --grid r_temp=1,4.5"),
        seeds: str = typer.Option("1000000-1000999", help="validation seed range (>= 1000000, disjoint from reported seeds)"),
        batch: int = typer.Option(250, help="generation batch size (results do not depend on it)"),
        out: Path = typer.Option(None, help="JSON file for the table (default runs/sweep/teacher-<task>-<steps>step.json)"),
        write_preset: str = typer.Option("", help="store the best setting as the task's preset under this name"),
    ):
        """Score every combination of teacher-sampler settings on validation seeds; optionally store the best as the preset."""
        from harness.sampler_presets import store_preset
        if steps < 1 or batch < 1:
            raise HarnessError("--steps and --batch must be >= 1")
        result = sweep_teacher(task, steps, parse_grid(grid), seeds, batch)
        result["command"] = "harness " + " ".join(sys.argv[1:])
        out = out or Path("runs/sweep") / f"teacher-{task}-{steps}step.json"
        write_json(out, result)
        cols = ("fid", "recall", "precision", "detector_accuracy") if task == "shapes" else \
            ("overall", "single_object", "two_object", "counting", "colors", "position", "color_attr")
        typer.echo(format_table(result, cols))
        typer.echo(f"best ({result['selection']}): {result['best']}; wrote {out}")
        if write_preset:
            path = store_preset(task, write_preset, result["best"],
                                {k: result[k] for k in ("command", "suite", "steps", "seeds", "n", "selection", "rows")})
            typer.echo(f"stored preset {write_preset!r} for {task} in {path}")

    app.add_typer(sw, name="sweep")
