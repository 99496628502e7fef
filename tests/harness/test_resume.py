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
from helpers import run_console

# trainer -> (extra CLI args, total steps, checkpoint interval, weights file); tiny sizes so a run takes seconds
RUNS = {
    "teacher": (
        [
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
        ],
        150,
        25,
        "model.safetensors",
    ),
    "fpd": (["--set", "batch=4"], 30, 5, "student.safetensors"),
}


def _cmd(kind: str, out: Path) -> list[str]:
    args, steps, _, _ = RUNS[kind]
    return [
        sys.executable,
        "-m",
        "harness.cli",
        "train",
        kind,
        "--task",
        "shapes",
        "--steps",
        str(steps),
        "--out",
        str(out),
        *args,
    ]


def _env(kind: str):
    return {**os.environ, "OMP_NUM_THREADS": "1", "FPD_CKPT_EVERY": str(RUNS[kind][2]), "FPD_NO_PROGRESS": "1"}


def _final(kind: str, out: Path):
    latest = json.loads((out / "latest.json").read_text())
    return latest["step"], load_file(out / "checkpoints" / latest["checkpoint"] / RUNS[kind][3])


@pytest.mark.skipif(not asset_path("teacher_shapes").exists(), reason="shipped networks not built yet")
@pytest.mark.parametrize("kind", list(RUNS))
def test_sigkill_then_rerun_is_bit_identical(tmp_path, kind):
    STEPS, EVERY = RUNS[kind][1], RUNS[kind][2]
    a, b = tmp_path / "a", tmp_path / "b"
    subprocess.run(_cmd(kind, a), check=True, env=_env(kind), capture_output=True, timeout=300)
    p = subprocess.Popen(_cmd(kind, b), env=_env(kind), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and not (b / "latest.json").exists():
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)  # at a random point after the first checkpoint
    p.wait()
    killed_at = json.loads((b / "latest.json").read_text())["step"]
    assert EVERY <= killed_at < STEPS, killed_at  # it really was interrupted mid-run
    rerun = subprocess.run(_cmd(kind, b), check=True, env=_env(kind), capture_output=True, text=True, timeout=300)
    assert json.loads(rerun.stdout)["train"]["steps_run"] == STEPS - killed_at  # continued, did not restart
    (sa, wa), (sb, wb) = _final(kind, a), _final(kind, b)
    assert sa == sb == STEPS
    assert all(wa[k].equal(wb[k]) for k in wa)
    steps = [json.loads(l)["step"] for l in (b / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))  # the log has no duplicated or lost steps


def test_a_run_from_before_an_option_existed_resumes(tmp_path):
    """A stored config that lacks an option added since (here `positives`) reads it as its default and resumes;
    the same run with a non-default stored value is refused."""
    run = tmp_path / "run"
    args = ["train", "fpd", "--task", "shapes", "--set", "batch=4", "--set", "stats_every=0", "--out", str(run)]
    env = {"OMP_NUM_THREADS": "1"}
    code, _, err = run_console([*args, "--steps", "1"], cwd=tmp_path, env=env)
    assert code == 0, err
    cfg = json.loads((run / "config.json").read_text())
    del cfg["positives"]  # as written before the option existed
    (run / "config.json").write_text(json.dumps(cfg))
    code, _, err = run_console([*args, "--steps", "2"], cwd=tmp_path, env=env)
    assert code == 0, err
    assert json.loads((run / "latest.json").read_text())["step"] == 2
    (run / "config.json").write_text(json.dumps({**cfg, "positives": "data"}))
    code, _, err = run_console([*args, "--steps", "3"], cwd=tmp_path, env=env)
    assert code != 0 and "different config" in err and "positives" in err


def test_changing_only_the_diagnostics_resumes(tmp_path):
    """stats_every / stats_n change no update: a run resumes with other values (the study turns them off)."""
    run = tmp_path / "run"
    args = ["train", "fpd", "--task", "shapes", "--set", "batch=4", "--out", str(run)]
    env = {"OMP_NUM_THREADS": "1"}
    code, _, err = run_console([*args, "--set", "stats_every=0", "--steps", "1"], cwd=tmp_path, env=env)
    assert code == 0, err
    code, _, err = run_console(
        [*args, "--set", "stats_every=1", "--set", "stats_n=8", "--steps", "2"], cwd=tmp_path, env=env
    )
    assert code == 0, err
    assert json.loads((run / "latest.json").read_text())["step"] == 2
    code, _, err = run_console(
        [*args, "--set", "stats_every=0", "--set", "lr=1e-3", "--steps", "3"], cwd=tmp_path, env=env
    )
    assert code != 0 and "different config" in err and "lr" in err
