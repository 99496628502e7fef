"""Evaluation results belong to the generator that made them (issue: resumed shards were reused
across checkpoints and methods). Everything runs through the installed console script."""

import json
from pathlib import Path

import pytest

from harness.io import save_weights
from harness.trainers.teacher import load_shipped
from helpers import run_console

SEEDS = ["--seeds", "0-7", "--batch", "4"]


def fake_student(path: Path, method: str = "fpd", perturb: float = 0.0) -> Path:
    """A one-step student checkpoint in the trainer's format: the teacher's weights (a student at step 0),
    optionally perturbed so that two students differ."""
    import torch

    m = load_shipped("shapes")
    if perturb:
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for p in m.parameters():
                p.add_(perturb * torch.randn(p.shape, generator=g))
    save_weights(path, m.state_dict(), {"method": method, "train": {"r_init": 0.95, "student_temp": 1.0}})
    return path


def results(out: str) -> dict:
    return json.loads(Path(out, "results.json").read_text())


def test_other_generator_in_same_folder_refuses(tmp_path):
    ck = fake_student(tmp_path / "student")
    out = tmp_path / "X"
    code, stdout, err = run_console(
        ["eval", "--method", "fpd", "--suite", "shapes-fid", "--checkpoint", ck, "--out", out, "--no-append", *SEEDS],
        cwd=tmp_path,
    )
    assert code == 0, err
    first = results(out)
    assert first["fingerprint"]["generator"]["checkpoint_sha256"]
    code, _, err = run_console(
        ["eval", "--method", "teacher", "--steps", "1", "--suite", "shapes-fid", "--out", out, "--no-append", *SEEDS],
        cwd=tmp_path,
    )
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert first["fingerprint"]["id"] in lines[0] and "teacher 1 step" in lines[0], lines[0]
    assert results(out)["fingerprint"]["id"] == first["fingerprint"]["id"]  # nothing overwritten


def test_default_folders_keep_generators_apart(tmp_path):
    a = fake_student(tmp_path / "a")
    b = fake_student(tmp_path / "b", perturb=0.05)
    outs = []
    for ck in (a, b):
        code, stdout, err = run_console(
            ["eval", "--method", "fpd", "--suite", "shapes-fid", "--checkpoint", ck, "--no-append", *SEEDS],
            cwd=tmp_path,
        )
        assert code == 0, err
        outs.append(sorted((tmp_path / "runs/eval/shapes-fid").glob("fpd-1step-*")))
    assert len(outs[-1]) == 2, outs  # one folder per student
    ra, rb = (results(o) for o in outs[-1])
    assert ra["sampling"]["generated"] == 8 and rb["sampling"]["generated"] == 8
    assert ra["fingerprint"]["id"] != rb["fingerprint"]["id"]
    assert ra["metrics"]["fid"] != rb["metrics"]["fid"]


def test_resume_skips_own_finished_seeds_and_row_records_fingerprint(tmp_path):
    out = tmp_path / "T"
    args = ["eval", "--method", "teacher", "--steps", "1", "--suite", "shapes-fid", "--out", out, *SEEDS]
    env = {"FPD_LEADERBOARD_DIR": str(tmp_path / "lb")}
    (tmp_path / "lb" / "data").mkdir(parents=True)
    assert run_console(args + ["--no-append"], cwd=tmp_path, env=env)[0] == 0
    shards = sorted((out / "shards_0-7").glob("shard_*.npz"))
    assert len(shards) == 2
    shards[-1].unlink()  # as if killed after the first shard
    code, _, err = run_console(args, cwd=tmp_path, env=env)
    assert code == 0, err
    r = results(out)
    assert r["sampling"] == {"generated": 4, "skipped": 4}
    row = json.loads((tmp_path / "lb" / "data" / "shapes-fid.jsonl").read_text().splitlines()[-1])
    assert row["eval"]["fingerprint"] == r["fingerprint"]["id"]
    assert row["eval"]["generator"]["networks"]["teacher"]
    code, stdout, _ = run_console(["leaderboard", "show", "shapes-fid", "--provenance"], cwd=tmp_path, env=env)
    assert code == 0 and f"fingerprint={r['fingerprint']['id']}" in stdout, stdout


def test_folder_of_unknown_origin_refuses(tmp_path):
    out = tmp_path / "old"
    (out / "shards_0-7").mkdir(parents=True)
    (out / "shards_0-7" / "shard_000000000.npz").write_bytes(b"")
    code, _, err = run_console(
        ["eval", "--method", "teacher", "--steps", "1", "--suite", "shapes-fid", "--out", out, "--no-append", *SEEDS],
        cwd=tmp_path,
    )
    assert code == 2 and "unknown generator" in err and "Traceback" not in err, err


@pytest.mark.parametrize(
    "args",
    [
        ["eval", "--method", "teacher", "--suite", "shapes-fid", "--stepz", "4"],
        ["train"],
        ["sample", "--steps", "four"],
        ["evl"],
        ["eval", "--method", "teacher"],
        ["leaderboard", "shw"],
        ["table", "--format"],
    ],
)
def test_usage_errors_through_console_script(args):
    code, out, err = run_console(args)
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2, (code, err)
    assert 1 <= len(lines) <= 3 and "Traceback" not in err, err
    assert lines[-1].startswith("Error:"), err
