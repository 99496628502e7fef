"""`harness curve` through the console script: a distiller run exports its student at the curve points, the
curve scores each point once on validation seeds (a second call re-scores nothing, an extended run adds
only its new points), reported seeds are refused, and the best-point rule never picks a collapsed student."""

import json

import pytest

from harness.assets import asset_path
from helpers import run_cli, run_console

pytestmark = pytest.mark.skipif(not asset_path("teacher_shapes").exists(), reason="shipped networks not built yet")
ENV = {"OMP_NUM_THREADS": "1"}


def _train(run, steps, cwd, seed=0):
    return run_console(
        [
            "train",
            "fpd",
            "--task",
            "shapes",
            "--steps",
            steps,
            "--set",
            "batch=4",
            "--set",
            "stats_every=0",
            "--set",
            f"seed={seed}",
            "--out",
            run,
        ],
        cwd=cwd,
        env=ENV,
    )


def test_curve_scores_each_point_once_and_extends(tmp_path, capsys):
    run = tmp_path / "fpd-s0"
    code, _, err = _train(run, 12, tmp_path)
    assert code == 0, err
    assert "starting afresh" in err
    assert sorted(p.name for p in (run / "curve").iterdir()) == ["step_0000000", "step_0000010", "step_0000012"]
    code, _, err = _train(tmp_path / "fpd-s1", 12, tmp_path, seed=1)
    assert code == 0, err

    args = [
        "curve",
        run,
        tmp_path / "fpd-s1",
        "--seeds",
        "1000000-1000015",
        "--batch",
        "16",
        "--no-references",
        "--out",
        tmp_path / "curves",
    ]
    code, out, err = run_console(args, cwd=tmp_path, env=ENV)
    assert code == 0, err
    res = json.loads((tmp_path / "curves" / "curve_shapes-fid.json").read_text())
    ((name, g),) = res["groups"].items()  # two seeds of one setting: one group, a band of two
    assert name == "fpd" and res["shared_settings"] == {"batch": 4}
    assert [p["updates"] for p in g["points"]] == [0, 10, 12] and all(p["seeds"] == 2 for p in g["points"])
    assert {"fid", "recall", "detector_accuracy", "classifier_accuracy"} <= set(g["points"][0]["mean"])
    assert (tmp_path / "curves" / "curve_shapes-fid.png").stat().st_size > 0
    assert "fpd: 2 seed(s), 3 points up to 12 updates" in out
    table = (tmp_path / "curves" / "curve_shapes-fid.md").read_text()
    assert "| fpd | 2 | start | 0 |" in table and "| last | 12 |" in table
    assert g["cost"]["sec_per_update"] > 0 and g["cost"]["once_s"] == 0  # what a point cost: updates x s/update

    record = tmp_path / "curves" / "runs" / "fpd-s0.json"  # a record stands in for its folder: the same curve
    code, _, err = run_cli(["curve", record, tmp_path / "fpd-s1", *args[3:-1], tmp_path / "from-record"], capsys)
    assert code == 0, err
    assert (
        json.loads((tmp_path / "from-record" / "curve_shapes-fid.json").read_text())["groups"]["fpd"]["points"]
        == g["points"]
    )
    code, _, err = run_cli(["curve", record, run, *args[3:]], capsys)
    assert code == 2 and "pass each run once" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(["curve", record, "--seeds", "1000000-1000031", "--no-references"], capsys)
    assert code == 2 and "pass records scored like this curve" in err

    for p in (run / "curve").iterdir():  # a scored point is read back, never sampled again
        __import__("shutil").rmtree(p / "eval_shapes-fid")
    code, _, err = _train(run, 30, tmp_path)  # extended: only the new point appears
    assert code == 0, err
    assert "resuming" in err and "at update 12" in err
    code, out, err = run_console(args, cwd=tmp_path, env=ENV)
    assert code == 0, err
    assert [p.name for p in (run / "curve").iterdir() if (p / "eval_shapes-fid").exists()] == ["step_0000030"]
    res2 = json.loads((tmp_path / "curves" / "curve_shapes-fid.json").read_text())
    pts = res2["groups"]["fpd"]["points"]
    assert [(p["updates"], p["seeds"]) for p in pts] == [(0, 2), (10, 2), (12, 2), (30, 1)]
    assert pts[1]["values"] == g["points"][1]["values"]

    code, out, err = run_console(
        [
            "curve",
            tmp_path / "fpd-s1",
            "--temps",
            "1,2",
            "--at",
            "0,12",
            "--seeds",
            "1000000-1000015",
            "--batch",
            "24",
            "--no-references",
            "--out",
            tmp_path / "temps",
        ],
        cwd=tmp_path,
        env=ENV,
    )
    assert code == 0, err
    res3 = json.loads((tmp_path / "temps" / "curve_shapes-fid.json").read_text())
    assert sorted(res3["groups"]) == ["fpd @temp 1", "fpd @temp 2"] and "fpd" in res3["temperature_choice"]
    assert [p["updates"] for p in res3["groups"]["fpd @temp 2"]["points"]] == [0, 12]
    hot = res3["groups"]["fpd @temp 2"]["points"][0]["values"]["fid"][0]
    assert hot != res3["groups"]["fpd @temp 1"]["points"][0]["values"]["fid"][0]  # really sampled hotter

    code, _, err = run_cli(["curve", run, "--seeds", "0-99", "--no-references"], capsys)  # in-process: fails early
    assert code == 2 and "validation seeds only" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(["curve", tmp_path / "gone"], capsys)
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1


def _pt(updates, fid, recall, det, seeds=2, spread=0.0):
    mean = {"fid": fid, "recall": recall, "detector_accuracy": det}
    return {
        "updates": updates,
        "seeds": seeds,
        "mean": mean,
        "min": {k: v - spread for k, v in mean.items()},
        "max": {k: v + spread for k, v in mean.items()},
    }


def test_best_point_rule_does_not_reward_collapse():
    from harness.curves import verdict

    start = _pt(0, 1300, 0.69, 0.46)
    collapsed = _pt(1000, 800, 0.10, 0.60)  # the lowest FID, but recall gone: never chosen
    learned = _pt(300, 1000, 0.62, 0.50)
    v = verdict([start, learned, collapsed], "shapes-fid")
    assert v["best_updates"] == 300 and v["verdict"].startswith("improves, then degrades; at 1,000 against the start: ")
    assert "FID better, recall worse, detector-correct better" in v["verdict"]
    v = verdict([start, _pt(300, 1250, 0.66, 0.47, spread=60)], "shapes-fid")
    assert v["verdict"].startswith("flat; ") and "within noise on every measure" in v["verdict"]  # < the spread
    v = verdict([start, _pt(300, 1200, 0.3, 0.2)], "shapes-fid")
    assert v["best_updates"] is None and v["verdict"].startswith("degrades")
