"""`harness diagnose fixed-point` through the console script on a tiny case: the table, the JSON, the data rows
beside the operator rows, and one-line errors for bad input."""

import json
import math

import pytest

from harness.assets import asset_path
from helpers import run_console


@pytest.mark.skipif(not asset_path("teacher_shapes").exists(), reason="shipped networks not built yet")
def test_fixed_point_tiny(tmp_path):
    out = tmp_path / "fp.json"
    code, stdout, err = run_console(
        [
            "diagnose",
            "fixed-point",
            "--task",
            "shapes",
            "--n",
            "12",
            "--k",
            "1,2",
            "--variant",
            "fill:teacher_w=0",
            "--variant",
            "target=reveal",
            "--out",
            out,
        ],
        cwd=tmp_path,
        env={"OMP_NUM_THREADS": "1"},
    )
    assert code == 0, err
    res = json.loads(out.read_text())
    rows = [(r["variant"], r["k"]) for r in res["rows"]]
    assert rows[:2] == [("data (held-out renders)", 0), ("data, tokenised (decode(encode(x)))", 0)]
    assert rows[2:] == [("fill", 1), ("fill", 2), ("target=reveal", 1), ("target=reveal", 2)]
    assert res["rows"][2]["options"] == {"teacher_w": 0.0}
    for r in res["rows"]:
        assert {"fid", "mean_area", "centre_spread", "detector_correct", "classifier_accuracy"} <= set(r)
    assert res["rows"][0]["detector_correct"] > 0.9  # held-out renders show their class
    assert "| fill | 2 |" in stdout


@pytest.mark.skipif(not asset_path("teacher_shapes_t2i").exists(), reason="shipped networks not built yet")
def test_fixed_point_text_from_data_and_from_a_student(tmp_path):
    """shapes-t2i, scored by the GenEval rules: held-out renders score 1; from a student's drafts (here the untrained
    student, i.e. the teacher's weights as FPD initialises it) the first row is the draft, then the targets."""
    from harness.io import save_weights
    from harness.trainers.teacher import load_shipped

    out = tmp_path / "fp.json"
    env = {"OMP_NUM_THREADS": "1"}
    code, stdout, err = run_console(
        [
            "diagnose",
            "fixed-point",
            "--task",
            "shapes-t2i",
            "--n",
            "8",
            "--k",
            "1",
            "--variant",
            "fill:teacher_w=2",
            "--out",
            out,
        ],
        cwd=tmp_path,
        env=env,
    )
    assert code == 0, err
    rows = json.loads(out.read_text())["rows"]
    assert [(r["variant"], r["k"]) for r in rows][::2] == [("data (held-out renders)", 0), ("fill", 1)]
    assert rows[0]["overall"] == 1.0 and rows[2]["options"] == {"teacher_w": 2.0} and "objects_per_asked" in rows[2]
    assert "| fill | 1 |" in stdout and "objects per asked" in stdout
    run = tmp_path / "run"
    save_weights(run / "student", load_shipped("shapes-t2i").state_dict(), {"method": "fpd", "train": {"r_init": 0.95}})
    code, stdout, err = run_console(
        [
            "diagnose",
            "fixed-point",
            "--task",
            "shapes-t2i",
            "--n",
            "8",
            "--k",
            "1,2",
            "--start",
            "student",
            "--checkpoint",
            run,
            "--variant",
            "fill:teacher_w=1",
            "--out",
            out,
        ],
        cwd=tmp_path,
        env=env,
    )
    assert code == 0, err
    res = json.loads(out.read_text())
    assert res["start"] == "student" and res["networks"]["student"] == str(run)
    assert [(r["variant"], r["k"]) for r in res["rows"]] == [("student draft (1 step)", 0), ("fill", 1), ("fill", 2)]
    assert res["rows"][1]["token_changed_last"] > 0


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--task", "imagenet"], "shapes tasks"),
        (["--start", "student"], "--checkpoint"),
        (["--start", "pixels"], "--start"),
        (["--k", "one"], "--k"),
        (["--variant", "x:lrr=1"], "unknown config key"),
    ],
)
def test_fixed_point_bad_input(tmp_path, args, needle):
    code, _, err = run_console(["diagnose", "fixed-point", "--n", "4", *args], cwd=tmp_path)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and needle in lines[0], err


@pytest.mark.skipif(not asset_path("shapes_vq").exists(), reason="shipped tokenizer not built yet")
def test_ceiling_tiny(tmp_path):
    """Ground truth scores 1 under the suite's own rules; its tokeniser reconstructions are the ceiling."""
    out = tmp_path / "c.json"
    code, stdout, err = run_console(
        ["diagnose", "ceiling", "--task", "shapes-t2i", "--prompts", "18", "--images-per-prompt", "1", "--out", out],
        cwd=tmp_path,
        env={"OMP_NUM_THREADS": "1"},
    )
    assert code == 0, err
    res = json.loads(out.read_text())
    gt, tk = res["rows"]
    assert res["images"] == 18 and gt["overall"] == 1.0 and gt["counting_by_count"]["2"]["correct"] == 1
    assert 0.0 <= tk["overall"] <= 1.0 and set(gt) == set(tk)
    assert "| tokenised (decode(encode(x))) |" in stdout
    code, stdout, err = run_console(["diagnose", "ceiling", "--task", "shapes", "--n", "6", "--out", out], cwd=tmp_path)
    assert code == 0, err
    assert json.loads(out.read_text())["rows"][0]["detector_correct"] == 1.0


def test_ceiling_bad_task(tmp_path):
    code, _, err = run_console(["diagnose", "ceiling", "--task", "imagenet"], cwd=tmp_path)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and "unknown task" in lines[0], err


def _det(cls, x, score=1.0, color="red"):
    return {"class": cls, "box": [x, 10.0, x + 8.0, 18.0], "score": score, "color": color}


@pytest.mark.parametrize(
    "meta,dets,category",
    [
        (
            {"tag": "single_object", "include": [{"class": "circle", "count": 1}]},
            [_det("square", 4)],
            "shape missing or wrong",
        ),
        (
            {
                "tag": "counting",
                "include": [{"class": "circle", "count": 2}],
                "exclude": [{"class": "circle", "count": 3}],
            },
            [_det("circle", 2, 0.95), _det("circle", 14, 0.85)],
            "shape below threshold",
        ),
        (
            {
                "tag": "counting",
                "include": [{"class": "circle", "count": 2}],
                "exclude": [{"class": "circle", "count": 3}],
            },
            [_det("circle", 2), _det("circle", 12), _det("circle", 22)],
            "extra object",
        ),
        (
            {"tag": "colors", "include": [{"class": "circle", "count": 1, "color": "blue"}]},
            [_det("circle", 4)],
            "wrong colour",
        ),
        (
            {
                "tag": "position",
                "include": [
                    {"class": "square", "count": 1},
                    {"class": "circle", "count": 1, "position": ["left of", 0]},
                ],
            },
            [_det("square", 2), _det("circle", 20)],
            "wrong position",
        ),
    ],
)
def test_geneval_failure_categories(meta, dets, category):
    """Each failure lands in the category of the first rule it breaks, from the suite's own reason strings."""
    from evaluators.geneval import score_geneval
    from harness.diagnose_failures import categorise, tally

    ok, reason = score_geneval(meta, dets)
    assert not ok and categorise(reason, meta, dets) == category
    t = tally([(meta, ok, reason, dets), (meta, True, "", dets)])[meta["tag"]]
    assert t["images"] == 2 and t["correct"] == 1 and t[category] == 1


def test_a_canvas_filling_blob_is_credited_only_out_of_world():
    """The exact detector calls a one-colour blob filling the canvas a shape (the suite credits it, as its rules say);
    the diagnosis counts that credit as out-of-world, and an in-world render of the same prompt is not counted."""
    import numpy as np

    from evaluators.shapes_geometry import BACKGROUND, PALETTE
    from harness.diagnose_failures import OUT_OF_WORLD, tally
    from harness.evaluate import score_shapes_image
    from harness.tasks import shapes as S

    blob = np.tile(np.asarray(BACKGROUND, np.uint8), (32, 32, 1))
    blob[3:29, 3:29] = PALETTE["green"]
    meta = next(p for p in S.prompt_set() if p["tag"] == "single_object")
    renders = [S.scene_for(meta, seed).image for seed in range(4)]
    rows = [(meta, *score_shapes_image(im, meta)) for im in renders]
    assert all(ok for _, ok, _, _ in rows)  # ground truth: credited, in world
    shape = score_shapes_image(blob, meta)[2][0]["class"]  # whichever shape the detector calls the blob
    blob_meta = dict(meta, include=[{"class": shape, "count": 1}])
    ok, _, dets = score_shapes_image(blob, blob_meta)
    assert ok and max(d["box"][2] - d["box"][0] for d in dets) > S.scene_sizes()[1] + 3
    t = tally(rows + [(blob_meta, ok, "", dets)])[meta["tag"]]
    assert t["correct"] == 5 and t[OUT_OF_WORLD] == 1
    from harness.diagnose_failures import overall

    assert overall({"single_object": t}) == {"overall": 1.0, "overall_in_world": 0.8}


@pytest.mark.skipif(not asset_path("teacher_shapes_t2i").exists(), reason="shipped networks not built yet")
def test_geneval_failures_tiny(tmp_path):
    """Through the console script: every image is either correct or in exactly one failure category."""
    from harness.diagnose_failures import CATEGORIES

    out = tmp_path / "f.json"
    code, stdout, err = run_console(
        ["diagnose", "geneval-failures", "--steps", "1", "--seeds", "0-11", "--out", out],
        cwd=tmp_path,
        env={"OMP_NUM_THREADS": "1"},
    )
    assert code == 0, err
    res = json.loads(out.read_text())
    assert res["seeds"] == [0, 11] and res["generator"]["sampler_preset"]
    tags = res["tags"]
    assert sum(t["images"] for t in tags.values()) == 12
    for t in tags.values():
        assert t["correct"] + sum(t[c] for c in CATEGORIES) == t["images"]
    assert "| all images (pooled) | 12 |" in stdout
    assert (
        res["overall_in_world"] <= res["overall"]
        and f"without out-of-world credit {res['overall_in_world']:.3f}" in stdout
    )
    code, _, err = run_console(["diagnose", "geneval-failures", "--seeds", "0-5000"], cwd=tmp_path)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and "beyond the prompt set" in lines[0], err


def _teacher_loss(tmp_path, task: str, n: int, ratios: str) -> tuple[dict, str]:
    """`harness diagnose teacher-loss` on the shipped teacher through the console script: (its row, stdout)."""
    out = tmp_path / "tl.json"
    code, stdout, err = run_console(
        ["diagnose", "teacher-loss", "--task", task, "--n", str(n), "--ratios", ratios, "--out", out],
        cwd=tmp_path,
        env={"OMP_NUM_THREADS": "1"},
    )
    assert code == 0, err
    return json.loads(out.read_text())["rows"][0], stdout


@pytest.mark.skipif(not asset_path("teacher_shapes").exists(), reason="shipped networks not built yet")
def test_teacher_loss_tiny(tmp_path):
    """Through the console script, on the shipped class teacher: CE per split and ratio, more masking is harder."""
    row, stdout = _teacher_loss(tmp_path, "shapes", 16, "0.2,0.9")
    assert row["run"] == "shipped" and len(row["sha256"]) == 64
    for split in ("train", "heldout"):
        assert 0 < row[split]["0.2"] < row[split]["0.9"] < math.log(256)  # below chance: the teacher has learnt
    assert row["gap"]["0.9"] == pytest.approx(row["heldout"]["0.9"] - row["train"]["0.9"])
    assert "| shipped | - |" in stdout
    assert "heldout_by_tag" not in row and "by tag" not in stdout  # the class task has no tags
    code, _, err = run_console(["diagnose", "teacher-loss", "--ratios", "0.5,x"], cwd=tmp_path)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and "--ratios" in lines[0], err


@pytest.mark.skipif(not asset_path("teacher_shapes_t2i").exists(), reason="shipped networks not built yet")
def test_teacher_loss_by_tag_on_the_text_task(tmp_path):
    """The text task's held-out loss is also split by GenEval tag; the overall figure lies within the tags' range."""
    from harness.tasks.shapes import TAGS

    row, stdout = _teacher_loss(tmp_path, "shapes-t2i", 36, "0.6")
    tags = row["heldout_by_tag"]["0.6"]
    assert set(tags) <= set(TAGS) and len(tags) >= 4, tags
    assert min(tags.values()) <= row["heldout"]["0.6"] <= max(tags.values())
    assert max(tags.values()) > min(tags.values())  # the tags differ: a real split, not one number copied
    assert "held-out CE by tag (@0.6)" in stdout and "color_attr" in stdout
