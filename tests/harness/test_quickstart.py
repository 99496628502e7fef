"""`harness quickstart` through the console script, at a toy size: it trains, scores the three generators,
writes the side-by-side picture and the summary, and appends no leaderboard rows."""

import json

import pytest

from harness.assets import asset_path
from helpers import run_console


@pytest.mark.skipif(not asset_path("teacher_shapes").exists(), reason="shipped networks not built yet")
def test_quickstart_toy_size(tmp_path):
    lb = tmp_path / "lb"
    (lb / "data").mkdir(parents=True)
    code, out, err = run_console(
        ["quickstart", "--fast", "--steps", "2", "--n", "8"],
        cwd=tmp_path,
        env={"FPD_LEADERBOARD_DIR": str(lb), "OMP_NUM_THREADS": "1"},
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "runs/quickstart/summary.json").read_text())
    assert set(summary["shapes_fid_small_sample"]) == {"teacher 1 step", "FPD 1 step", "teacher 16 steps"}
    assert (tmp_path / "runs/quickstart/comparison.png").stat().st_size > 1000
    assert "about" in out and "min left" in out and "full-size evaluation" in out
    assert not list((lb / "data").iterdir())  # small-sample scores never reach the leaderboard
