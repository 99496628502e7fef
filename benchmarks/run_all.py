"""`make bench`: every benchmark as its own subprocess (so peak memory is per script), one JSON line each.

    python benchmarks/run_all.py [--quick] [--random] [--only sampling,overhead] [--timeout 300]

Sizes are chosen so the whole run takes well under 10 minutes on 2 CPU cores; `--quick` is a smoke
run with the tiniest sizes. Benchmarks owned elsewhere (bench_fpd_vs_dimo.py)
run too when present; their line is appended to benchmarks/results/<name>.jsonl here if they did not
write one. stdout carries only the benchmarks' JSON lines; progress and failures go to stderr.
Until the shipped teacher exists, `--random` is implied (random networks of the same architecture).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TEACHER_ASSET = ROOT / "harness" / "assets" / "teacher_shapes.safetensors"

# name -> (script, full-size flags, quick flags, takes our common flags --random/--out-dir)
BENCHES: dict[str, tuple[str, list[str], list[str], bool]] = {
    "sampling": (
        "bench_sampling.py",
        ["--batch=64", "--repeats=3", "--teacher-steps=16"],
        ["--batch=2", "--repeats=1", "--warmup=0", "--teacher-steps=2"],
        True,
    ),
    "eval_throughput": (
        "bench_eval_throughput.py",
        ["--batch=250", "--repeats=3", "--n-detect=200"],
        ["--batch=4", "--repeats=1", "--warmup=0", "--n-detect=4"],
        True,
    ),
    "overhead": ("bench_overhead.py", ["--batch=64", "--repeats=7"], ["--batch=2", "--repeats=1", "--warmup=0"], True),
    "fpd_step": (
        "bench_fpd_step.py",
        ["--batch=64", "--steps=3", "--warmup=1"],
        ["--batch=2", "--steps=1", "--warmup=0"],
        True,
    ),
    "fpd_vs_dimo": (
        "bench_fpd_vs_dimo.py",
        ["--batch=64", "--steps=3", "--warmup=1"],
        ["--batch=2", "--steps=1", "--warmup=0"],
        True,
    ),
    "paper_scale": ("bench_paper_scale.py", [], ["--modes=student", "--no-flops"], True),
}


def _has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def command(name: str, quick: bool, random: bool, out_dir: Path, cuda: bool) -> list[str] | None:
    """The argv for one benchmark, or None when its script is absent."""
    script, full, small, ours = BENCHES[name]
    path = HERE / script
    if not path.exists():
        return None
    argv = [sys.executable, str(path), *(small if quick else full)]
    if ours:
        argv += ["--random"] * random + [f"--out-dir={out_dir}"]
    if name == "paper_scale" and not cuda:
        argv.append("--small")  # CPU: depth-2 MaskGIT, narrow VQGAN / DINOv3; MaskGIT scale on a GPU
    return argv


def _jsonl_mtimes(folder: Path) -> dict[Path, float]:
    return {p: p.stat().st_mtime for p in folder.glob("*.jsonl")} if folder.is_dir() else {}


def run_one(name: str, argv: list[str], timeout: float, out_dir: Path) -> tuple[dict | None, str]:
    """(the benchmark's JSON record or None, status text)."""
    before = _jsonl_mtimes(out_dir)
    t0 = time.perf_counter()
    try:
        p = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env={**os.environ, "FPD_NO_PROGRESS": "1"}
        )
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    wall = time.perf_counter() - t0
    lines = [l for l in p.stdout.strip().splitlines() if l.startswith("{")]
    if p.returncode or not lines:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"failed (exit {p.returncode}): {tail}"
    rec = json.loads(lines[-1])
    if _jsonl_mtimes(out_dir) == before:  # a script that only prints: keep its line with the others
        out_dir.mkdir(parents=True, exist_ok=True)
        with open(out_dir / f"{name}.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")
    return rec, f"ok in {wall:.0f} s"


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: tiniest sizes")
    ap.add_argument(
        "--random", action="store_true", help="random networks (implied while the teacher asset is missing)"
    )
    ap.add_argument("--only", default="", help=f"comma list of: {', '.join(BENCHES)}")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per benchmark")
    ap.add_argument("--out-dir", default=str(HERE / "results"), help="folder for the <name>.jsonl files")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(BENCHES)
    bad = [n for n in names if n not in BENCHES]
    if bad:
        sys.exit(f"error: unknown benchmark {bad[0]!r}; choose from {', '.join(BENCHES)}")
    random = args.random or not TEACHER_ASSET.exists()
    if random and not args.random:
        print(
            f"note: {TEACHER_ASSET.relative_to(ROOT)} missing; benchmarking random networks of the same "
            "architecture (--random)",
            file=sys.stderr,
        )
    out_dir, cuda, t_all, records = Path(args.out_dir), _has_cuda(), time.perf_counter(), []
    for name in names:
        cmd = command(name, args.quick, random, out_dir, cuda)
        if cmd is None:
            print(f"[{name}] skipped: {BENCHES[name][0]} not present", file=sys.stderr)
            continue
        print(
            f"[{name}] {' '.join(Path(c).name if i < 2 else c for i, c in enumerate(cmd))}", file=sys.stderr, flush=True
        )
        rec, status = run_one(name, cmd, args.timeout, out_dir)
        print(f"[{name}] {status}", file=sys.stderr, flush=True)
        if rec is not None:
            print(json.dumps(rec), flush=True)
            records.append(rec)
    print(
        f"{len(records)}/{len(names)} benchmarks in {time.perf_counter() - t_all:.0f} s; "
        f"lines appended under {out_dir}",
        file=sys.stderr,
    )
    if len(records) < len([n for n in names if (HERE / BENCHES[n][0]).exists()]):
        sys.exit(1)
    return records


if __name__ == "__main__":
    main()
