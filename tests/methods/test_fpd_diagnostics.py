"""FPD's training diagnostics reach log.jsonl (run through the console script): the raw drift and its
radial part, the saturated share, target_changed, and sample statistics every stats_every steps."""

import json

import pytest

from harness.assets import asset_path
from helpers import run_console


@pytest.mark.skipif(not asset_path("teacher_shapes").exists(), reason="shipped networks not built yet")
def test_train_fpd_logs_diagnostics(tmp_path):
    out = tmp_path / "fpd"
    code, stdout, err = run_console(
        [
            "train",
            "fpd",
            "--task",
            "shapes",
            "--steps",
            "10",
            "--out",
            out,
            "--set",
            "batch=8",
            "--set",
            "stats_every=5",
            "--set",
            "stats_n=16",
            "--set",
            "self_pairs=mask-both",
            "--set",
            "target=reveal",
            "--set",
            "drift_sets=condition",
            "--set",
            "per_cond=4",
        ],
        cwd=tmp_path,
        env={"OMP_NUM_THREADS": "1"},
    )
    assert code == 0, err
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    last = rows[-1]
    for key in (
        "drift_raw_norm",
        "drift_raw_radial",
        "saturated",
        "target_changed",
        "sample_mean_area",
        "sample_centre_spread",
        "sample_recall_proxy",
        "sample_detector_correct",
    ):
        assert key in last, key
    assert 0.0 <= last["saturated"] <= 1.0 and last["sample_mean_area"] > 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["self_pairs"] == "mask-both" and cfg["target"] == "reveal" and cfg["per_cond"] == 4


def test_bad_fpd_option_is_one_line(tmp_path):
    code, _, err = run_console(
        ["train", "fpd", "--task", "shapes", "--steps", "2", "--out", tmp_path / "x", "--set", "self_pairs=both"],
        cwd=tmp_path,
    )
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and "self_pairs" in lines[0], err


@pytest.mark.parametrize("sets, fix", [(["drift_sets=condition"], "per_cond"), (["per_cond=3"], "per_cond dividing")])
def test_bad_drift_sets_are_one_line(tmp_path, sets, fix):
    code, _, err = run_console(
        [
            "train",
            "fpd",
            "--task",
            "shapes",
            "--steps",
            "2",
            "--out",
            tmp_path / "x",
            *[a for s in sets for a in ("--set", s)],
        ],
        cwd=tmp_path,
    )
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and fix in lines[0], err
