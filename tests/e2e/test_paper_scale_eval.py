"""`harness eval --suite imagenet256` end to end on fixture files: a random-weight torch-fidelity Inception
and a tiny reference batch in ADM's npz layout (arr_0, mu, sigma). Most of its time is the 2048-d sqrtm of FID."""

import json
import math

from helpers import run_console


def test_teacher_eval_on_imagenet256_writes_results(paper_env):
    env, root = paper_env
    out = root / "eval-imagenet256"
    extra = {"FPD_LEADERBOARD_DIR": str(root / "leaderboards"), "FPD_REFSTATS_CACHE": str(root / "refstats")}
    code, stdout, err = run_console(
        [
            "eval",
            "--method",
            "teacher",
            "--suite",
            "imagenet256",
            "--steps",
            "2",
            "--seeds",
            "0-3",
            "--batch",
            "4",
            "--out",
            out,
            "--no-append",
        ],
        cwd=root,
        env={**env("imagenet"), **extra},
        timeout=240,
    )
    assert code == 0, f"harness eval exited {code}:\n{stdout[-2000:]}\n{err[-3000:]}"
    res = json.loads((out / "results.json").read_text())
    assert res["suite"] == "imagenet256" and res["n"] == 4
    assert set(res["metrics"]) >= {"fid", "is", "precision", "recall"}
    assert all(math.isfinite(v) for v in res["metrics"].values())
    assert not (root / "leaderboards").exists() or not any((root / "leaderboards").rglob("*.jsonl"))
