"""benchmarks/study_estimate.py costs the study from measured jobs: fixed part + seconds per update, re-scaled."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def test_estimate_rescales_measured_runs_and_flags_assumed_cells(tmp_path, monkeypatch, capsys):
    from benchmarks import study_estimate as E

    monkeypatch.setenv("FPD_LEADERBOARD_DIR", str(tmp_path / "empty-board"))  # no teacher rows to cost from
    root = tmp_path / "measured"
    # main cell: 20 updates at 0.5 s inside a 110 s job (100 s of start-up); GAN cell: 20 at 1.0 s inside 70 s
    for folder, per_update in (("fpd-shapes-t2i-seed0", 0.5), ("fpd-shapes-t2i-ste+gan-seed0", 1.0)):
        (root / folder).mkdir(parents=True)
        (root / folder / "log.jsonl").write_text(
            "".join(json.dumps({"step": s, "sec_per_step": per_update}) + "\n" for s in (10, 20))
        )
    root.joinpath("timing.jsonl").write_text(
        "".join(
            json.dumps(r) + "\n"
            for r in [
                {"job": "train fpd shapes-t2i main seed 0", "kind": "train", "seconds": 110.0},
                {"job": "train fpd shapes-t2i ste+gan seed 0", "kind": "train", "seconds": 70.0},
                {"job": "eval fpd main 1-step on shapes-geneval seed 0", "kind": "eval", "seconds": 4.0},
            ]
        )
    )
    est = E.estimate([root], seeds=1, train_steps=40)
    fpd_train = {l[0].split()[3]: l for l in est["lines"] if l[0].startswith("train fpd shapes-t2i")}
    assert len(fpd_train) == 10  # the reference cell and nine ablations
    assert fpd_train["main"][2:] == ("measured", pytest.approx(100 + 0.5 * 40))
    assert fpd_train["ste+gan"][2:] == ("measured", pytest.approx(50 + 1.0 * 40))
    assert fpd_train["soft+gan"][2:] == ("assumed = ste+gan cell", pytest.approx(90))  # the nearest stand-in
    assert fpd_train["draft=random"][2:] == ("assumed = main cell", pytest.approx(120))
    fpd_eval = [l for l in est["lines"] if l[0].startswith("eval fpd") and "shapes-geneval" in l[0]]
    assert len(fpd_eval) == 10 and all(sec == 4.0 for *_, sec in fpd_eval)
    assert est["per_update_s"] == pytest.approx(8 * 0.5 + 2 * 1.0)
    assert est["fixed_s"] == pytest.approx(8 * 100 + 2 * 50 + 10 * 4)
    assert any(m.startswith("train sdtt shapes") for m in est["missing"])  # never measured: said, not guessed
    assert any(m.startswith("eval teacher") for m in est["missing"])
    rec = E.main(
        [
            "--measured",
            str(root),
            "--seeds",
            "1",
            "--train-steps",
            "40",
            "--budget-min",
            "30",
            "--out",
            str(tmp_path / "est.jsonl"),
        ]
    )
    out = capsys.readouterr().out
    assert "| train fpd shapes-t2i | 10 | 19.0 |" in out and "not costed" in out
    assert rec["total_min"] == pytest.approx((8 * 120 + 2 * 90 + 10 * 4) / 60, abs=0.05)
    assert rec["fits_updates"] == round((30 * 60 - 940) / 6)  # updates per distiller that fit 30 minutes
    with pytest.raises(SystemExit, match="no timing.jsonl"):
        E.estimate([tmp_path / "nowhere"], seeds=1, train_steps=40)
