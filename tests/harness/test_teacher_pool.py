"""positives=teacher|mix (the data-free extension): a cached pool of 16-step teacher samples per class, made
once and reused by the next run, refused in one line when another teacher made it; rows labelled apart."""

import json

import pytest
import torch

from harness.assets import asset_path
from helpers import run_console
from methods.fpd import FPDConfig, mixed_positions

pytestmark = pytest.mark.skipif(not asset_path("teacher_shapes").exists(), reason="shipped networks not built yet")


def test_mix_shares_and_positions():
    assert FPDConfig().target_share() == 1.0 and FPDConfig(positives="teacher").target_share() == 0.0
    assert FPDConfig(positives="mix:0.25").target_share() == 0.25
    for bad in ("mix:2", "mix:x", "teachers"):
        with pytest.raises(ValueError, match="mix:α"):
            FPDConfig(positives=bad)
    assert mixed_positions(8, 4, 0.5).tolist() == [True, True, False, False] * 2
    assert mixed_positions(4, 4, 0.25, slice(4, 8)).tolist() == [True, False, False, False]  # rank 1 of two


def test_teacher_positives_train_reuse_the_pool_and_refuse_another_teacher(tmp_path):
    pool = tmp_path / "pool"
    args = [
        "train",
        "fpd",
        "--task",
        "shapes",
        "--steps",
        "3",
        "--set",
        "batch=8",
        "--set",
        "stats_every=0",
        "--set",
        "positives=teacher",
        "--set",
        "pool_per_cond=1",
        "--set",
        f"pool_dir={pool}",
    ]
    env = {"OMP_NUM_THREADS": "1"}
    code, out, err = run_console([*args, "--out", tmp_path / "a"], cwd=tmp_path, env=env)
    assert code == 0, err
    cost = json.loads((pool / "cost.json").read_text())
    assert cost["samples"] == 24 and cost["generation_s"] > 0
    shards = sorted(p.stat().st_mtime_ns for p in (pool / "shards_pool").iterdir())
    meta = json.loads((tmp_path / "a" / "student.json").read_text())
    assert meta["costs"]["teacher_pool"]["generation_s"] == cost["generation_s"]
    assert meta["costs"]["extension"] == "positives=teacher"
    from harness.evaluate import _class_correct
    from harness.teacher_pool import build_pool

    read = build_pool("shapes", 1, folder=pool)  # read back, not re-made: images[c] are samples of class c
    u8 = ((read.images[:, 0] + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    assert sum(_class_correct(im, c) for c, im in enumerate(u8)) >= 18  # the 16-step teacher: ~0.9 correct

    code, _, err = run_console([*args, "--set", "seed=1", "--out", tmp_path / "b"], cwd=tmp_path, env=env)
    assert code == 0, err  # another run and seed: the same pool, not re-made
    assert sorted(p.stat().st_mtime_ns for p in (pool / "shards_pool").iterdir()) == shards
    assert json.loads((pool / "cost.json").read_text()) == cost

    fp = json.loads((pool / "fingerprint.json").read_text())
    fp["id"], fp["generator"]["networks"]["teacher"] = "0" * 12, "0" * 64  # as if another teacher had made it
    (pool / "fingerprint.json").write_text(json.dumps(fp))
    code, _, err = run_console([*args, "--out", tmp_path / "c"], cwd=tmp_path, env=env)
    assert code == 2 and "not of teacher" in err and "pool_dir=" in err and len(err.strip().splitlines()) == 1

    code, out, err = run_console(
        [
            "eval",
            "--method",
            "fpd",
            "--suite",
            "shapes-fid",
            "--checkpoint",
            tmp_path / "a",
            "--seeds",
            "1000000-1000015",
            "--batch",
            "16",
            "--no-append",
            "--out",
            tmp_path / "ev",
        ],
        cwd=tmp_path,
        env=env,
    )
    assert code == 0, err
    assert json.loads((tmp_path / "ev" / "results.json").read_text())["variant"] == "extension:positives=teacher"


def test_mix_keeps_targets_for_the_first_share_of_each_set(tiny_nets, monkeypatch):
    """mix:0.5 with sets of 4: positions 0-1 of each set are lifted from FPD's targets, 2-3 from the given images."""
    import methods.fpd as M

    teacher, tok = tiny_nets
    seen = {}
    monkeypatch.setattr(M, "drift_loss", lambda x, y, *a, **k: (seen.setdefault("y", y), (x["f"].sum() * 0, {}))[1])
    method = M.FPD(teacher, teacher, tok, None, FPDConfig(positives="mix:0.5", drift_sets="condition", per_cond=4))
    method.lift = lambda images: {"f": images.flatten(1)}
    cond, data = torch.tensor([0] * 4 + [1] * 4), torch.full((8, 3, 32, 32), 0.123)
    method.loss(cond, list(range(8)), data=data)
    own = (seen["y"]["f"] == 0.123).all(1).tolist()
    assert own == [False, False, True, True] * 2


def test_text_pool_trains_on_its_captions_in_blocks(tmp_path):
    """shapes-t2i: a pool of a few captions, blocks of one caption per drift set, a student exported."""
    args = [
        "train",
        "fpd",
        "--task",
        "shapes-t2i",
        "--steps",
        "2",
        "--set",
        "batch=4",
        "--set",
        "stats_every=0",
        "--set",
        "positives=teacher",
        "--set",
        "drift_sets=condition",
        "--set",
        "per_cond=2",
        "--set",
        "pool_per_cond=2",
        "--set",
        "pool_captions=3",
        "--set",
        f"pool_dir={tmp_path / 'pool'}",
        "--out",
        tmp_path / "t",
    ]
    code, _, err = run_console(args, cwd=tmp_path, env={"OMP_NUM_THREADS": "1"})
    assert code == 0, err
    meta = json.loads((tmp_path / "t" / "student.json").read_text())["costs"]["teacher_pool"]
    assert meta["conditions"] == 3 and meta["per_cond"] == 2 and meta["samples"] == 6
