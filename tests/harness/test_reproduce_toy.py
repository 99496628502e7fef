"""`harness reproduce` end to end through the console script at a toy budget: two training steps, a few
samples, one seed, one group of every kind (teacher, SDTT, DiMO, FPD main and an ablation), its leaderboard
rows in a temporary board and Tables 1-4 rendered from them. Re-running resumes and appends nothing new."""

import json
from pathlib import Path

import pytest

from harness.assets import asset_path
from helpers import run_console

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not asset_path("teacher_shapes").exists(), reason="shipped networks not built yet")

TOY = [
    "reproduce",
    "--seeds",
    "1",
    "--train-steps",
    "2",
    "--n",
    "8",
    "--set",
    "batch=4",
    "--set",
    "stats_every=0",
    "--set",
    "n_train=64",
    "--only",
    "teacher-1,sdtt-1,dimo-1,fpd-1,fpd-space=pixel",
]


def test_reproduce_toy_budget_end_to_end(tmp_path):
    env = {"FPD_LEADERBOARD_DIR": str(tmp_path / "lb"), "OMP_NUM_THREADS": "1"}
    args = [*TOY, "--root", tmp_path / "rp"]
    code, out, err = run_console(args, cwd=tmp_path, env=env)
    assert code == 0, err
    assert "0 done, 16 to do" in out and "reproduce: 16 jobs in" in out
    timing = [json.loads(x) for x in (tmp_path / "rp" / "timing.jsonl").read_text().splitlines()]
    assert len(timing) == 16 and {t["kind"] for t in timing} == {"train", "eval"}
    # the budget reached the trainers: two updates, SDTT in rounds of a quarter of them (at least one)
    fpd_cfg = json.loads((tmp_path / "rp" / "fpd-shapes-seed0" / "config.json").read_text())
    assert fpd_cfg["steps"] == 2 and fpd_cfg["batch"] == 4 and fpd_cfg["seed"] == 0
    sdtt_cfg = json.loads((tmp_path / "rp" / "sdtt-shapes-seed0" / "config.json").read_text())
    assert sdtt_cfg["round_steps"] == 1 and sdtt_cfg["n_train"] == 64
    res = json.loads((tmp_path / "rp" / "eval" / "shapes-fid" / "fpd-1-seed0-1step" / "results.json").read_text())
    assert res["n"] == 8
    rows = [json.loads(x) for f in (tmp_path / "lb" / "data").glob("*.jsonl") for x in f.read_text().splitlines()]
    keys = {(r["suite"], r["method"], r["steps"], r["variant"]) for r in rows}
    for key in [
        ("shapes-fid", "teacher", 1, ""),
        ("shapes-fid", "sdtt", 1, ""),
        ("shapes-fid", "dimo", 1, ""),
        ("shapes-fid", "fpd", 1, ""),
        ("shapes-geneval", "fpd", 1, ""),
        ("shapes-geneval", "fpd", 1, "ste"),
        ("shapes-geneval", "fpd", 1, "space=pixel"),
        ("shapes-geneval", "dimo", 1, ""),
    ]:
        assert key in keys, key
    assert all(
        "2 updates, n=8" in r["label"] and r["eval"]["train_steps"] == 2 for r in rows if r["method"] != "teacher"
    )
    from harness.leaderboard_cli import row_teacher  # each row names its teacher and every seed's fingerprint

    assert all(row_teacher(r)[1] == "row" and len(r["eval"]["fingerprints"]) == 1 for r in rows)
    assert "Table 2" in out and "Table 4" in out
    # resumed: every job done, no new rows
    code, out, err = run_console(args, cwd=tmp_path, env=env)
    assert code == 0, err
    assert "16 done, 0 to do" in out and "appended 0 aggregated rows" in out
    assert len([x for f in (tmp_path / "lb" / "data").glob("*.jsonl") for x in f.read_text().splitlines()]) == len(rows)
    # `leaderboard show -p` names every seed's generator of an aggregated row
    code, out, err = run_console(["leaderboard", "show", "shapes-fid", "-p"], cwd=tmp_path, env=env)
    fid_fpd = next(r for r in rows if (r["suite"], r["method"]) == ("shapes-fid", "fpd"))
    assert code == 0 and f"fingerprints={fid_fpd['eval']['fingerprints'][0]}" in out, out
    assert "made before fingerprints" not in out


def test_reproduce_side_by_side(tmp_path):
    """--jobs 2: each job in its own process; an evaluation starts only after its training run finished.
    --train-precision bf16 reaches the training run (its own process) and not the evaluation; a resume with
    other settings in the same folder is refused in one line."""
    env = {"FPD_LEADERBOARD_DIR": str(tmp_path / "lb")}
    args = [*TOY[:-1], "teacher-1,shapes-fid:fpd-1", "--root", tmp_path / "rp"]
    code, out, err = run_console([*args, "--jobs", "2", "--train-precision", "bf16"], cwd=tmp_path, env=env)
    assert code == 0, err
    lines = out.splitlines()
    first = lambda prefix: next(i for i, ln in enumerate(lines) if ln.startswith(prefix))
    assert first("[done] train fpd shapes main seed 0") < first("[start] eval fpd main 1-step on shapes-fid")
    timing = [json.loads(x) for x in (tmp_path / "rp" / "timing.jsonl").read_text().splitlines()]
    assert len(timing) == 4 and all(t["workers"] == 2 for t in timing)
    assert (tmp_path / "rp" / "logs").is_dir() and "appended 3 aggregated rows" in out
    assert json.loads((tmp_path / "rp" / "fpd-shapes-seed0" / "student.json").read_text())["train_precision"] == "bf16"
    res = json.loads((tmp_path / "rp" / "eval" / "shapes-fid" / "fpd-1-seed0-1step" / "results.json").read_text())
    assert "bf16" not in json.dumps(res["fingerprint"])
    code, _, err = run_console([*args, "--train-precision", "fp32"], cwd=tmp_path, env=env)
    assert code == 2 and "train_precision='bf16'" in err and len(err.strip().splitlines()) == 1, err


def test_reproduce_refuses_bad_budget(tmp_path):
    code, _, err = run_console(["reproduce", "--train-steps", "0", "--dry-run"], cwd=tmp_path)
    assert code == 2 and "--train-steps must be >= 1" in err
    code, _, err = run_console(["reproduce", "--only", "fdp-1", "--dry-run"], cwd=tmp_path)
    assert code == 2 and "matches no group" in err


def test_reproduce_defaults_are_the_timed_study(tmp_path):
    """Plain `harness reproduce --scale shapes` is the study that was timed (docs/results/reproduce-s14-study.json):
    a folder holding that study's settings, every job done, resumes without a settings flag and is refused with fp32."""
    from harness.reproduce import plan

    root = tmp_path / "rp"
    for j in plan(3, root):
        j.args["marker"].parent.mkdir(parents=True, exist_ok=True)
        j.args["marker"].write_text(json.dumps({"skipped": "done in this test"}))
    (root / "study.json").write_text((ROOT / "docs" / "results" / "reproduce-s14-study.json").read_text())
    env = {"FPD_LEADERBOARD_DIR": str(tmp_path / "lb")}
    code, out, err = run_console(["reproduce", "--scale", "shapes", "--root", root], cwd=tmp_path, env=env)
    assert code == 0, err
    assert "106 done, 0 to do" in out and "appended 0 aggregated rows" in out
    code, _, err = run_console(["reproduce", "--root", root, "--train-precision", "fp32"], cwd=tmp_path, env=env)
    assert code == 2 and "train_precision='bf16'" in err
