"""`harness eval` end to end on a few seeds: results JSON, a valid leaderboard row, resume."""

import json

import pytest

from harness.assets import asset_path
from harness.evaluate import evaluate

needs_teacher = pytest.mark.skipif(not asset_path("teacher_shapes").exists(), reason="shipped teacher not built yet")
needs_t2i = pytest.mark.skipif(
    not asset_path("teacher_shapes_t2i").exists(), reason="shipped t2i teacher not built yet"
)


@needs_teacher
def test_shapes_fid_writes_results_and_a_row(tmp_path, monkeypatch):
    monkeypatch.setenv("FPD_LEADERBOARD_DIR", str(tmp_path / "lb"))
    r = evaluate("teacher", "shapes-fid", 2, seeds="0-47", batch=16, out=tmp_path / "ev")
    assert set(r["metrics"]) >= {"fid", "is", "precision", "recall", "detector_accuracy"}
    assert json.loads((tmp_path / "ev" / "results.json").read_text())["protocol"] == "shapes-fid@1"
    row = r["leaderboard_row"]
    assert row["source"] == "measured" and row["steps"] == 2 and row["provenance"]["git_commit"]
    lines = (tmp_path / "lb" / "data" / "shapes-fid.jsonl").read_text().splitlines()
    assert len(lines) == 1
    again = evaluate("teacher", "shapes-fid", 2, seeds="0-47", batch=5, out=tmp_path / "ev", append=False)
    assert again["sampling"] == {"generated": 0, "skipped": 48} and again["metrics"] == r["metrics"]


@needs_t2i
def test_shapes_geneval_runs_on_a_prompt_subset(tmp_path, monkeypatch):
    monkeypatch.setenv("FPD_LEADERBOARD_DIR", str(tmp_path / "lb"))
    r = evaluate("teacher", "shapes-geneval", 4, seeds="0-23", batch=12, out=tmp_path / "ev", append=False)
    assert 0.0 <= r["metrics"]["overall"] <= 1.0 and "single_object" in r["metrics"]


@needs_t2i
def test_teacher_run_folder_scored_before_shipping(tmp_path):
    """`harness eval --method teacher --checkpoint RUN`: the run's latest checkpoint, not the shipped teacher,
    and the row's fingerprint names it; a folder that is not a run, or a run of the other task, is a one-line error."""
    from helpers import run_console

    env = {"OMP_NUM_THREADS": "1", "FPD_NO_PROGRESS": "1"}
    run = tmp_path / "t"
    tiny = ["--set", "width=32", "--set", "depth=1", "--set", "heads=2", "--set", "n_train=64", "--set", "batch=8"]
    code, _, err = run_console(
        ["train", "teacher", "--task", "shapes-t2i", "--steps", "2", "--out", run, *tiny], cwd=tmp_path, env=env
    )
    assert code == 0, err
    args = ["eval", "--method", "teacher", "--suite", "shapes-geneval", "--steps", "1", "--seeds", "0-3", "--no-append"]
    code, _, err = run_console([*args, "--checkpoint", run, "--out", tmp_path / "ev"], cwd=tmp_path, env=env)
    assert code == 0, err
    res = json.loads((tmp_path / "ev" / "results.json").read_text())
    nets = res["generator"]["networks"]
    assert nets["teacher_run"]["step"] == 2 and nets["teacher"] == nets["teacher_run"]["sha256"]
    from harness.assets import asset_sha256

    assert nets["teacher"] != asset_sha256("teacher_shapes_t2i")  # not the shipped one
    code, _, err = run_console([*args, "--checkpoint", tmp_path, "--out", tmp_path / "ev2"], cwd=tmp_path, env=env)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and "not a teacher run folder" in lines[0], err
    code, _, err = run_console(
        [
            "eval",
            "--method",
            "teacher",
            "--suite",
            "shapes-fid",
            "--steps",
            "1",
            "--seeds",
            "0-3",
            "--no-append",
            "--checkpoint",
            run,
            "--out",
            tmp_path / "ev3",
        ],
        cwd=tmp_path,
        env=env,
    )
    assert code == 2 and "trained a 'shapes-t2i' teacher" in err, err
