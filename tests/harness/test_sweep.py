"""`harness sweep teacher|fpd` through the console script at a toy size: validation seeds only, a table,
a JSON file, and (teacher) the chosen preset stored and then used, with its name, by `harness eval`."""

import json

import pytest

from harness.assets import asset_path
from helpers import run_console

pytestmark = pytest.mark.skipif(not asset_path("teacher_shapes").exists(), reason="shipped networks not built yet")


def test_sweep_teacher_writes_and_uses_preset(tmp_path):
    env = {"FPD_SAMPLER_PRESETS": str(tmp_path / "presets.json"), "OMP_NUM_THREADS": "1"}
    code, out, err = run_console(
        [
            "sweep",
            "teacher",
            "--task",
            "shapes",
            "--steps",
            "2",
            "--grid",
            "w=0,1",
            "--seeds",
            "1000000-1000007",
            "--batch",
            "8",
            "--out",
            tmp_path / "sw.json",
            "--write-preset",
            "toy",
        ],
        cwd=tmp_path,
        env=env,
    )
    assert code == 0, err
    assert "(chosen)" in out
    sw = json.loads((tmp_path / "sw.json").read_text())
    assert [r["settings"]["w"] for r in sw["rows"]] == [0.0, 1.0] and sw["seeds"] == [1000000, 1000007]
    stored = json.loads((tmp_path / "presets.json").read_text())["shapes"]
    assert stored["name"] == "toy" and stored["settings"] == sw["best"]
    code, _, err = run_console(
        [
            "eval",
            "--method",
            "teacher",
            "--steps",
            "1",
            "--suite",
            "shapes-fid",
            "--seeds",
            "0-9",
            "--out",
            tmp_path / "ev",
            "--no-append",
        ],
        cwd=tmp_path,
        env=env,
    )
    assert code == 0, err
    res = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert res["generator"]["sampler_preset"] == "toy" and res["generator"]["sampler"]["w"] == sw["best"]["w"]

    # `sweep choose` pools points swept one at a time: a second table of the same setup whose one row beats both
    other = json.loads(json.dumps(sw))
    other["rows"] = [json.loads(json.dumps(sw["rows"][0]))]
    other["rows"][0]["settings"]["w"] = 3.0
    other["rows"][0]["metrics"]["fid"] = min(r["metrics"]["fid"] for r in sw["rows"]) - 1
    (tmp_path / "sw3.json").write_text(json.dumps(other))
    code, out, err = run_console(
        ["sweep", "choose", tmp_path / "sw.json", tmp_path / "sw3.json", "--write-preset", "pooled"],
        cwd=tmp_path,
        env=env,
    )
    assert code == 0, err
    assert "of 3 rows in 2 tables" in out and out.count("(chosen)") == 1
    stored = json.loads((tmp_path / "presets.json").read_text())["shapes"]
    assert stored["name"] == "pooled" and stored["settings"]["w"] == 3.0 and len(stored["chosen_by"]["rows"]) == 3
    other["teacher"]["teacher"] = "0" * 64  # another teacher's table is refused, not pooled
    (tmp_path / "sw3.json").write_text(json.dumps(other))
    code, _, err = run_console(["sweep", "choose", tmp_path / "sw.json", tmp_path / "sw3.json"], cwd=tmp_path, env=env)
    assert code == 2 and "not comparable" in err and len(err.strip().splitlines()) == 1


def test_a_grid_point_that_switches_the_algorithm_starts_from_its_defaults():
    from harness.sampler_presets import settings_for

    base = {"w": 2.0, "r_temp": 1.5, "schedule": "maskgit-v1"}
    assert settings_for(base, {"r_temp": 1.0}) == {"w": 2.0, "r_temp": 1.0, "schedule": "maskgit-v1"}
    assert settings_for(base, {"sampler": "maskgit", "w": 1.0})["r_temp"] == 1.5
    assert settings_for(base, {"sampler": "maskgen", "guidance_scale": 2.0}) == {
        "sampler": "maskgen",
        "guidance_scale": 2.0,
    }


def test_sweep_teacher_across_sampler_algorithms(tmp_path):
    env = {"FPD_SAMPLER_PRESETS": str(tmp_path / "presets.json"), "OMP_NUM_THREADS": "1"}
    code, out, err = run_console(
        [
            "sweep",
            "teacher",
            "--task",
            "shapes-t2i",
            "--steps",
            "2",
            "--grid",
            "sampler=maskgit,maskgen",
            "--seeds",
            "1000000-1000007",
            "--batch",
            "8",
            "--out",
            tmp_path / "sw.json",
        ],
        cwd=tmp_path,
        env=env,
    )
    assert code == 0, err
    rows = json.loads((tmp_path / "sw.json").read_text())["rows"]
    assert [r["settings"].get("sampler") for r in rows] == ["maskgit", "maskgen"]
    assert "w" in rows[0]["settings"] and "w" not in rows[1]["settings"]  # MaskGen's own settings, not MaskGIT's


def test_sweep_refuses_reported_seeds(tmp_path):
    code, _, err = run_console(["sweep", "teacher", "--grid", "w=0,1", "--seeds", "0-99"], cwd=tmp_path)
    assert code == 2 and "overlaps the reported seeds" in err


def test_sweep_fpd_trains_and_scores_each_setting(tmp_path):
    code, out, err = run_console(
        [
            "sweep",
            "fpd",
            "--task",
            "shapes",
            "--grid",
            "self_pairs=mask-negatives,mask-both",
            "--set",
            "batch=4",
            "--set",
            "stats_every=0",
            "--train-steps",
            "2",
            "--seeds",
            "1000000-1000011",
        ],
        cwd=tmp_path,
        env={"OMP_NUM_THREADS": "1"},
    )
    assert code == 0, err
    sw = json.loads((tmp_path / "runs/sweep/fpd-shapes.json").read_text())
    assert [r["settings"]["self_pairs"] for r in sw["rows"]] == ["mask-negatives", "mask-both"]
    assert all("mean_area" in r["metrics"] and "fid" in r["metrics"] for r in sw["rows"])
    assert sw["rows"][0]["fingerprint"] != sw["rows"][1]["fingerprint"]


@pytest.mark.parametrize("kind,extra,steps", [("dimo", [], "2"), ("sdtt", ["--set", "round_steps=1"], "4")])
def test_sweep_baselines_train_and_score(tmp_path, kind, extra, steps):
    """The fair protocol tunes every distiller the same way: `sweep dimo|sdtt` through the console script."""
    code, out, err = run_console(
        [
            "sweep",
            kind,
            "--task",
            "shapes",
            "--grid",
            "lr=1e-4,3e-4",
            "--set",
            "batch=4",
            *extra,
            "--train-steps",
            steps,
            "--seeds",
            "1000000-1000011",
        ],
        cwd=tmp_path,
        env={"OMP_NUM_THREADS": "1"},
    )
    assert code == 0, err
    sw = json.loads((tmp_path / f"runs/sweep/{kind}-shapes.json").read_text())
    assert [r["settings"]["lr"] for r in sw["rows"]] == ["1e-4", "3e-4"] and sw["best"]["lr"] in ("1e-4", "3e-4")


def test_sweep_teacher_candidate_run(tmp_path):
    """`sweep teacher --checkpoint RUN` scores a teacher run (a candidate before shipping), not the shipped teacher;
    the table and the stored preset's evidence name the weights it was chosen on."""
    from harness.assets import asset_sha256

    env = {"FPD_SAMPLER_PRESETS": str(tmp_path / "presets.json"), "OMP_NUM_THREADS": "1", "FPD_NO_PROGRESS": "1"}
    run = tmp_path / "t"
    tiny = ["--set", "width=32", "--set", "depth=1", "--set", "heads=2", "--set", "n_train=64", "--set", "batch=8"]
    code, _, err = run_console(
        ["train", "teacher", "--task", "shapes", "--steps", "2", "--out", run, *tiny], cwd=tmp_path, env=env
    )
    assert code == 0, err
    code, out, err = run_console(
        [
            "sweep",
            "teacher",
            "--task",
            "shapes",
            "--steps",
            "1",
            "--grid",
            "r_temp=1,2",
            "--seeds",
            "1000000-1000007",
            "--batch",
            "8",
            "--out",
            tmp_path / "sw.json",
            "--checkpoint",
            run,
            "--write-preset",
            "cand",
        ],
        cwd=tmp_path,
        env=env,
    )
    assert code == 0, err
    sw = json.loads((tmp_path / "sw.json").read_text())
    assert sw["teacher"]["teacher_run"]["step"] == 2 and sw["teacher"]["teacher"] != asset_sha256("teacher_shapes")
    stored = json.loads((tmp_path / "presets.json").read_text())["shapes"]
    assert stored["chosen_by"]["teacher"] == sw["teacher"]
