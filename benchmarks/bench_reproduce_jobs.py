"""Does `harness reproduce --jobs N` buy wall time? The same small slice of the study, from an empty run folder,
once per N (default 1 and 2), through the console script; wall minutes and the speed-up over N=1.

    python benchmarks/bench_reproduce_jobs.py [--jobs 1,2] [--train-steps 40] [--n 500] [--seeds 2]

The slice: FPD-1 and DiMO-1 on shapes-fid for --seeds training seeds (2 x seeds training runs and as many
evaluations), at --train-steps updates and --n samples. Rows go to a throw-away leaderboard. Run it on an
otherwise idle machine: another heavy process on the same cores makes both numbers meaningless.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.flops import emit  # noqa: E402


def harness_bin() -> str:
    local = Path(sys.executable).with_name("harness")
    return str(local) if local.exists() else "harness"


def run_once(workers: int, args, tmp: Path) -> float:
    root = tmp / f"jobs{workers}"
    cmd = [
        harness_bin(),
        "reproduce",
        "--seeds",
        str(args.seeds),
        "--train-steps",
        str(args.train_steps),
        "--n",
        str(args.n),
        "--only",
        "shapes-fid:fpd-1,shapes-fid:dimo-1",
        "--jobs",
        str(workers),
        "--root",
        str(root),
    ]
    env = {**os.environ, "FPD_LEADERBOARD_DIR": str(tmp / f"lb{workers}"), "FPD_NO_PROGRESS": "1"}
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"reproduce --jobs {workers} failed:\n{p.stderr[-2000:]}")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", default="1,2", help="worker counts to compare, the first is the baseline")
    ap.add_argument("--train-steps", type=int, default=40)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--out-dir", default=None, help="folder for reproduce_jobs.jsonl (default benchmarks/results)")
    args = ap.parse_args(argv)
    counts = [int(x) for x in args.jobs.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        walls = {w: run_once(w, args, Path(tmp)) for w in counts}
    base = walls[counts[0]]
    return emit(
        {
            "cpu_count": os.cpu_count(),
            "slice": {
                "methods": ["fpd", "dimo"],
                "suite": "shapes-fid",
                "seeds": args.seeds,
                "train_steps": args.train_steps,
                "n": args.n,
            },
            "wall_s": {str(w): round(t, 1) for w, t in walls.items()},
            "speedup_over_first": {str(w): round(base / t, 3) for w, t in walls.items()},
        },
        "reproduce_jobs",
        args.out_dir,
    )


if __name__ == "__main__":
    main()
