"""`harness curve RUN...`: learning curves of one-step distillers, scored on validation seeds.

Every distiller's run exports its student at 0, 10, 30, 100, 300, 1,000, 3,000, ... updates
(`curve/step_XXXXXXX/student`, harness.train_loop.curve_points). This command scores each such point
on a suite's validation seeds (once: a scored point is read back, so the command resumes and extends),
groups runs that differ only in their training seed, and writes one JSON, one PNG and a Markdown table of each
group's start, best and last point: a line per group
(the seeds' mean, their min-max as a band), with the 16-step and 1-step teacher and the untrained start
as reference lines.

Each run's scores are also written as a run record (`OUT/runs/NAME.json`: method, settings, suite, seeds and
every point's metrics, no weights). A record stands in for its run folder on a later call, so a curve outlives
the folders it was scored from and a new seed can join the band of one whose folder is gone.

Which point is a group's best is decided by one rule for every method, and never by FID alone, since a
student can keep its FID while drawing the wrong class or losing its diversity:
  shapes-fid      the lowest mean FID among the trained points (> 0 updates) that keep class correctness
                  (detector-correct >= the untrained start's) and recall (>= RECALL_KEEP x the start's);
  shapes-geneval  the highest mean overall score (GenEval's overall already demands the right objects).
A group whose best point is not better than its start by more than the seeds' spread is "flat" or
"degrades" (its last point is worse than the start by more than that spread, or breaks a guard).
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from harness.errors import HarnessError
from harness.io import write_json

RECALL_KEEP = 0.75  # a trained point may lose at most a quarter of its start's recall and still be chosen
SUITE_METRICS = {
    "shapes-fid": [
        ("fid", "FID", "min"),
        ("recall", "recall", "max"),
        ("detector_accuracy", "detector-correct", "max"),
        ("classifier_accuracy", "classifier accuracy", "max"),
        ("mean_area", "mean area (px)", None),
        ("centre_spread", "centre spread (px)", None),
    ],
    "shapes-geneval": [
        ("overall", "overall", "max"),
        ("single_object", "single object", "max"),
        ("two_object", "two objects", "max"),
        ("counting", "counting", "max"),
        ("colors", "colours", "max"),
        ("position", "position", "max"),
        ("color_attr", "colour attribution", "max"),
    ],
}
DEFAULT_N = {"shapes-fid": 2000, "shapes-geneval": 4 * 148}
IGNORED_KEYS = ("seed", "steps", "stats_every", "stats_n", "compile")  # change no curve (seed: the band)


def validation_seeds(suite: str, spec: str | None) -> tuple[str, int]:
    """('A-B', count) of the validation seeds a curve is scored on; a range reaching reported seeds is refused."""
    from harness.evaluate import parse_seeds
    from harness.sampler_presets import VALIDATION_SEED_BASE

    seeds = (
        parse_seeds(spec, DEFAULT_N[suite])
        if spec
        else list(range(VALIDATION_SEED_BASE, VALIDATION_SEED_BASE + DEFAULT_N[suite]))
    )
    if seeds[0] < VALIDATION_SEED_BASE:
        raise HarnessError(
            f"--seeds {spec!r} reaches reported seeds (< {VALIDATION_SEED_BASE}); curves choose budgets "
            f"and checkpoints, so they read validation seeds only"
        )
    return f"{seeds[0]}-{seeds[-1]}", len(seeds)


# ------------------------------------------------------------------------------------------------ runs and points
def read_run(run: Path) -> dict:
    """A run folder's method, task, config and exported points {updates: checkpoint path}; or a run record's
    (a `runs/NAME.json` an earlier call wrote), whose points come already scored."""
    run = Path(run)
    if run.suffix == ".json" and run.is_file():
        return read_record(run)
    if not run.is_dir():
        raise HarnessError(f"run folder {run} does not exist; train one with `harness train fpd|dimo|sdtt --out {run}`")
    points = {
        int(p.name[5:]): p / "student" for p in sorted((run / "curve").glob("step_*")) if (p / "student.json").exists()
    }
    if not points:
        raise HarnessError(
            f"{run} holds no curve points (curve/step_*/student.json); it was trained before runs "
            f"exported them, or has not started: re-run its `harness train` command"
        )
    meta = json.loads(points[min(points)].with_suffix(".json").read_text())
    train = meta["config"]["train"]
    return {
        "run": str(run),
        "method": meta["config"]["method"],
        "task": train["task"],
        "train": train,
        "points": points,
        "cost": run_cost(run),
    }


def run_cost(run: Path) -> dict | None:
    """What one update cost the finished run (its export's measured s/update), and what it paid once before
    training (a teacher pool's generation); None while the run has not finished."""
    final = run / "student.json"
    if not final.exists():
        final = next(iter(sorted(run.glob("student_*step.json"))), final)
    if not final.exists():
        return None
    costs = json.loads(final.read_text()).get("costs") or {}
    if costs.get("sec_per_step") is None:
        return None
    return {
        "sec_per_update": costs["sec_per_step"],
        "once_s": (costs.get("teacher_pool") or {}).get("generation_s", 0.0),
    }


def read_record(path: Path) -> dict:
    try:
        rec = json.loads(path.read_text())
        scores = {int(k): v for k, v in rec["scores"].items()}
        out = {
            "run": rec["run"],
            "method": rec["method"],
            "task": rec["task"],
            "train": rec["train"],
            "points": {},
            "scores": scores,
            "record": {"suite": rec["suite"], "seeds": rec["seeds"]},
            "temp": rec.get("temp"),
            "cost": rec.get("cost"),
        }
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise HarnessError(
            f"{path} is not a run record (runs/NAME.json written by `harness curve`); pass a run folder "
            f"or a record from a curve's runs/ folder"
        ) from None
    return out


def record_name(run: dict) -> str:
    """A run record's file name: the run folder's name (and the sampling temperature, where one was asked)."""
    name = Path(run["run"]).name
    return name + ("" if run.get("temp") is None else f"@temp{run['temp']:g}") + ".json"


def write_record(out: Path, run: dict, suite: str, seeds: str) -> None:
    write_json(
        out / "runs" / record_name(run),
        {
            "run": run["run"],
            "method": run["method"],
            "task": run["task"],
            "train": run["train"],
            "suite": suite,
            "seeds": seeds,
            "temp": run.get("temp"),
            "cost": run.get("cost"),
            "scores": {str(k): v for k, v in sorted(run["scores"].items())},
        },
    )


def score_point(method: str, suite: str, checkpoint: Path, seeds: str, batch: int, temp: float | None = None) -> dict:
    """The suite's metrics of one exported student (at sampling temperature `temp`; None = the trained one),
    computed once and then read from beside it."""
    from harness.evaluate import evaluate

    folder = checkpoint.parent
    tag = "" if temp is None else f"_temp{temp:g}"
    cache = folder / f"score_{suite}_{seeds}{tag}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    res = evaluate(
        method,
        suite,
        1,
        checkpoint,
        seeds,
        batch,
        out=folder / f"eval_{suite}{tag}",
        append=False,
        options=None if temp is None else {"temp": temp},
    )
    out = {
        "metrics": res["metrics"],
        "n": res["n"],
        "fingerprint": res["fingerprint"]["id"],
        "wall_time_s": res["wall_time_s"],
    }
    write_json(cache, out)
    return out


def reference_scores(suite: str, seeds: str, batch: int, out: Path) -> dict:
    """teacher-16 and teacher-1 on the same seeds, scored once into the output folder."""
    from harness.evaluate import evaluate
    from harness.io import runs_root

    refs = {}
    for steps in (16, 1):
        cache = out / "references" / f"teacher-{steps}_{suite}_{seeds}.json"
        if not cache.exists():
            res = evaluate(
                "teacher",
                suite,
                steps,
                None,
                seeds,
                batch,
                append=False,  # samples in the runs folder,
                out=runs_root() / "eval" / "curve-references" / suite / f"teacher-{steps}",
            )  # scores in out
            write_json(cache, {"metrics": res["metrics"], "fingerprint": res["fingerprint"]["id"]})
        refs[f"teacher-{steps}"] = json.loads(cache.read_text())["metrics"]
    return refs


# ------------------------------------------------------------------------------------------------ groups
def config_label(method: str, task: str, train: dict) -> dict:
    """The run's settings that differ from its trainer's defaults for the task (the seed and budget aside)."""
    from harness.registry import load_trainer
    from harness.config import task_defaults, to_dict

    cls, _ = load_trainer(method)
    base = to_dict(task_defaults(cls, task))
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in train.items() if k in names and k not in IGNORED_KEYS and base.get(k) != v}


def group_runs(runs: list[dict]) -> dict[str, dict]:
    """Runs that differ only in their seed form one group, named by method and the settings that tell groups apart."""
    diffs = [config_label(r["method"], r["task"], r["train"]) for r in runs]
    shared = {k: v for k, v in diffs[0].items() if all(d.get(k) == v for d in diffs)} if diffs else {}
    groups: dict[str, dict] = {}
    for r, d in zip(runs, diffs):
        own = {k: v for k, v in sorted(d.items()) if k not in shared}
        name = r["method"] + "".join(f" {k}={v}" for k, v in own.items())
        if r.get("temp") is not None:
            name += f" @temp {r['temp']:g}"
        g = groups.setdefault(name, {"method": r["method"], "settings": own, "temp": r.get("temp"), "runs": []})
        g["runs"].append(r)
    return {"shared_settings": shared, "groups": groups}


def summarize(group: dict, suite: str) -> dict:
    """Per update count: each seed's metrics, their mean and min-max; then the best point and the verdict."""
    by_step: dict[int, list[dict]] = {}
    for r in group["runs"]:
        for step, m in r["scores"].items():
            by_step.setdefault(step, []).append(m)
    points = []
    for step in sorted(by_step):
        ms = by_step[step]
        keys = [k for k, *_ in SUITE_METRICS[suite] if all(k in m for m in ms)]
        points.append(
            {
                "updates": step,
                "seeds": len(ms),
                "values": {k: [m[k] for m in ms] for k in keys},
                "mean": {k: float(np.mean([m[k] for m in ms])) for k in keys},
                "min": {k: float(np.min([m[k] for m in ms])) for k in keys},
                "max": {k: float(np.max([m[k] for m in ms])) for k in keys},
            }
        )
    costs = [r["cost"] for r in group["runs"] if r.get("cost")]
    cost = {k: float(np.mean([c[k] for c in costs])) for k in ("sec_per_update", "once_s")} if costs else None
    return {"points": points, "cost": cost, **verdict(points, suite)}


def cost_at(cost: dict | None, updates: int) -> float | None:
    """Seconds of training a point cost: its updates at the run's measured rate, plus what was paid once."""
    return None if cost is None else updates * cost["sec_per_update"] + cost["once_s"]


def _spread(p: dict, k: str) -> float:
    return p["max"][k] - p["min"][k]


def keeps_start(p: dict, start: dict) -> bool:
    """The guard of the shapes-fid rule: class correctness and most of the recall of the untrained start kept."""
    return (
        p["mean"]["detector_accuracy"] >= start["mean"]["detector_accuracy"]
        and p["mean"]["recall"] >= RECALL_KEEP * start["mean"]["recall"]
    )


def choose_temperature(groups: dict[str, dict], suite: str) -> dict[str, dict]:
    """For each setting scored at several temperatures: the (temperature, point) the best-point rule picks over all
    of them, guarded against the untrained start at temperature 1 (the temperature every student trains at)."""
    by_base: dict[str, list] = {}
    for name, g in groups.items():
        if g.get("temp") is not None:
            by_base.setdefault(name.split(" @temp")[0], []).append(g)
    chosen = {}
    for base, gs in by_base.items():
        if len(gs) < 2:
            continue
        ref = next((g for g in gs if g["temp"] == 1.0), gs[0])
        start = next((p for p in ref["points"] if p["updates"] == 0), None)
        cands = [(g["temp"], p) for g in gs for p in g["points"] if p["updates"] > 0]
        if start is None or not cands:
            continue
        if suite == "shapes-fid":
            ok = [(t, p) for t, p in cands if keeps_start(p, start)]
            pick = min(ok, key=lambda tp: tp[1]["mean"]["fid"]) if ok else None
        else:
            pick = max(cands, key=lambda tp: tp[1]["mean"]["overall"])
        chosen[base] = {"temp": pick[0], "updates": pick[1]["updates"]} if pick else {"temp": None, "updates": None}
    return chosen


def moves(p: dict, start: dict, suite: str) -> str:
    """How a point differs from the start, measure by measure: 'better' / 'worse' beyond the seeds' spread."""
    words = []
    for key, title, good in SUITE_METRICS[suite][:3]:
        if key not in p["mean"] or key not in start["mean"]:
            continue
        d, noise = p["mean"][key] - start["mean"][key], max(_spread(p, key), _spread(start, key))
        if abs(d) > noise:
            words.append(f"{title} {'better' if (d < 0) == (good == 'min') else 'worse'}")
    return ", ".join(words) or "within noise on every measure"


def verdict(points: list[dict], suite: str) -> dict:
    """The best point by the module's rule and whether training helped, measured against the untrained start;
    the verdict names how the last point moved on each headline measure."""
    start = next((p for p in points if p["updates"] == 0), None)
    trained = [p for p in points if p["updates"] > 0]
    if start is None or not trained:
        return {"best_updates": None, "verdict": "no start or no trained point scored yet"}
    last = trained[-1]
    if suite == "shapes-fid":
        ok = [p for p in trained if keeps_start(p, start)]
        best = min(ok, key=lambda p: p["mean"]["fid"]) if ok else None
        noise = lambda p: max(_spread(p, "fid"), _spread(start, "fid"))  # noqa: E731
        better = best is not None and best["mean"]["fid"] < start["mean"]["fid"] - noise(best)
        worse = not keeps_start(last, start) or last["mean"]["fid"] > start["mean"]["fid"] + noise(last)
        rule = (
            f"lowest FID among trained points with detector-correct >= the start's and recall >= "
            f"{RECALL_KEEP} x the start's"
        )
    else:
        best = max(trained, key=lambda p: p["mean"]["overall"])
        noise = lambda p: max(_spread(p, "overall"), _spread(start, "overall"))  # noqa: E731
        better = best["mean"]["overall"] > start["mean"]["overall"] + noise(best)
        worse = last["mean"]["overall"] < start["mean"]["overall"] - noise(last)
        rule = "highest overall among trained points"
    word = "improves" if better and not worse else ("degrades" if worse else "flat")
    if better and worse:
        word = "improves, then degrades"
    word += f"; at {last['updates']:,} against the start: {moves(last, start, suite)}"
    if max(p["seeds"] for p in points) < 2:
        word += " (one seed: no spread to measure noise by)"
    return {
        "best_updates": best["updates"] if best else None,
        "verdict": word,
        "rule": rule,
        "last_updates": last["updates"],
    }


# ------------------------------------------------------------------------------------------------ picture
def _x(step: int) -> float:
    return 3.0 if step == 0 else float(step)  # the untrained start drawn at x = 3 on the log axis, labelled 0


def curve_figure(result: dict, out: Path) -> Path:
    from harness.figures import _figure, _save

    suite = result["suite"]
    metrics = SUITE_METRICS[suite]
    cols = 3 if len(metrics) <= 6 else 4
    rows = -(-len(metrics) // cols)
    fig = _figure(4.2 * cols, 3.2 * rows)
    refs = result["references"]
    for i, (key, title, _) in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, i + 1)
        for j, (name, g) in enumerate(result["groups"].items()):
            pts = [p for p in g["points"] if key in p["mean"]]
            if not pts:
                continue
            xs = [_x(p["updates"]) for p in pts]
            ax.plot(xs, [p["mean"][key] for p in pts], marker="o", ms=3, color=f"C{j % 10}", label=name)
            if any(p["seeds"] > 1 for p in pts):
                ax.fill_between(
                    xs, [p["min"][key] for p in pts], [p["max"][key] for p in pts], color=f"C{j % 10}", alpha=0.2
                )
        for ref, style in (("teacher-16", "-"), ("teacher-1", ":")):
            if key in refs.get(ref, {}):
                ax.axhline(refs[ref][key], color="grey", ls=style, lw=1, label=ref)
        if key in result.get("untrained_start", {}):
            ax.axhline(result["untrained_start"][key], color="black", ls="--", lw=0.8, label="untrained FPD start")
        ax.set_xscale("log")
        ticks = sorted({_x(p["updates"]) for g in result["groups"].values() for p in g["points"]})
        ax.set_xticks(ticks, [("0" if t == 3.0 else f"{int(t):,}") for t in ticks], fontsize=7)
        ax.minorticks_off()
        if key == "fid":
            ax.set_yscale("log")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("updates", fontsize=8)
        if i == 0:
            ax.legend(fontsize=6, loc="best")
    fig.suptitle(
        f"{suite} on {result['n']} validation samples per point (seeds {result['seeds']}); "
        f"band = min-max over training seeds",
        fontsize=9,
    )
    fig.tight_layout()
    return _save(fig, out)


# ------------------------------------------------------------------------------------------------ table
def _fmt(p: dict | None, keys: list[str]) -> list[str]:
    if p is None:
        return ["—"] * len(keys)
    out = []
    for k in keys:
        if k not in p["mean"]:
            out.append("—")
            continue
        v, spread = p["mean"][k], (p["max"][k] - p["min"][k]) / 2
        digits = 0 if abs(v) >= 100 else 2
        out.append(f"{v:.{digits}f}" + (f" ± {spread:.{digits}f}" if p["seeds"] > 1 else ""))
    return out


def curve_table(result: dict) -> str:
    """Markdown: per group its untrained start, its best point by the rule, its last point, and the verdict
    (± = half the min-max range over training seeds; train s = the point's updates at the runs' measured s/update,
    plus what was paid once, e.g. a teacher pool)."""
    keys = [k for k, *_ in SUITE_METRICS[result["suite"]]]
    names = [t for _, t, _ in SUITE_METRICS[result["suite"]]]
    lines = [
        f"{result['suite']}, {result['n']} validation samples per point (seeds {result['seeds']}); "
        f"shared settings {result['shared_settings']}; best point: {result.get('selection_rule')}",
        "",
        "| group | seeds | point | updates | train s | " + " | ".join(names) + " | verdict |",
        "|---" * (6 + len(names)) + "|",
    ]
    refs = result.get("references", {})
    for ref, m in sorted(refs.items(), key=lambda kv: -int(kv[0].split("-")[1])):  # teacher-16 first
        vals = [f"{m[k]:.0f}" if abs(m[k]) >= 100 else f"{m[k]:.2f}" if k in m else "—" for k in keys]
        lines.append(f"| {ref} | | reference | | | " + " | ".join(vals) + " | |")
    for name, g in result["groups"].items():
        pts = {p["updates"]: p for p in g["points"]}
        seeds = max((p["seeds"] for p in g["points"]), default=0)
        rows = [
            ("start", pts.get(0)),
            ("best", pts.get(g.get("best_updates"))),
            ("last", pts.get(g.get("last_updates"))),
        ]
        for i, (what, p) in enumerate(rows):
            upd = "" if p is None else f"{p['updates']:,}"
            spent = None if p is None or not p["updates"] else cost_at(g.get("cost"), p["updates"])
            spent = "" if spent is None else f"{spent:,.0f}"
            lines.append(
                f"| {name if i == 0 else ''} | {seeds if i == 0 else ''} | {what} | {upd} | {spent} | "
                + " | ".join(_fmt(p, keys))
                + f" | {g['verdict'] if i == 0 else ''} |"
            )
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ driver
def curves(
    run_dirs: list[Path],
    suite: str,
    out: Path,
    seeds: str | None = None,
    batch: int = 250,
    references: bool = True,
    temps: list[float] | None = None,
    at: list[int] | None = None,
) -> dict:
    from harness.registry import METHODS, SUITES

    if suite not in SUITE_METRICS:
        raise HarnessError(f"harness curve scores {', '.join(SUITE_METRICS)}, not {suite!r}")
    task = SUITES.get_or_fail(suite).task
    seeds, n = validation_seeds(suite, seeds)
    runs = [read_run(r) for r in run_dirs]
    for r in runs:
        if "record" in r and r["record"] != {"suite": suite, "seeds": seeds}:
            raise HarnessError(
                f"the record of {r['run']} holds {r['record']['suite']} on seeds {r['record']['seeds']}, "
                f"not {suite} on {seeds}; pass records scored like this curve, or the run folder"
            )
        if "record" in r and temps:
            raise HarnessError(
                f"--temps re-samples points, and the record of {r['run']} holds scores only; pass its run folder"
            )
    names = [record_name(r) for r in runs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise HarnessError(f"two runs are named {twice[0][:-5]!r} (a folder and its record?); pass each run once")
    if at is not None:  # only these update counts (e.g. a temperature sweep of the start and the last point)
        runs = [
            {
                **r,
                "points": {k: v for k, v in r["points"].items() if k in at},
                **({"scores": {k: v for k, v in r["scores"].items() if k in at}} if "record" in r else {}),
            }
            for r in runs
        ]
    wrong = [r["run"] for r in runs if r["task"] != task]
    if wrong:
        raise HarnessError(f"{wrong[0]} trained on another task than {suite}'s {task}; score it with its task's suite")
    from_z_init = [m for m, rec in METHODS.items() if rec.from_z_init]
    if temps and any(r["method"] not in from_z_init for r in runs):
        raise HarnessError(
            f"--temps applies to students sampled from z_init ({', '.join(from_z_init)}); "
            f"the others sample with their teacher's MaskGIT sampler"
        )
    runs = [
        r if "record" in r else {**r, "temp": t} for r in runs for t in ([None] if "record" in r else temps or [None])
    ]
    for r in runs:
        if "record" not in r:
            r["scores"] = {
                step: score_point(r["method"], suite, ck, seeds, batch, r["temp"])["metrics"]
                for step, ck in sorted(r["points"].items())
            }
        write_record(out, r, suite, seeds)
    grouped = group_runs(runs)
    result = {
        "suite": suite,
        "seeds": seeds,
        "n": n,
        "shared_settings": grouped["shared_settings"],
        "selection_rule": None,
        "references": reference_scores(suite, seeds, batch, out) if references else {},
        "groups": {},
    }
    for name, g in grouped["groups"].items():
        s = summarize(g, suite)
        result["groups"][name] = {
            "method": g["method"],
            "settings": g["settings"],
            "temp": g["temp"],
            "runs": [r["run"] for r in g["runs"]],
            **s,
        }
        result["selection_rule"] = s.get("rule", result["selection_rule"])
    result["temperature_choice"] = choose_temperature(result["groups"], suite)
    fpd_start = [
        g for g in result["groups"].values() if g["method"] == "fpd" and g["points"] and g["points"][0]["updates"] == 0
    ]
    if fpd_start:
        result["untrained_start"] = fpd_start[0]["points"][0]["mean"]
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / f"curve_{suite}.json", result)
    (out / f"curve_{suite}.md").write_text(curve_table(result))
    result["png"] = str(curve_figure(result, out / f"curve_{suite}.png"))
    return result


def register(app: typer.Typer) -> None:
    @app.command()
    def curve(
        runs: list[Path] = typer.Argument(
            ...,
            help="run folders of `harness train fpd|dimo|sdtt` (each exports curve "
            "points), or run records (runs/NAME.json) of an earlier curve",
        ),
        suite: str = typer.Option("shapes-fid", help="shapes-fid (class runs) or shapes-geneval (text runs)"),
        out: Path = typer.Option(
            Path("runs/curves"), help="folder for curve_<suite>.json / .png and the teacher references"
        ),
        seeds: Optional[str] = typer.Option(
            None,
            help="validation seed range (default: 2,000 from 1,000,000 for "
            "shapes-fid; every prompt x 4 for shapes-geneval)",
        ),
        batch: int = typer.Option(250, help="generation batch size (results do not depend on it)"),
        references: bool = typer.Option(True, help="score teacher-16 and teacher-1 as reference lines"),
        temps: Optional[str] = typer.Option(
            None,
            help="sampling temperatures to score every point at, e.g. 1,2,3 "
            "(fpd / dimo; default: the temperature each run trained at)",
        ),
        at: Optional[str] = typer.Option(
            None, help="score only these update counts, e.g. 0,3000 (default: every point)"
        ),
    ):
        """Score every exported point of the runs on validation seeds (once each) and draw the learning curves."""
        try:
            temp_list = [float(t) for t in temps.split(",")] if temps else None
        except ValueError:
            raise HarnessError(f"--temps {temps!r} must be numbers like 1,2,3") from None
        if temp_list and min(temp_list) <= 0:
            raise HarnessError("--temps must be > 0")
        try:
            at_list = [int(a) for a in at.split(",")] if at else None
        except ValueError:
            raise HarnessError(f"--at {at!r} must be update counts like 0,3000") from None
        res = curves(runs, suite, out, seeds, batch, references, temp_list, at_list)
        for name, g in res["groups"].items():
            last = g["points"][-1] if g["points"] else None
            typer.echo(
                f"{name}: {len(g['runs'])} seed(s), {len(g['points'])} points up to "
                f"{last['updates'] if last else 0} updates; best at {g.get('best_updates')}; {g['verdict']}"
            )
        typer.echo(f"wrote {out / f'curve_{suite}.json'} and {res['png']}")
