"""`harness sweep teacher`: choose a task's teacher-sampler preset on validation seeds.

Every combination of the `--grid` values is scored on the task's suite (shapes-fid for the class
task, shapes-geneval for captions) on a seed range at or above 1,000,000, which no reported row
uses, so a preset is never chosen on the seeds it is reported on. The table is printed and written
as JSON; `--write-preset NAME` stores the best setting (lowest FID / highest overall) as the task's
preset with the table and the command as its evidence. `--checkpoint RUN` sweeps a teacher run folder
instead of the shipped teacher (a candidate's preset is chosen before it is shipped); the evidence names
the teacher weights (sha256, and the run and step for a candidate) a preset was chosen on.
`harness sweep choose A.json B.json ... --write-preset NAME` pools tables of points swept one at a time (same
teacher, steps and seeds) and stores the best of all their rows.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

from harness.errors import HarnessError
from harness.io import write_json
from harness.registry import METHODS, SHAPES_TASKS, SUITES, distillers

# the shapes suite each shapes task's sweeps score on: (suite, its headline metric, min|max)
SUITE_OF = {s.task: (s.name, s.headline, s.better) for s in SUITES.values() if s.task in SHAPES_TASKS}
SWEEPABLE = {
    "w": float,
    "r_temp": float,
    "sm_temp": float,
    "schedule": str,
    "anneal_gumbel": lambda x: x.lower() in ("1", "true"),
    # the algorithm itself and MaskGen's settings (harness.networks.maskgen.MaskGenSamplerConfig)
    "sampler": str,
    "guidance_scale": float,
    "randomize_temperature": float,
    "guidance_decay": str,
}


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


def _suite_and_seeds(kind: str, task: str, seeds: str):
    """(suite, metric, min|max, validation seed list) for a sweep, refusing tasks without a suite and reported seeds."""
    from harness.evaluate import parse_seeds
    from harness.sampler_presets import VALIDATION_SEED_BASE

    if task not in SUITE_OF:
        raise HarnessError(f"sweep {kind} runs on the shapes tasks (shapes, shapes-t2i), not {task!r}")
    seed_list = parse_seeds(seeds, 0)
    if seed_list[0] < VALIDATION_SEED_BASE:
        raise HarnessError(
            f"--seeds {seeds} overlaps the reported seeds; validation seeds start at {VALIDATION_SEED_BASE}"
        )
    return (*SUITE_OF[task], seed_list)


def sweep_teacher(
    task: str, steps: int, grid: dict[str, list], seeds: str, batch: int = 250, checkpoint: Path | None = None
) -> dict:
    """`checkpoint`: a teacher run folder (a candidate scored before it is shipped) instead of the shipped teacher."""
    from harness.evaluate import evaluate
    from harness.sampler_presets import settings_for, teacher_preset

    suite, metric, best_of, seed_list = _suite_and_seeds("teacher", task, seeds)
    base = teacher_preset(task)["settings"]
    rows = []
    keys = list(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        settings = settings_for(base, dict(zip(keys, values)))
        res = evaluate("teacher", suite, steps, checkpoint, seeds=seeds, batch=batch, options=settings, append=False)
        rows.append(
            {
                "settings": settings,
                "metrics": res["metrics"],
                "fingerprint": res["fingerprint"]["id"],
                "wall_time_s": res["wall_time_s"],
            }
        )
        print(f"sweep: {dict(zip(keys, values))} -> {metric}={res['metrics'][metric]:.4g}", file=sys.stderr, flush=True)
    best = best_of(rows, key=lambda r: r["metrics"][metric])
    teacher = res["fingerprint"]["generator"]["networks"]  # the same weights under every row
    return {
        "task": task,
        "suite": suite,
        "steps": steps,
        "seeds": [seed_list[0], seed_list[-1]],
        "n": len(seed_list),
        "selection": f"{'lowest' if best_of is min else 'highest'} {metric}",
        "grid": grid,
        "rows": rows,
        "best": best["settings"],
        "teacher": teacher,
    }


def choose_from_sweeps(files: list[Path]) -> dict:
    """Pool the rows of several `sweep teacher` tables (points run one at a time, or side by side) into one table and
    choose its best. They must be comparable: the same task, suite, steps, validation seeds and teacher weights."""
    if not files:
        raise HarnessError("give at least one sweep table: harness sweep choose A.json B.json ...")
    tables = []
    for f in files:
        try:
            tables.append(json.loads(Path(f).read_text()))
        except (OSError, ValueError) as e:
            raise HarnessError(f"cannot read sweep table {f}: {e}") from None
        if "rows" not in tables[-1] or "teacher" not in tables[-1] or tables[-1].get("task") not in SUITE_OF:
            raise HarnessError(f"{f} is not a `harness sweep teacher` table (no rows, teacher or shapes task)")

    def same(t):  # the teacher's weights and tokenizer, not the run folder it was read from
        return (
            t["task"],
            t["suite"],
            t["steps"],
            tuple(t["seeds"]),
            t["teacher"].get("teacher"),
            t["teacher"].get("tokenizer"),
        )

    for f, t in zip(files[1:], tables[1:]):
        if same(t) != same(tables[0]):
            raise HarnessError(
                f"{f} is not comparable with {files[0]} (task, suite, steps, seeds, teacher): "
                f"{same(t)} vs {same(tables[0])}; choose among tables of one sweep setup"
            )
    first = tables[0]
    _, metric, best_of = SUITE_OF[first["task"]]
    rows = [r for t in tables for r in t["rows"]]
    grid: dict[str, list] = {}
    for r in rows:
        for k, v in r["settings"].items():
            if v not in grid.setdefault(k, []):
                grid[k].append(v)
    best = best_of(rows, key=lambda r: r["metrics"][metric])
    return {k: first[k] for k in ("task", "suite", "steps", "seeds", "n", "selection", "teacher")} | {
        "grid": grid,
        "rows": rows,
        "best": best["settings"],
        "command": " && ".join(t["command"] for t in tables),
        "tables": [str(f) for f in files],
    }


def sweep_distiller(
    kind: str,
    task: str,
    grid: dict[str, list[str]],
    base: list[str],
    train_steps: int,
    eval_steps: int,
    seeds: str,
    root: Path,
    batch: int = 250,
) -> dict:
    """Train `kind` once per combination of `--set` values (resumable run folders under `root`) and score
    each student on validation seeds: the protocol that gives every distiller the same tuning budget."""
    import dataclasses

    from harness.registry import load_trainer
    from harness.config import apply_overrides, task_defaults
    from harness.evaluate import evaluate
    from harness.train_loop import logged_figures

    if kind not in distillers():
        raise HarnessError(f"sweep {kind!r}: choose one of {', '.join(distillers())} (or `sweep teacher`)")
    suite, metric, best_of, seed_list = _suite_and_seeds(kind, task, seeds)
    cls, train_fn = load_trainer(kind)
    keys = list(grid)
    combos = [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]
    start = task_defaults(cls, task)
    configs = []
    for combo in combos:  # parse every configuration before any training: a typo fails at once
        cfg = apply_overrides(start, base + [f"{k}={v}" for k, v in combo.items()])
        configs.append(dataclasses.replace(cfg, steps=train_steps))
    rows = []
    for combo, cfg in zip(combos, configs):
        name = ",".join(f"{k}={v}" for k, v in combo.items()) or "base"
        out = root / name
        train_fn(cfg, out)
        ck = out / METHODS[kind].student_file.format(steps=eval_steps)
        res = evaluate(kind, suite, eval_steps, ck, seeds=seeds, batch=batch, append=False)
        rows.append(
            {
                "settings": combo,
                "run_dir": str(out),
                "metrics": res["metrics"],
                "fingerprint": res["fingerprint"]["id"],
                "train_sec_per_step": logged_figures(out)[1],
            }
        )
        print(f"sweep: {name} -> {metric}={res['metrics'][metric]:.4g}", file=sys.stderr, flush=True)
    best = best_of(rows, key=lambda r: r["metrics"][metric])
    return {
        "kind": kind,
        "task": task,
        "suite": suite,
        "train_steps": train_steps,
        "eval_steps": eval_steps,
        "base": base,
        "seeds": [seed_list[0], seed_list[-1]],
        "n": len(seed_list),
        "grid": grid,
        "selection": f"{'lowest' if best_of is min else 'highest'} {metric}",
        "rows": rows,
        "best": best["settings"],
    }


def format_table(result: dict, cols: tuple[str, ...]) -> str:
    keys = list(result["grid"])
    lines = ["| " + " | ".join(keys + list(cols)) + " |", "|" + "---|" * (len(keys) + len(cols))]
    for r in result["rows"]:
        mark = " **(chosen)**" if r["settings"] == result["best"] else ""
        lines.append(
            "| "
            + " | ".join(
                [str(r["settings"].get(k)) for k in keys]
                + [f"{r['metrics'][c]:.4g}" if c in r["metrics"] else "-" for c in cols]
            )
            + mark
            + " |"
        )
    return "\n".join(lines)


def _teacher_cols(task: str) -> tuple[str, ...]:
    return (
        ("fid", "recall", "precision", "detector_accuracy")
        if task == "shapes"
        else ("overall", "single_object", "two_object", "counting", "colors", "position", "color_attr")
    )


def _store_best(result: dict, name: str) -> None:
    """Store a sweep table's best setting as its task's preset, with the table and its commands as the evidence."""
    import typer
    from harness.sampler_presets import store_preset

    path = store_preset(
        result["task"],
        name,
        result["best"],
        {k: result[k] for k in ("command", "suite", "steps", "seeds", "n", "selection", "rows", "teacher")},
    )
    typer.echo(f"stored preset {name!r} for {result['task']} in {path}")


def register(app) -> None:
    import typer

    sw = typer.Typer(help="Choose settings on validation seeds.", no_args_is_help=True)

    @sw.command("teacher")
    def teacher_cmd(
        task: str = typer.Option("shapes", help="shapes (scored on shapes-fid) or shapes-t2i (shapes-geneval)"),
        steps: int = typer.Option(16, help="teacher steps the preset is chosen at"),
        grid: list[str] = typer.Option(
            [], help="sampler setting and values, repeatable: --grid w=0,1,2 --grid r_temp=1,4.5"
        ),
        seeds: str = typer.Option(
            "1000000-1000999", help="validation seed range (>= 1000000, disjoint from reported seeds)"
        ),
        batch: int = typer.Option(250, help="generation batch size (results do not depend on it)"),
        out: Path = typer.Option(
            None, help="JSON file for the table (default runs/sweep/teacher-<task>-<steps>step.json)"
        ),
        write_preset: str = typer.Option("", help="store the best setting as the task's preset under this name"),
        checkpoint: Path = typer.Option(
            None,
            help="a teacher run folder (harness train teacher --out): sweep a candidate "
            "before shipping it (its EMA weights where it keeps them; RUN/checkpoints/step_N/model.safetensors for "
            "the raw ones); its run, step and sha256 are in the table",
        ),
    ):
        """Score every combination of teacher-sampler settings on validation seeds; optionally store the best as the
        preset."""
        if steps < 1 or batch < 1:
            raise HarnessError("--steps and --batch must be >= 1")
        result = sweep_teacher(task, steps, parse_grid(grid), seeds, batch, checkpoint)
        result["command"] = "harness " + " ".join(sys.argv[1:])
        out = out or Path("runs/sweep") / f"teacher-{task}-{steps}step.json"
        write_json(out, result)
        typer.echo(format_table(result, _teacher_cols(task)))
        typer.echo(f"best ({result['selection']}): {result['best']}; wrote {out}")
        if write_preset:
            _store_best(result, write_preset)

    @sw.command("choose")
    def choose_cmd(
        tables: list[Path] = typer.Argument(..., help="sweep tables written by `harness sweep teacher --out`"),
        write_preset: str = typer.Option("", help="store the best setting as the task's preset under this name"),
        out: Path = typer.Option(None, help="JSON file for the pooled table (default: none written)"),
    ):
        """Pool several `sweep teacher` tables of one setup (same teacher, steps, seeds) and choose the best row."""
        result = choose_from_sweeps(list(tables))
        result["command"] += " && harness " + " ".join(sys.argv[1:])
        if out:
            write_json(out, result)
        typer.echo(format_table(result, _teacher_cols(result["task"])))
        typer.echo(
            f"best ({result['selection']}) of {len(result['rows'])} rows in {len(tables)} tables: {result['best']}"
        )
        if write_preset:
            _store_best(result, write_preset)

    for kind in distillers():
        _register_distiller(sw, kind)
    app.add_typer(sw, name="sweep")


def _register_distiller(sw, kind: str) -> None:
    import typer

    @sw.command(kind)
    def distiller_cmd(
        task: str = typer.Option("shapes", help="shapes (scored on shapes-fid) or shapes-t2i (shapes-geneval)"),
        grid: list[str] = typer.Option([], help="config key and values, repeatable: --grid lr=1e-5,5e-5,1e-4"),
        set_: list[str] = typer.Option([], "--set", help="fixed config override key=value for every run, repeatable"),
        train_steps: int = typer.Option(400, help="training steps of every run (the same budget for every method)"),
        eval_steps: int = typer.Option(1, help="sampling steps the students are scored at"),
        seeds: str = typer.Option("1000000-1001999", help="validation seed range (>= 1000000)"),
        root: Path = typer.Option(None, help=f"run folders (default runs/sweep/{kind}-<task>/)"),
        out: Path = typer.Option(None, help=f"JSON file for the table (default runs/sweep/{kind}-<task>.json)"),
    ):
        """Train once per combination of config values and score each student on validation seeds."""
        if train_steps < 1 or eval_steps < 1:
            raise HarnessError("--train-steps and --eval-steps must be >= 1")
        g: dict[str, list[str]] = {}
        for item in grid:
            if "=" not in item:
                raise HarnessError(f"--grid {item!r} is not key=v1,v2; e.g. --grid lr=1e-5,5e-5")
            k, raw = item.split("=", 1)
            g[k] = [v for v in raw.split(",") if v]
        result = sweep_distiller(
            kind, task, g, list(set_), train_steps, eval_steps, seeds, root or Path("runs/sweep") / f"{kind}-{task}"
        )
        result["command"] = "harness " + " ".join(sys.argv[1:])
        out = out or Path("runs/sweep") / f"{kind}-{task}.json"
        write_json(out, result)
        cols = (
            ("fid", "recall", "precision", "detector_accuracy", "mean_area", "centre_spread")
            if task == "shapes"
            else ("overall", "single_object", "two_object", "counting", "colors", "position", "color_attr")
        )
        typer.echo(format_table(result, cols))
        typer.echo(f"best ({result['selection']}): {result['best']}; wrote {out}")
