"""Killing a training run with SIGKILL and re-running the same command continues from the last
checkpoint and ends bit-identical to an uninterrupted run (EDM2-style resume by re-running)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from harness.assets import asset_path

TINY = ["--set", "width=32", "--set", "depth=1", "--set", "heads=2", "--set", "n_train=600", "--set", "batch=16",
        "--set", "warmup=5"]


STEPS, EVERY = 300, 50


def _cmd(out: Path, steps: int) -> list[str]:
    return [sys.executable, "-m", "harness.cli", "train", "teacher", "--task", "shapes", "--steps", str(steps),
            "--out", str(out), *TINY]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "FPD_CKPT_EVERY": str(EVERY), "FPD_NO_PROGRESS": "1"}


def _final(out: Path):
    latest = json.loads((out / "latest.json").read_text())
    return latest["step"], load_file(out / "checkpoints" / latest["checkpoint"] / "model.safetensors")


@pytest.mark.skipif(not asset_path("shapes_vq").exists(), reason="shipped tokenizer not built yet")
def test_sigkill_then_rerun_is_bit_identical(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    subprocess.run(_cmd(a, STEPS), check=True, env=_env(), capture_output=True, timeout=300)
    p = subprocess.Popen(_cmd(b, STEPS), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and not (b / "latest.json").exists():
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)  # at a random point after the first checkpoint
    p.wait()
    killed_at = json.loads((b / "latest.json").read_text())["step"]
    assert EVERY <= killed_at < STEPS, killed_at  # it really was interrupted mid-run
    rerun = subprocess.run(_cmd(b, STEPS), check=True, env=_env(), capture_output=True, text=True, timeout=300)
    assert json.loads(rerun.stdout)["train"]["steps_run"] == STEPS - killed_at  # continued, did not restart
    (sa, wa), (sb, wb) = _final(a), _final(b)
    assert sa == sb == STEPS
    assert all(wa[k].equal(wb[k]) for k in wa)
    steps = [json.loads(l)["step"] for l in (b / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))  # the log has no duplicated or lost steps
