"""benchmarks/study_estimate.py costs the study from measured jobs: fixed part + seconds per update, re-scaled."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def test_estimate_rescales_measured_runs_and_flags_assumed_cells(tmp_path, monkeypatch, capsys):
    from benchmarks import study_estimate as E
    monkeypatch.setenv("FPD_LEADERBOARD_DIR", str(tmp_path / "empty-board"))   # no teacher rows to cost from
    root = tmp_path / "measured"
    run = root / "fpd-shapes-t2i-seed0"
    run.mkdir(parents=True)
    # 20 updates at 0.5 s each inside a 110 s job: 100 s of start-up
    run.joinpath("log.jsonl").write_text("".join(json.dumps({"step": s, "sec_per_step": 0.5}) + "\n" for s in (10, 20)))
    root.joinpath("timing.jsonl").write_text(
        json.dumps({"job": "train fpd shapes-t2i main seed 0", "kind": "train", "seconds": 110.0}) + "\n"
        + json.dumps({"job": "eval fpd main 1-step on shapes-geneval seed 0", "kind": "eval", "seconds": 4.0}) + "\n")
    est = E.estimate([root], seeds=1, train_steps=40)
    fpd_train = [l for l in est["lines"] if l[0].startswith("train fpd shapes-t2i")]
    assert len(fpd_train) == 10                                       # the reference cell and nine ablations
    assert all(sec == pytest.approx(100 + 0.5 * 40) for *_, sec in fpd_train)
    assert sum(l[2] == "measured" for l in fpd_train) == 1            # the others borrow the reference's cost
    fpd_eval = [l for l in est["lines"] if l[0].startswith("eval fpd") and "shapes-geneval" in l[0]]
    assert len(fpd_eval) == 10 and all(sec == 4.0 for *_, sec in fpd_eval)
    assert est["per_update_s"] == pytest.approx(10 * 0.5)
    assert est["fixed_s"] == pytest.approx(10 * 100 + 10 * 4)
    assert any(m.startswith("train sdtt shapes") for m in est["missing"])   # never measured: said, not guessed
    assert any(m.startswith("eval teacher") for m in est["missing"])
    rec = E.main(["--measured", str(root), "--seeds", "1", "--train-steps", "40", "--budget-min", "30",
                  "--out", str(tmp_path / "est.jsonl")])
    out = capsys.readouterr().out
    assert "| train fpd shapes-t2i | 10 | 20.0 |" in out and "not costed" in out
    assert rec["total_min"] == pytest.approx((10 * 120 + 10 * 4) / 60, abs=0.05)
    assert rec["fits_updates"] == round((30 * 60 - 1040) / 5)        # updates per distiller that fit 30 minutes
    with pytest.raises(SystemExit, match="no timing.jsonl"):
        E.estimate([tmp_path / "nowhere"], seeds=1, train_steps=40)
