"""`harness reproduce --scale shapes`: the paper's study (Tables 1-4) in the shapes world, resumable.

The plan is a list of jobs; a job whose output already exists is skipped, so re-running resumes.
  * teacher sweep 16/8/4/2/1 on shapes-fid and shapes-geneval (`--teacher-blocks` sampling-seed blocks),
  * SDTT (4 and 1 steps), DiMO (1 step) and FPD (1 step) on both tasks: shapes-fid (Table 2) and
    shapes-geneval (Table 1),
  * every ablation of Tables 3-4 as an FPD variant on shapes-t2i, scored on shapes-geneval,
each distiller over `--seeds` training seeds; per-seed values land in ONE leaderboard row per
configuration (mean, values, t-interval). Paper variants map onto the shapes backbone's 4 blocks:
the paper's shallow half {2,5} -> {0,1}, deep half {8,11} -> {2,3}, all {2,5,8,11} -> {0,1,2,3}.
`--train-steps`, `--n`, `--set` and `--only` shrink the budget; `--jobs N` runs independent jobs side by side.
What the study costs and where the time goes: docs/study-budget.md.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import typer

# paper variant label (harness.tables ABLATION_LAYOUT) -> FPD `--set` overrides in the shapes world
VARIANT_OVERRIDES: dict[str, list[str]] = {
    "ste": [],
    "soft": ["estimator=soft"],
    "soft+gan": ["estimator=soft", "gan=true"],
    "ste+gan": ["gan=true"],
    "draft=random": ["draft_source=random"],
    "space=pixel": ["space=pixel"],
    "bw={0.05}": ["bandwidths=[0.05]"],
    "pool=global": ["grid=0"],
    "blocks={2,5}": ["blocks=[0,1]"],
    "blocks={8,11}": ["blocks=[2,3]"],
}
TEACHER_STEPS = (16, 8, 4, 2, 1)


@dataclass
class Job:
    kind: str  # "train" | "eval"
    name: str
    args: dict = field(default_factory=dict)

    def done(self) -> bool:
        marker = Path(self.args["marker"])
        return marker.exists()

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "name": self.name, "args": self.args}, default=str)

    @classmethod
    def from_json(cls, text: str) -> "Job":
        d = json.loads(text)
        args = {
            k: (Path(v) if k in ("out", "marker", "checkpoint") and v is not None else v) for k, v in d["args"].items()
        }
        return cls(d["kind"], d["name"], args)

    def needs(self, todo: Sequence["Job"]) -> set[str]:
        """Names of the jobs in `todo` that must finish first: an evaluation waits for its training run."""
        if self.kind != "eval" or self.args["checkpoint"] is None:
            return set()
        return {j.name for j in todo if j.kind == "train" and j.args["out"] == Path(self.args["checkpoint"]).parent}


ROUNDS_SDTT = 4  # 16 -> 8 -> 4 -> 2 -> 1


def budget_overrides(kind: str, train_steps: int | None) -> list[str]:
    """`--train-steps N`: every distiller gets N generator updates (SDTT: N/4 per halving round). FPD's
    in-training sample statistics are diagnostics that change nothing; the study skips them (`--set
    stats_every=100` brings them back)."""
    if kind == "fpd":
        return ["stats_every=0"] + ([] if train_steps is None else [f"steps={train_steps}"])
    if train_steps is None:
        return []
    if kind == "sdtt":  # whole rounds, so the run reaches its 1-step student (at least one update a round)
        per_round = max(1, train_steps // ROUNDS_SDTT)
        return [f"steps={per_round * ROUNDS_SDTT}", f"round_steps={per_round}"]
    return [f"steps={train_steps}"]


@functools.cache
def trainer_fields(kind: str) -> frozenset[str]:
    import dataclasses

    from harness.registry import load_trainer

    return frozenset(f.name for f in dataclasses.fields(load_trainer(kind)[0]))


def shared_overrides(kind: str, items: Sequence[str]) -> list[str]:
    """`--set key=value` items that apply to this distiller (a key goes to every distiller that has it)."""
    from harness.errors import HarnessError

    out = []
    for item in items:
        key = item.split("=", 1)[0]
        if "=" not in item:
            raise HarnessError(f"--set {item!r} is not key=value; e.g. --set batch=16")
        if not any(key in trainer_fields(k) for k in ("fpd", "dimo", "sdtt")):
            raise HarnessError(f"--set {key!r}: no distiller (fpd, dimo, sdtt) has this config key")
        if key in trainer_fields(kind):
            out.append(item)
    return out


def run_folder(root: Path, kind: str, task: str, seed: int, variant: str = "") -> Path:
    """Where the study trains one distiller run: <kind>-<task>[-<variant>]-seed<seed> under its --root."""
    return Path(root) / f"{kind}-{task}{'-' + variant if variant else ''}-seed{seed}"


def plan(
    n_seeds: int = 3,
    root: Path = Path("runs/reproduce"),
    train_steps: int | None = None,
    n: int | None = None,
    only: Sequence[str] = (),
    sets: Sequence[str] = (),
    teacher_blocks: int = 1,
    train_precision: str = "fp32",
) -> list[Job]:
    """Every job of the study. `train_steps` / `n` shrink the budget (a toy run, or a time-boxed one);
    `only` keeps the eval groups matching these patterns (fnmatch, e.g. `fpd-1,dimo-1`) and the runs they need;
    `sets` are config overrides for every distiller that has the key (e.g. batch=4). The teacher has no
    training seed: `teacher_blocks` repeats its sweep on disjoint sampling-seed blocks (shapes-fid; the
    shapes-geneval prompt set is fixed), 1 by default — the 16-step sweep alone costs ~22 min per block on 2 cores.
    `train_precision` is the distillers' (bf16: their network forwards under autocast, as the official code
    trains); evaluations always sample in fp32, the protocol every reported row shares."""
    jobs: list[Job] = []

    def train(kind, task, seed, variant="", overrides=()):
        out = run_folder(root, kind, task, seed, variant)
        marker = out / ("student_1step.json" if kind == "sdtt" else "student.json")
        jobs.append(
            Job(
                "train",
                f"train {kind} {task} {variant or 'main'} seed {seed}",
                {
                    "kind": kind,
                    "task": task,
                    "out": out,
                    "marker": marker,
                    "precision": train_precision,
                    "overrides": [
                        f"seed={seed}",
                        *budget_overrides(kind, train_steps),
                        *shared_overrides(kind, sets),
                        *overrides,
                    ],
                },
            )
        )
        return out

    def evaluate(method, suite, steps, ck, group, seed, variant=""):
        out = root / "eval" / suite / f"{group}-seed{seed}-{steps}step"
        jobs.append(
            Job(
                "eval",
                f"eval {method} {variant or 'main'} {steps}-step on {suite} seed {seed}",
                {
                    "method": method,
                    "suite": suite,
                    "steps": steps,
                    "checkpoint": ck,
                    "out": out,
                    "group": group,
                    "variant": variant,
                    "seed": seed,
                    "n": n,
                    "marker": out / "results.json",
                },
            )
        )

    for s in range(n_seeds):
        for suite in ("shapes-fid", "shapes-geneval"):
            for k in TEACHER_STEPS if s < teacher_blocks else ():
                evaluate("teacher", suite, k, None, f"teacher-{k}", s)  # seed block s of the sampling seeds
        for task, suite in (("shapes", "shapes-fid"), ("shapes-t2i", "shapes-geneval")):  # Table 2, Table 1
            sd = train("sdtt", task, s)
            for k in (4, 1):
                evaluate("sdtt", suite, k, sd / f"student_{k}step", f"sdtt-{k}", s)
            dm = train("dimo", task, s)
            evaluate("dimo", suite, 1, dm / "student", "dimo-1", s)
        fp = train("fpd", "shapes", s)
        evaluate("fpd", "shapes-fid", 1, fp / "student", "fpd-1", s)
        for variant, overrides in VARIANT_OVERRIDES.items():
            # the main t2i run ("ste", no override) is both Table 1's FPD-1 and the ablations' reference
            ft = train("fpd", "shapes-t2i", s, variant if variant != "ste" else "", overrides)
            evaluate(
                "fpd",
                "shapes-geneval",
                1,
                ft / "student",
                "fpd-1" if variant == "ste" else f"fpd-{variant}",
                s,
                "" if variant == "ste" else variant,
            )
    return select(jobs, only) if only else jobs


def select(jobs: list[Job], patterns: Sequence[str]) -> list[Job]:
    """The eval jobs matching a pattern — a group (`fpd-1`) or suite:group (`shapes-fid:fpd-1`), fnmatch —
    and the training runs they read."""
    from harness.errors import HarnessError

    def names(j: Job) -> tuple[str, str]:
        return j.args["group"], f"{j.args['suite']}:{j.args['group']}"

    evals = [j for j in jobs if j.kind == "eval"]
    for p in patterns:
        if not any(fnmatch.fnmatch(x, p) for j in evals for x in names(j)):
            groups = sorted({j.args["group"] for j in evals})
            raise HarnessError(f"--only {p!r} matches no group; groups (or suite:group): {', '.join(groups)}")
    evals = [j for j in evals if any(fnmatch.fnmatch(x, p) for x in names(j) for p in patterns)]
    needed = {Path(j.args["checkpoint"]).parent for j in evals if j.args["checkpoint"] is not None}
    return [j for j in jobs if j in evals or (j.kind == "train" and j.args["out"] in needed)]


def _seed_range(suite: str, seed: int, method: str, n: int | None) -> str | None:
    """Teacher repeats on shapes-fid use disjoint sampling-seed blocks; distilled students differ by training
    seed and all use the protocol's seeds. `n` (a smaller evaluation) keeps the first n seeds of each block."""
    from harness.registry import SUITES

    block = SUITES[suite].default_n
    start = seed * block if (method == "teacher" and suite == "shapes-fid") else 0
    if n is None:
        return f"{start}-{start + block - 1}" if start else None
    return f"{start}-{start + min(n, block) - 1}"


def run_job(job: Job) -> None:
    if job.kind == "train":
        from harness.registry import load_trainer
        from harness.config import apply_overrides, task_defaults
        from harness import distributed as D

        cls, train_fn = load_trainer(job.args["kind"])
        D.configure(None, job.args.get("precision", "fp32"))
        try:
            train_fn(apply_overrides(task_defaults(cls, job.args["task"]), job.args["overrides"]), job.args["out"])
        finally:
            D.configure(None, None)  # evaluations sample at the protocol's precision
        return
    from harness.evaluate import evaluate

    a = job.args
    if a["method"] == "teacher" and a["suite"] == "shapes-geneval" and a["seed"] > 0:
        return _mark_repeat(job)  # the prompt set is fixed: a teacher repeat on it would only re-draw images
    seeds = _seed_range(a["suite"], a["seed"], a["method"], a.get("n"))
    evaluate(
        a["method"], a["suite"], a["steps"], a["checkpoint"], seeds, out=a["out"], variant=a["variant"], append=False
    )


def check_study(root: Path, settings: dict) -> None:
    """A run folder holds one study: the settings that shape its runs and samples (updates, samples, overrides,
    training precision) are written to `study.json` the first time and must match on every resume, since a
    finished job is never redone and would otherwise be counted under the new settings."""
    from harness.errors import HarnessError
    from harness.io import write_json

    path = root / "study.json"
    if not path.exists():
        write_json(path, settings)
        return
    have = json.loads(path.read_text())
    diff = [f"{k}={have.get(k)!r}" for k in settings if have.get(k) != settings[k]]
    if diff:
        raise HarnessError(
            f"{root} holds a study made with {', '.join(diff)} ({path}); pass the same settings or another --root"
        )


def _mark_repeat(job: Job) -> None:
    from harness.io import write_json

    write_json(job.args["marker"], {"skipped": "teacher repeats on the fixed prompt set use seed 0 only"})


def register(app: typer.Typer) -> None:
    @app.command()
    def reproduce(
        scale: str = typer.Option(
            "shapes", help="only 'shapes' runs here; paper scale needs GPUs and official weights"
        ),
        seeds: int = typer.Option(3, help="training seeds per distiller"),
        root: Path = typer.Option(
            Path("runs/reproduce"), help="run folder: checkpoints, per-seed results, timing.jsonl"
        ),
        # 150 updates + bf16: the budget whose timed run fits 150 min on 2 cores (121.8 min, docs/study-budget.md)
        train_steps: int = typer.Option(
            150,
            help="generator updates for every distiller (SDTT gets a quarter per "
            "halving round); 150 is the timed study's budget",
        ),
        n: int = typer.Option(
            None, help="samples per evaluation (default: each suite's protocol, 5,000 on shapes-fid)"
        ),
        only: str = typer.Option(
            "",
            help="comma-separated eval groups or suite:group (fnmatch), e.g. 'fpd-1,dimo-1', "
            "'shapes-fid:fpd-1' or 'teacher-*'; "
            "the training runs they need come along",
        ),
        set_: list[str] = typer.Option(
            [], "--set", help="key=value for every distiller that has the key, e.g. batch=16"
        ),
        teacher_blocks: int = typer.Option(
            1, help="teacher sweeps on disjoint sampling-seed blocks (it has no training seed; at most --seeds)"
        ),
        jobs_: int = typer.Option(
            1,
            "--jobs",
            help="independent jobs side by side, each in its own process with "
            "cores/N threads (an evaluation waits for its training run)",
        ),
        train_precision: str = typer.Option(
            "bf16",
            help="fp32 or bf16: the distillers' training precision (bf16: "
            "network forwards under autocast, as the official code; "
            "evaluations stay fp32)",
        ),
        dry_run: bool = typer.Option(False, help="list the jobs (done / to do) and exit"),
    ):
        """Train what is missing and evaluate everything for the shapes-world Tables 1-4, then render them."""
        from harness.errors import HarnessError
        from harness.io import append_jsonl

        if scale != "shapes":
            raise HarnessError(
                f"--scale {scale!r}: only 'shapes' can run here; use `harness train/eval` with --task imagenet|t2i "
                f"on a GPU machine"
            )
        if seeds < 1:
            raise HarnessError("--seeds must be >= 1")
        if jobs_ < 1:
            raise HarnessError(f"--jobs must be >= 1, got {jobs_}")
        for name, v in (("--train-steps", train_steps), ("--n", n)):
            if v is not None and v < 1:
                raise HarnessError(f"{name} must be >= 1, got {v}")
        if not 1 <= teacher_blocks <= seeds:
            raise HarnessError(f"--teacher-blocks must be between 1 and --seeds ({seeds}), got {teacher_blocks}")
        from harness.distributed import PRECISIONS

        if train_precision not in PRECISIONS:
            raise HarnessError(f"--train-precision {train_precision!r}: choose {' or '.join(PRECISIONS)}")
        jobs = plan(
            seeds,
            root,
            train_steps,
            n,
            [p.strip() for p in only.split(",") if p.strip()],
            set_,
            teacher_blocks,
            train_precision,
        )
        study = {"train_steps": train_steps, "n": n, "set": sorted(set_), "train_precision": train_precision}
        todo = [j for j in jobs if not j.done()]
        for j in jobs:
            typer.echo(f"[{'todo' if j in todo else 'done'}] {j.name}")
        typer.echo(f"{len(jobs) - len(todo)} done, {len(todo)} to do")
        if dry_run:
            return
        check_study(root, study)
        start = time.time()

        def timed(job: Job, seconds: float) -> None:
            append_jsonl(
                root / "timing.jsonl",
                {"job": job.name, "kind": job.kind, "seconds": round(seconds, 1), "workers": jobs_},
            )

        if jobs_ > 1:
            import sys

            from harness.job_pool import run_pool

            run_pool(
                todo,
                lambda j: j.needs(todo),
                lambda j: [sys.executable, "-m", "harness.reproduce", j.to_json()],
                jobs_,
                root / "logs",
                timed,
                typer.echo,
            )
        else:
            for i, j in enumerate(todo, 1):
                t0 = time.time()
                typer.echo(f"[{i}/{len(todo)}] {j.name}")
                run_job(j)
                timed(j, time.time() - t0)
                typer.echo(f"    {time.time() - t0:.0f} s")
        from harness.reproduce_rows import aggregate

        rows = aggregate(
            jobs,
            {
                "train_steps": train_steps,
                "n": n,
                "set": ",".join(set_) or None,
                "train_precision": None if train_precision == "fp32" else train_precision,
            },
            root / "aggregated.json",
        )
        typer.echo(f"appended {len(rows)} aggregated rows")
        from harness.tables import render_all

        typer.echo(render_all("markdown"))
        typer.echo(f"reproduce: {len(todo)} jobs in {(time.time() - start) / 60:.1f} min wall")


if __name__ == "__main__":  # one job in its own process (`harness reproduce --jobs N`); a failure's last log
    import sys  # line (the exception) is what the pool reports

    run_job(Job.from_json(sys.argv[1]))
