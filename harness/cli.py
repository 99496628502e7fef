"""The `harness` command line (typer). Every error a user can cause ends in one line and exit 2."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from harness.errors import HarnessError
from harness.registry import METHODS, TRAINERS, load_plugins

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Reference harness for one-step distillation of discrete diffusion image generators (FPD).",
)


def _echo_json(obj) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))


DEVICE_HELP = "cpu, cuda or cuda:N (default: cuda when torch sees a GPU, else cpu)"
PRECISION_HELP = (
    "fp32 or bf16: bf16 autocast of the network forwards, losses in float32 "
    "(default: bf16 for imagenet / t2i on a GPU, as the official code; fp32 otherwise)"
)


def _configure_device(device: Optional[str], precision: Optional[str]) -> None:
    from harness import distributed as D

    D.configure(device, precision)


@app.command()
def train(
    kind: str = typer.Argument(..., help=f"what to train: {', '.join(TRAINERS)}"),
    task: str = typer.Option(
        "shapes", help="task: shapes, shapes-t2i (embedded default), imagenet, t2i (official weights)"
    ),
    steps: Optional[int] = typer.Option(None, help="training steps (default: the preset's); re-running resumes"),
    out: Optional[Path] = typer.Option(
        None, help="run folder (default $FPD_RUNS_DIR/<kind>-<task>, else runs/<kind>-<task>)"
    ),
    set_: List[str] = typer.Option([], "--set", help="config override key=value, repeatable (e.g. --set lr=1e-4)"),
    ship: bool = typer.Option(False, help="write the trained network into the package's shipped assets"),
    device: Optional[str] = typer.Option(None, help=DEVICE_HELP),
    precision: Optional[str] = typer.Option(None, help=PRECISION_HELP + "; distillers only"),
    stop_at: Optional[int] = typer.Option(
        None, help="stop at this step of the --steps schedule (checkpointed); re-run without it to continue"
    ),
):
    """Train (or resume) a network or distiller. Re-running the same command continues from the last checkpoint."""
    import dataclasses

    from harness.config import apply_overrides, did_you_mean, task_defaults
    from harness.io import runs_root

    _configure_device(device, precision)
    if kind not in TRAINERS:
        raise HarnessError(
            f"unknown trainer {kind!r}{did_you_mean(kind, TRAINERS)}; choose one of: {', '.join(TRAINERS)}"
        )
    trainer = TRAINERS[kind]
    if precision and not trainer.amp:
        amp = ", ".join(k for k, t in TRAINERS.items() if t.amp)
        raise HarnessError(
            f"--precision applies to {amp}, not {kind}"
            + (" (the teacher trainer: --set amp=bf16|none)" if kind == "teacher" else "")
        )
    if task not in trainer.tasks:
        raise HarnessError(
            f"unknown task {task!r} for `train {kind}`{did_you_mean(task, trainer.tasks)}; "
            f"choose one of: {', '.join(trainer.tasks)}"
        )
    if ship and not trainer.shippable:
        raise HarnessError(f"--ship applies to {', '.join(k for k, t in TRAINERS.items() if t.shippable)}, not {kind}")
    cls, fn = trainer.load()
    cfg = apply_overrides(task_defaults(cls, task), list(set_))
    if steps is not None:
        if steps < 1:
            raise HarnessError(f"--steps must be >= 1, got {steps}")
        cfg = dataclasses.replace(cfg, steps=steps)
    if stop_at is not None:
        if stop_at < 1:
            raise HarnessError(f"--stop-at must be >= 1, got {stop_at}")
        os.environ["FPD_STOP_AT"] = str(stop_at)  # read by TrainLoop, like FPD_CKPT_EVERY: it changes no update
    out = out or runs_root() / f"{kind}-{task}"
    try:
        result = fn(cfg, out, ship=ship) if trainer.shippable else fn(cfg, out)
    finally:
        if stop_at is not None:  # one command's piece, not the process's (tests call the CLI in-process)
            os.environ.pop("FPD_STOP_AT", None)
    _echo_json({"run_dir": str(out), **result})


def _parse_steps(spec: str) -> list[int]:
    try:
        steps = [int(s) for s in spec.split(",")]
    except ValueError:
        raise HarnessError(f"--steps {spec!r} must be integers like 16 or 16,8,4")
    bad = [s for s in steps if s < 1]
    if bad:
        raise HarnessError(f"--steps must be >= 1, got {bad[0]}")
    return steps


@app.command()
def sample(
    method: str = typer.Option("teacher", help=f"{', '.join(METHODS)}"),
    task: str = typer.Option("shapes", help="shapes or shapes-t2i (imagenet / t2i with official weights)"),
    steps: int = typer.Option(16, help="network evaluations per sample (1 for one-step students)"),
    out: Path = typer.Option(Path("grid.png"), help="PNG file for the labelled grid"),
    checkpoint: Optional[Path] = typer.Option(
        None, help="student checkpoint (without extension); default runs/<method>-<task>/student"
    ),
    rows: int = typer.Option(8, help="conditions (rows)"),
    cols: int = typer.Option(8, help="seeds per condition (columns)"),
    device: Optional[str] = typer.Option(None, help=DEVICE_HELP),
    precision: Optional[str] = typer.Option(None, help=PRECISION_HELP),
):
    """Write a labelled sample grid (rows = conditions, columns = seeds 0..cols-1)."""
    from harness.generators import build_generator
    from harness.grids import generator_grid
    from harness.io import ensure_writable

    _configure_device(device, precision)
    if rows < 1 or cols < 1:
        raise HarnessError("--rows and --cols must be >= 1")
    ensure_writable(out.parent)
    gen = build_generator(method, task, steps, checkpoint)
    path = generator_grid(gen, task, out, rows, cols)
    typer.echo(f"wrote {path}")


@app.command("eval")
def eval_(
    method: str = typer.Option(..., help=f"{', '.join(METHODS)}"),
    suite: str = typer.Option(..., help="shapes-fid, shapes-geneval, imagenet256, geneval"),
    steps: str = typer.Option("1", help="step count(s), comma-separated for a sweep: 16,8,4,2,1"),
    checkpoint: Optional[Path] = typer.Option(None, help="student checkpoint (without extension)"),
    seeds: Optional[str] = typer.Option(None, help="seed range A-B (default: the suite's protocol)"),
    batch: int = typer.Option(250, help="generation batch size (results do not depend on it)"),
    variant: str = typer.Option("", help="ablation variant label for the leaderboard row (e.g. soft, draft=random)"),
    out: Optional[Path] = typer.Option(
        None,
        help="results folder (default runs/eval/<suite>/<method>-<steps>step-<fingerprint>); "
        "it belongs to one generator",
    ),
    append: bool = typer.Option(True, help="append the measured row to the suite's leaderboard"),
    metadata: Optional[Path] = typer.Option(
        None,
        help="geneval suite: GenEval's prompts/evaluation_metadata.jsonl "
        "(default: $FPD_GENEVAL_METADATA, else the t2i weights folder's)",
    ),
    detector: Optional[str] = typer.Option(
        None,
        help="geneval suite: mask2former-hf (default; transformers, NOT GenEval's "
        "weights, recorded as such) or mmdet (GenEval's own; mmdet 2.x)",
    ),
    device: Optional[str] = typer.Option(None, help=DEVICE_HELP),
    precision: Optional[str] = typer.Option(
        None, help=PRECISION_HELP + " (bf16 is recorded in the generator's fingerprint)"
    ),
):
    """Score a method on a suite; writes results.json and appends a leaderboard row. Interrupted runs resume."""
    from harness.evaluate import evaluate

    _configure_device(device, precision)
    if batch < 1:
        raise HarnessError(f"--batch must be >= 1, got {batch}")
    for n in _parse_steps(steps):
        res = evaluate(
            method,
            suite,
            n,
            checkpoint,
            seeds,
            batch,
            out if out and len(steps.split(",")) == 1 else None,
            variant,
            append=append,
            metadata=metadata,
            detector=detector,
        )
        row = res.get("leaderboard_row")
        _echo_json(
            {k: res[k] for k in ("suite", "method", "steps", "metrics", "n", "wall_time_s")}
            | {
                "leaderboard_row": {k: row[k] for k in ("suite", "protocol", "method", "variant", "steps", "label")}
                | {"appended_to": f"leaderboards/data/{row['suite']}.jsonl"}
                if row
                else None
            }
        )


@app.command()
def quickstart(
    fast: bool = typer.Option(False, help="a smoke run: 20 FPD steps, 100 samples"),
    steps: Optional[int] = typer.Option(None, help="FPD training steps (default 150)"),
    n: Optional[int] = typer.Option(None, help="samples per generator for the small-sample scores (default 600)"),
):
    """The main job in minutes: distil the shapes teacher with FPD, score teacher 1 / FPD 1 / teacher 16 steps, one
    picture."""
    from harness.quickstart import run

    if (steps is not None and steps < 1) or (n is not None and n < 2):
        raise HarnessError("--steps must be >= 1 and --n >= 2")
    run(fast=fast, steps=steps, n=n)


def _register_optional() -> None:
    import importlib

    for mod in (
        "harness.leaderboard_cli",
        "harness.doctor",
        "harness.figures",
        "harness.reproduce",
        "harness.diagnose",
        "harness.sweep",
        "harness.readme",
        "harness.curves",
    ):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise
            continue
        m.register(app)


_register_optional()


def main() -> None:
    """Console entry point: user errors -> one line on stderr, exit 2; no tracebacks."""
    from evaluators.errors import EvaluatorError

    try:
        from leaderboards.store import LeaderboardError
    except ImportError:
        LeaderboardError = HarnessError
    try:
        load_plugins()  # methods registered outside the package ($FPD_HARNESS_PLUGINS)
        rc = app(standalone_mode=False)
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except (HarnessError, EvaluatorError, LeaderboardError, ValueError, FileNotFoundError, PermissionError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        typer.echo(f"error: {msg}", err=True)
        sys.exit(2)
    except OSError as e:
        typer.echo(
            f"error: {e.strerror or e} ({getattr(e, 'filename', '') or ''}); check the path and free space", err=True
        )
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted; re-run the same command to resume", err=True)
        sys.exit(130)
    except Exception as e:  # usage errors arrive here in standalone_mode=False
        exc = _click_exceptions()
        if isinstance(e, exc["ClickException"]):  # bad option, missing argument, wrong type: usage + one line
            _show_usage_error(e)
            sys.exit(e.exit_code)
        if isinstance(e, exc["Exit"]):
            sys.exit(e.exit_code)
        if isinstance(e, exc["Abort"]):
            sys.exit(1)
        raise


def _show_usage_error(e) -> None:
    """Two lines on stderr: the command's usage, then the error with where to get help."""
    ctx = getattr(e, "ctx", None)
    if ctx is not None:
        typer.echo(ctx.get_usage().strip().splitlines()[0], err=True)
        typer.echo(f"Error: {e.format_message()} (see '{ctx.command_path} --help')", err=True)
    else:
        typer.echo(f"Error: {e.format_message()}", err=True)


def _click_exceptions() -> dict[str, tuple[type, ...]]:
    """Click's exception classes as typer raises them: recent typer vendors click as `typer._click`,
    older typer uses the click package; catch both so no usage error becomes a traceback."""
    import importlib

    out: dict[str, tuple[type, ...]] = {"ClickException": (), "Exit": (), "Abort": ()}
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        for k in out:
            if hasattr(mod, k):
                out[k] += (getattr(mod, k),)
    return out


if __name__ == "__main__":
    main()
