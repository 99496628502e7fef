"""`harness figure grid|quality`: the paper's Fig. 3-style sample grid and quality-vs-steps plots, as PNG.

grid:    the same conditions (rows) and seeds (columns) under every generator — the teacher at several
         step counts and each one-step student whose checkpoint exists — so differences are the
         generators', not the noise's.
quality: a suite's measured leaderboard rows, metric vs sampling steps (log2 axis), and vs measured
         latency per image where results carry timings (eval results.json, else benchmark lines).
matplotlib draws through its Agg canvas only (no pyplot, no global backend switch); files are
written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import typer

from harness.errors import HarnessError
from harness.registry import METHODS, SUITES, distillers
from leaderboards.store import LOWER_IS_BETTER

BENCH_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "results"


def plot_label(method: str) -> str:
    m = METHODS.get(method)
    return (m.plot_label or m.label) if m else method


def _figure(w: float, h: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=150)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, out: Path) -> Path:
    from harness.io import atomic_write

    out = Path(out)
    atomic_write(out, lambda p: fig.savefig(p, format="png", bbox_inches="tight"))
    return out


# ---------------------------------------------------------------- grid


def one_step_checkpoint(method: str, task: str, run: Path | None = None, seed: int = 0, variant: str = "") -> Path:
    """Where a one-step student lies: `harness train <method>`'s default folder, or with `run` the
    `harness reproduce` folder's run of that training seed and variant (SDTT: its last round's export)."""
    name = "student_1step" if method == "sdtt" else "student"
    if run is not None:
        from harness.reproduce import run_folder

        return run_folder(run, method, task, seed, variant) / name
    if variant:
        raise HarnessError(f"--methods {method}:{variant}: variants come from a reproduce folder; add --run ROOT")
    if method == "sdtt":
        return Path("runs") / f"sdtt-{task}" / name
    from harness.generators import default_checkpoint

    return default_checkpoint(method, task)


def parse_student(spec: str) -> tuple[str, str]:
    """'fpd' or 'fpd:soft+gan' -> (method, variant); FPD's main estimator 'ste' is the unnamed variant."""
    from harness.reproduce import VARIANT_OVERRIDES

    method, _, variant = spec.strip().partition(":")
    if method not in distillers():
        raise HarnessError(f"--methods: unknown one-step method {method!r}; choose from {', '.join(distillers())}")
    if variant and (method != "fpd" or variant not in VARIANT_OVERRIDES):
        raise HarnessError(
            f"--methods: unknown variant {spec!r}; FPD's are " + ", ".join(f"fpd:{v}" for v in VARIANT_OVERRIDES)
        )
    return method, "" if variant == "ste" else variant


def _build(method: str, task: str, steps: int, checkpoint: Path | None):
    from harness.generators import build_generator

    return build_generator(method, task, steps, checkpoint)


def resolve_students(
    task: str, specs: list[str], run: Path | None = None, seed: int = 0
) -> list[tuple[str, str, str, Path]]:
    """(spec, method, variant, checkpoint) per --methods entry ('fpd' or 'fpd:<variant>', variants read from a reproduce
    folder `run`); a typo or a variant without `run` fails here, before any network is built."""
    out = []
    for spec in specs:
        m, variant = parse_student(spec)
        out.append((spec, m, variant, one_step_checkpoint(m, task, run, seed, variant)))
    return out


def collect_panels(
    task: str,
    teacher_steps: list[int],
    students: list[tuple[str, str, str, Path]],
    run: Path | None = None,
    note: Callable[[str], None] = typer.echo,
) -> list[tuple[str, object]]:
    """(label, generator) per panel: the teacher per step count, then each resolved student found on disk."""
    panels = [(f"Teacher, {n} step{'s' * (n > 1)}", _build("teacher", task, n, None)) for n in teacher_steps]
    for spec, m, variant, ck in students:
        if not ck.with_suffix(".safetensors").exists():
            how = (
                f"`harness reproduce --root {run}` trains it"
                if run is not None
                else f"train one with `harness train {m} --task {task}`"
            )
            note(f"note: skipping {spec}: no checkpoint at {ck.with_suffix('.safetensors')} ({how})")
            continue
        shown = variant or ("STE" if m == "fpd" and run is not None else "")
        panels.append((f"{plot_label(m)}{' ' + shown if shown else ''}, 1 step", _build(m, task, 1, ck)))
    return panels


def _mosaic(images, rows: int, cols: int, pad: int = 1) -> np.ndarray:
    """uint8 [rows*cols, 3, H, W] (row-major) -> [rows*(H+pad), cols*(W+pad), 3] with white gutters."""
    x = images.permute(0, 2, 3, 1).cpu().numpy()
    n, h, w, _ = x.shape
    out = np.full((rows * (h + pad), cols * (w + pad), 3), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = x[i]
    return out


def grid_figure(panels: list[tuple[str, object]], task: str, out: str | Path, rows: int = 6, cols: int = 4) -> Path:
    """One column block per generator; every block uses the same conditions and seeds 0..cols-1."""
    from harness.grids import grid_conditions

    if not panels:
        raise HarnessError("no generators to draw")
    cond, labels = grid_conditions(task, rows)
    cond = cond.repeat_interleave(cols, 0)
    seeds = list(range(cols)) * rows
    mosaics = [(label, _mosaic(gen.generate(cond, seeds), rows, cols)) for label, gen in panels]
    h = mosaics[0][1].shape[0] / rows
    fig = _figure(1.9 + 0.5 * cols * len(panels), 0.9 + 0.5 * rows)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for i, (ax, (label, img)) in enumerate(zip(axes, mosaics)):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(label, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([(r + 0.5) * h for r in range(rows)] if i == 0 else [])
        if i == 0:
            ax.set_yticklabels(labels, fontsize=6)
        for s in ax.spines.values():
            s.set_visible(False)
    fig.suptitle(f"{task}: same conditions (rows) and seeds 0-{cols - 1} (columns) for every generator", fontsize=8)
    return _save(fig, out)


# ---------------------------------------------------------------- quality


def _eval_latency(suite: str, runs: Path) -> dict[tuple, float]:
    """ms per generated image from results.json files (wall time covers sampling and scoring)."""
    acc: dict[tuple, list[float]] = {}
    for f in sorted(Path(runs).rglob("results.json")) if Path(runs).is_dir() else []:
        try:
            r = json.loads(f.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        gen = (r.get("sampling") or {}).get("generated", 0)
        if r.get("suite") != suite or not gen or "wall_time_s" not in r:
            continue
        a = acc.setdefault((r["method"], r.get("variant", ""), r["steps"]), [0.0, 0])
        a[0] += float(r["wall_time_s"])
        a[1] += gen
    return {k: 1e3 * w / n for k, (w, n) in acc.items()}


def _bench_latency(bench_dir: Path) -> dict[tuple, float]:
    """ms per image from the last `benchmarks/bench_sampling.py` line (generation only)."""
    f = Path(bench_dir) / "sampling.jsonl"
    if not f.exists():
        return {}
    lines = [l for l in f.read_text().splitlines() if l.strip()]
    try:
        r = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        return {}
    t, s = r["teacher"], r["student"]
    return {
        ("teacher", "", t["steps"]): t["ms_per_image"],
        ("fpd", "", 1): s["ms_per_image"],
        ("dimo", "", 1): s["ms_per_image"],
    }  # same architecture, same one-step cost


def quality_series(
    suite: str,
    metric: str | None = None,
    runs: Path = Path("runs"),
    bench_dir: Path = BENCH_DIR,
    latency: str = "auto",
    root: Path | None = None,
) -> tuple[str, dict[str, list[dict]], str | None]:
    """(metric, {method: points sorted by steps}, latency source) from the suite's latest measured main rows."""
    from leaderboards.store import latest, read_rows

    rows = [
        r
        for r in latest(read_rows(suite, root))
        if r["source"] == "measured" and not r["variant"] and r["steps"] is not None
    ]
    if not rows:
        raise HarnessError(
            f"no measured rows in the {suite} leaderboard yet; run `harness eval --method teacher "
            f"--suite {suite} --steps 16,8,4,2,1` and `harness eval --method fpd --suite {suite}` first"
        )
    metric = metric or (SUITES[suite].headline if suite in SUITES else next(iter(rows[0]["metrics"])))
    have = sorted({m for r in rows for m in r["metrics"]})
    if metric not in have:
        raise HarnessError(f"metric {metric!r} is not in the measured {suite} rows; choose one of: {', '.join(have)}")
    lat, src = {}, None
    if latency in ("auto", "eval"):
        lat, src = _eval_latency(suite, runs), "eval wall time per generated image (sampling + scoring)"
    if latency == "bench" or (latency == "auto" and not lat):
        lat, src = _bench_latency(bench_dir), "generation time per image (benchmarks/bench_sampling.py)"
    series: dict[str, list[dict]] = {}
    for r in rows:
        if metric not in r["metrics"]:
            continue
        m = r["metrics"][metric]
        prov = r.get("provenance") or {}
        ms = lat.get((r["method"], "", r["steps"]))
        series.setdefault(r["method"], []).append(
            {
                "steps": r["steps"],
                "value": m["mean"],
                "interval": m.get("interval"),
                "latency_ms": ms,
                "date": prov.get("date"),
            }
        )
    for pts in series.values():
        pts.sort(key=lambda p: -p["steps"])
    return metric, series, src if any(p["latency_ms"] for s in series.values() for p in s) else None


def _plot(ax, series: dict[str, list[dict]], x: str) -> None:
    order = sorted(series, key=lambda m: (m != "teacher", m))
    for i, method in enumerate(order):
        pts = [p for p in series[method] if p[x] is not None]
        if not pts:
            continue
        xs, ys = [p[x] for p in pts], [p["value"] for p in pts]
        err = np.array(
            [[p["value"] - p["interval"][0], p["interval"][1] - p["value"]] if p["interval"] else [0, 0] for p in pts]
        ).T
        style = (
            dict(ls="--", marker="o", color="0.35")
            if method == "teacher"
            else dict(ls="-", marker="*", ms=10, color=f"C{i}")
        )
        ax.errorbar(xs, ys, yerr=err if err.any() else None, capsize=2, label=plot_label(method), **style)
        if method == "teacher" or len(pts) > 1:
            for p in pts:
                ax.annotate(str(p["steps"]), (p[x], p["value"]), textcoords="offset points", xytext=(3, 3), fontsize=6)


def quality_figure(
    suite: str,
    out: str | Path,
    metric: str | None = None,
    runs: Path = Path("runs"),
    bench_dir: Path = BENCH_DIR,
    latency: str = "auto",
    root: Path | None = None,
) -> tuple[Path, dict]:
    """Quality vs sampling steps (and vs measured latency when known); returns (path, the plotted series)."""
    metric, series, src = quality_series(suite, metric, runs, bench_dir, latency, root)
    fig = _figure(9 if src else 4.8, 3.4)
    axes = fig.subplots(1, 2 if src else 1, squeeze=False)[0]
    ylab = f"{metric} ({'lower' if metric in LOWER_IS_BETTER else 'higher'} is better)"
    _plot(axes[0], series, "steps")
    steps = sorted({p["steps"] for s in series.values() for p in s})
    axes[0].set_xscale("log", base=2)
    axes[0].set_xticks(steps, [str(s) for s in steps])
    axes[0].set_xlabel("sampling steps (log2; a guided teacher step runs up to 2 network passes)", fontsize=7)
    if src:
        _plot(axes[1], series, "latency_ms")
        axes[1].set_xscale("log")
        axes[1].set_xlabel(f"ms per image: {src}", fontsize=7)
    for ax in axes:
        ax.set_ylabel(ylab, fontsize=8)
        ax.grid(alpha=0.3, which="both")
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    fig.suptitle(f"{suite}: {metric} vs sampling cost (measured rows, latest per method and steps)", fontsize=9)
    return _save(fig, out), {"metric": metric, "series": series, "latency_source": src}


# ---------------------------------------------------------------- CLI


def _ints(spec: str, what: str) -> list[int]:
    try:
        vals = [int(s) for s in spec.split(",") if s.strip()]
    except ValueError:
        raise HarnessError(f"{what} {spec!r} must be integers like 16,8,4,1") from None
    if any(v < 1 for v in vals):
        raise HarnessError(f"{what} must be >= 1, got {spec!r}")
    return vals


def register(app: typer.Typer) -> None:
    """Add `harness figure grid|quality`."""
    fig = typer.Typer(
        help="Figures as PNG: Fig. 3-style sample grid, quality vs steps / latency.", no_args_is_help=True
    )

    @fig.command("grid")
    def grid(
        task: str = typer.Option("shapes", help="shapes or shapes-t2i"),
        out: Optional[Path] = typer.Option(None, help="PNG path (default runs/figures/grid-<task>.png)"),
        teacher_steps: str = typer.Option("16,8,4,1", help="teacher step counts, one panel each"),
        methods: str = typer.Option(
            ",".join(distillers()),
            help="one-step students to add when their checkpoint "
            "exists: fpd, dimo, sdtt, or with --run an FPD variant such as fpd:soft",
        ),
        run: Optional[Path] = typer.Option(
            None,
            help="take the students from this `harness reproduce` folder "
            "(default: `harness train`'s runs/<method>-<task>)",
        ),
        seed: int = typer.Option(0, help="with --run: the training seed whose students are drawn"),
        rows: int = typer.Option(6, help="conditions (rows)"),
        cols: int = typer.Option(4, help="seeds per panel (columns)"),
    ):
        """Same conditions and seeds under the teacher at several step counts and each one-step student."""
        from harness.io import ensure_writable
        from harness.registry import TASKS

        TASKS.get_or_fail(task)
        steps = _ints(teacher_steps, "--teacher-steps")
        if rows < 1 or cols < 1:
            raise HarnessError("--rows and --cols must be >= 1")
        if seed < 0:
            raise HarnessError(f"--seed must be >= 0, got {seed}")
        if run is not None and not run.is_dir():
            raise HarnessError(f"--run {run}: no such folder; give the --root of a `harness reproduce` run")
        students = resolve_students(task, [m.strip() for m in methods.split(",") if m.strip()], run, seed)
        out = out or Path("runs") / "figures" / f"grid-{task}.png"
        ensure_writable(out.parent)
        path = grid_figure(collect_panels(task, steps, students, run), task, out, rows, cols)
        typer.echo(f"wrote {path}")

    @fig.command("quality")
    def quality(
        suite: str = typer.Option("shapes-fid", help="shapes-fid or shapes-geneval (any leaderboard suite)"),
        metric: Optional[str] = typer.Option(None, help="fid, overall, ... (default: fid / overall by suite)"),
        out: Optional[Path] = typer.Option(None, help="PNG path (default runs/figures/quality-<suite>.png)"),
        latency: str = typer.Option("auto", help="latency panel source: auto, eval (results.json), bench"),
        runs: Path = typer.Option(Path("runs"), help="folder searched for eval results.json files"),
    ):
        """Quality vs sampling steps (log2) for the teacher sweep and each distilled method, plus vs latency."""
        from harness.io import ensure_writable
        from leaderboards.store import check_suite

        check_suite(suite)
        if latency not in ("auto", "eval", "bench"):
            raise HarnessError(f"--latency must be auto, eval or bench, got {latency!r}")
        out = out or Path("runs") / "figures" / f"quality-{suite}.png"
        ensure_writable(out.parent)
        path, info = quality_figure(suite, out, metric, runs, latency=latency)
        typer.echo(
            f"wrote {path}"
            + ("" if info["latency_source"] else " (no latency panel: no eval timings or benchmark lines found)")
        )

    app.add_typer(fig, name="figure")
