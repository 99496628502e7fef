"""Run independent jobs side by side: up to N worker processes, each with cores/N threads.

A job starts once the jobs it depends on have finished; each runs in a fresh process (`command(job)`), its
output goes to `log_dir/<slug>.log`. The first failure stops new starts, lets the running jobs finish (their
work is kept: every job is resumable), and raises one line naming the job and its log.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.errors import HarnessError


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", name).strip("_")[:120]


def run_pool(
    jobs: Sequence,
    needs: Callable[[object], set],
    command: Callable[[object], list[str]],
    workers: int,
    log_dir: Path,
    on_finish: Callable[[object, float], None] = lambda job, seconds: None,
    echo: Callable[[str], None] = print,
) -> None:
    """Run `jobs` (in list order where dependencies allow) with at most `workers` at a time.
    `needs(job)` is the set of job names that must finish first (names are unique)."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "FPD_NO_PROGRESS": "1"}
    log_dir.mkdir(parents=True, exist_ok=True)
    pending, finished = list(jobs), set()
    running: dict[int, tuple[object, subprocess.Popen, float, Path]] = {}
    failed: tuple[object, Path] | None = None
    while pending or running:
        for job in list(pending):
            if failed or len(running) >= workers:
                break
            if needs(job) - finished:
                continue
            pending.remove(job)
            log = log_dir / f"{slug(job.name)}.log"
            with open(log, "w") as f:
                p = subprocess.Popen(command(job), stdout=f, stderr=subprocess.STDOUT, env=env)
            running[id(job)] = (job, p, time.time(), log)
            echo(f"[start] {job.name} ({threads} thread{'s' * (threads > 1)}, log {log})")
        if failed and not running:
            break
        if not running and pending:  # nothing can start: a dependency was never in the list
            raise HarnessError(f"job {pending[0].name!r} waits on a job that is not scheduled")
        time.sleep(0.5)
        for key, (job, p, t0, log) in list(running.items()):
            if p.poll() is None:
                continue
            del running[key]
            if p.returncode != 0:
                failed = failed or (job, log)
                echo(f"[failed] {job.name} (exit {p.returncode})")
                continue
            finished.add(job.name)
            on_finish(job, time.time() - t0)
            echo(f"[done] {job.name} {time.time() - t0:.0f} s")
    if failed:
        tail = failed[1].read_text().strip().splitlines()[-1:] or ["(empty log)"]
        raise HarnessError(
            f"job {failed[0].name!r} failed: {tail[0][:300]} (full log: {failed[1]}); re-run the same command to resume"
        )
