"""Every paper-scale command a user runs first, through the installed console script, on fixture weights.

The fixture folder holds reduced networks in the official file formats; the loaders read their shapes
from the files, so these runs take the same strict path as the official checkpoints (issue 14 item 6).
"""

import json
import math

import pytest
from PIL import Image

from helpers import run_console

TASKS = ["imagenet", "t2i"]


def _ok(args, env, cwd):
    code, out, err = run_console(args, cwd=cwd, env=env, timeout=240)
    assert code == 0, f"harness {' '.join(map(str, args))} exited {code}:\n{out[-2000:]}\n{err[-3000:]}"
    return out


@pytest.mark.parametrize("task", TASKS)
def test_doctor_passes(paper_env, task):
    env, root = paper_env
    out = _ok(["doctor", "--task", task], env(task), root)
    assert "all required files present" in out


@pytest.mark.parametrize("task", TASKS)
def test_teacher_samples_a_grid(paper_env, task):
    env, root = paper_env
    png = root / f"teacher-{task}.png"
    _ok(
        ["sample", "--method", "teacher", "--task", task, "--steps", "2", "--rows", "1", "--cols", "2", "--out", png],
        env(task),
        root,
    )
    with Image.open(png) as im:  # one row of two 256-px images (scaled x3, plus labels)
        assert im.height >= 256 and im.width >= 2 * 256


LOSSES = {"fpd": ("loss",), "dimo": ("loss_dm", "loss_fake")}  # what each trainer logs per step


def _check_run(run, method: str, steps: int) -> None:
    rows = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines() if l.strip()]
    assert rows and rows[-1]["step"] == steps
    assert all(math.isfinite(rows[-1][k]) for k in LOSSES[method])
    assert (run / "student.safetensors").stat().st_size > 0
    meta = json.loads((run / "student.json").read_text())
    assert meta["config"]["method"] == method and meta["config"]["train"]["steps"] == steps


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("method", ["fpd", "dimo"])
def test_distiller_trains_and_exports_a_student(paper_env, task, method):
    env, root = paper_env
    run = root / f"{method}-{task}"
    _ok(["train", method, "--task", task, "--steps", "2", "--set", "batch=2", "--out", run], env(task), root)
    _check_run(run, method, 2)
