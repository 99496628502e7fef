"""`harness diagnose fixed-point` through the console script on a tiny case: the table, the JSON, the data rows
beside the operator rows, and one-line errors for bad input."""
import json

import pytest

from harness.assets import asset_path
from helpers import run_console


@pytest.mark.skipif(not asset_path("teacher_shapes").exists(), reason="shipped networks not built yet")
def test_fixed_point_tiny(tmp_path):
    out = tmp_path / "fp.json"
    code, stdout, err = run_console(["diagnose", "fixed-point", "--task", "shapes", "--n", "12", "--k", "1,2",
                                     "--variant", "fill:teacher_w=0", "--variant", "target=reveal", "--out", out],
                                    cwd=tmp_path, env={"OMP_NUM_THREADS": "1"})
    assert code == 0, err
    res = json.loads(out.read_text())
    rows = [(r["variant"], r["k"]) for r in res["rows"]]
    assert rows[:2] == [("data (held-out renders)", 0), ("data, tokenised (decode(encode(x)))", 0)]
    assert rows[2:] == [("fill", 1), ("fill", 2), ("target=reveal", 1), ("target=reveal", 2)]
    assert res["rows"][2]["options"] == {"teacher_w": 0.0}
    for r in res["rows"]:
        assert {"fid", "mean_area", "centre_spread"} <= set(r)
    assert "| fill | 2 |" in stdout


@pytest.mark.parametrize("args,needle", [
    (["--task", "shapes-t2i"], "class task"),
    (["--k", "one"], "--k"),
    (["--variant", "x:lrr=1"], "unknown config key"),
])
def test_fixed_point_bad_input(tmp_path, args, needle):
    code, _, err = run_console(["diagnose", "fixed-point", "--n", "4", *args], cwd=tmp_path)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and needle in lines[0], err


@pytest.mark.skipif(not asset_path("shapes_vq").exists(), reason="shipped tokenizer not built yet")
def test_ceiling_tiny(tmp_path):
    """Ground truth scores 1 under the suite's own rules; its tokeniser reconstructions are the ceiling."""
    out = tmp_path / "c.json"
    code, stdout, err = run_console(["diagnose", "ceiling", "--task", "shapes-t2i", "--prompts", "18",
                                     "--images-per-prompt", "1", "--out", out], cwd=tmp_path, env={"OMP_NUM_THREADS": "1"})
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
