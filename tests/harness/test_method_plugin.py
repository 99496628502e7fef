"""A new one-step distiller is one file and one registration line: a trivial method written outside the package
(its algorithm beside its `register_method` line, loaded through $FPD_HARNESS_PLUGINS) trains, exports curve
points and scores through the console script like FPD, with no edit anywhere in the harness."""

import json
import textwrap

import pytest

from harness.assets import asset_path
from helpers import run_cli, run_console

pytestmark = pytest.mark.skipif(not asset_path("teacher_shapes").exists(), reason="shipped networks not built yet")

TOY = '''
"""A trivial one-step distiller: the student's logits at z_init pulled toward the frozen teacher's (KL)."""
from dataclasses import dataclass

import torch

from methods.fpd import z_init
from methods.rng import SeedStreams


@dataclass(frozen=True)
class Config:
    kl_weight: float = 1.0


class Distiller:
    def __init__(self, student, teacher, tokenizer, cfg):
        self.student, self.teacher, self.cfg = student, teacher, cfg

    def loss(self, cond, seeds):
        t = self.teacher
        z = z_init(SeedStreams(seeds, cond.device), t.num_tokens, t.codebook_size, t.mask_id, self.cfg.r_init)
        with torch.no_grad():
            target = t(z, cond).float().log_softmax(-1)
        s = self.student(z, cond).float().log_softmax(-1)
        kl = (target.exp() * (target - s)).sum(-1).mean()
        return self.cfg.kl_weight * kl, {"kl": float(kl)}


from harness.registry import Method, register_method  # noqa: E402
register_method(Method("toy-kl", "Toy KL", distiller="toy_kl"))
'''


def test_a_plugin_method_trains_and_scores_through_the_console_script(tmp_path):
    (tmp_path / "toy_kl.py").write_text(textwrap.dedent(TOY))
    env = {
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(tmp_path),
        "FPD_HARNESS_PLUGINS": "toy_kl",
        "FPD_RUNS_DIR": str(tmp_path / "runs"),
    }
    code, out, err = run_console(
        [
            "train",
            "toy-kl",
            "--task",
            "shapes",
            "--steps",
            "2",
            "--set",
            "batch=4",
            "--set",
            "kl_weight=0.5",
            "--set",
            "lr=1e-3",
        ],
        cwd=tmp_path,
        env=env,
    )
    assert code == 0, err
    run = tmp_path / "runs" / "toy-kl-shapes"
    assert json.loads(out)["run_dir"] == str(run)
    meta = json.loads((run / "student.json").read_text())
    assert meta["config"]["method"] == "toy-kl" and meta["config"]["train"]["kl_weight"] == 0.5
    assert sorted(p.name for p in (run / "curve").iterdir()) == ["step_0000000", "step_0000002"]

    code, out, err = run_console(
        [
            "eval",
            "--method",
            "toy-kl",
            "--suite",
            "shapes-fid",
            "--seeds",
            "1000000-1000015",
            "--batch",
            "16",
            "--no-append",
            "--out",
            tmp_path / "eval",
        ],
        cwd=tmp_path,
        env=env,
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["method"] == "toy-kl" and res["n"] == 16 and res["metrics"]["fid"] > 0


def test_a_missing_plugin_is_one_line(monkeypatch, capsys):
    monkeypatch.setenv("FPD_HARNESS_PLUGINS", "not_there")
    code, _, err = run_cli(["train", "fpd", "--steps", "1"], capsys)
    assert code == 2 and "FPD_HARNESS_PLUGINS" in err and len(err.strip().splitlines()) == 1
