"""Two processes on one run folder (train) or one results folder (eval): the second refuses at once,
naming the holder; a SIGKILLed holder leaves no stale lock, so re-running the command resumes."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from helpers import harness_bin, run_console

TINY_TEACHER = [
    "--set",
    "width=32",
    "--set",
    "depth=1",
    "--set",
    "heads=2",
    "--set",
    "n_train=600",
    "--set",
    "batch=16",
    "--set",
    "warmup=5",
]
ENV = {"OMP_NUM_THREADS": "1", "FPD_NO_PROGRESS": "1"}


def _start(args, cwd, env=None):
    return subprocess.Popen(
        [harness_bin(), *map(str, args)],
        cwd=cwd,
        env={**os.environ, **ENV, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(path: Path, proc, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline and not path.exists():
        assert proc.poll() is None, "the first process ended before it was checked"
        time.sleep(0.02)
    assert path.exists(), path


def test_second_training_run_on_same_folder_refuses_and_kill_resumes(tmp_path):
    out = tmp_path / "run"
    args = ["train", "teacher", "--task", "shapes", "--steps", "100000", "--out", out, *TINY_TEACHER]
    first = _start(args, tmp_path, {"FPD_CKPT_EVERY": "20"})
    try:
        _wait_for(out / "latest.json", first)
        code, _, err = run_console(args, cwd=tmp_path, env=ENV)
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1, err
        assert f"pid {first.pid}" in lines[0] and "in use" in lines[0], lines[0]
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    killed_at = json.loads((out / "latest.json").read_text())["step"]
    args[args.index("--steps") + 1] = str(killed_at + 3)  # --steps: finish three steps after the kill point
    code, stdout, err = run_console(args, cwd=tmp_path, env=ENV)
    assert code == 0, err
    assert json.loads(stdout)["train"]["steps_run"] == 3  # resumed from the killed run's checkpoint


def test_second_evaluation_on_same_folder_refuses(tmp_path):
    out = tmp_path / "ev"
    args = [
        "eval",
        "--method",
        "teacher",
        "--steps",
        "16",
        "--suite",
        "shapes-fid",
        "--seeds",
        "0-4999",
        "--batch",
        "5",
        "--out",
        out,
        "--no-append",
    ]
    first = _start(args, tmp_path)
    try:
        _wait_for(out / "fingerprint.json", first)
        code, _, err = run_console(args, cwd=tmp_path, env=ENV)
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1 and f"pid {first.pid}" in lines[0], err
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
