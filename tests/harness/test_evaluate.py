"""`harness eval` end to end on a few seeds: results JSON, a valid leaderboard row, resume."""
import json

import pytest

from harness.assets import asset_path
from harness.evaluate import evaluate

needs_teacher = pytest.mark.skipif(not asset_path("teacher_shapes").exists(), reason="shipped teacher not built yet")
needs_t2i = pytest.mark.skipif(not asset_path("teacher_shapes_t2i").exists(), reason="shipped t2i teacher not built yet")


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
