import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from harness.assets import asset_path
from methods.fpd import FPD, z_init
from methods.rng import SeedStreams

WORKER = Path(__file__).with_name("ddp_fpd_worker.py")


def test_z_init_masks_the_requested_fraction():
    z = z_init(SeedStreams(range(5)), 64, 256, 256, 0.95)
    assert ((z == 256).sum(1) == round(64 * 0.95)).all()
    assert ((z[z != 256] >= 0) & (z[z != 256] < 256)).all()


def test_start_entropy_knob_perturbs_only_when_set(tiny_nets):
    """emb_perturb (DiMO's σ on z_init) is 0 in the paper's FPD: that draws exactly the unperturbed student."""
    from methods.fpd import FPDConfig, OneStepStudent

    teacher, _ = tiny_nets
    with pytest.raises(ValueError, match="emb_perturb"):
        FPDConfig(emb_perturb=1.0)
    cond, seeds = torch.tensor([0, 1, 2]), [5, 6, 7]
    draw = lambda s: OneStepStudent(teacher, None, 0.95, 1.0, s).draft(cond, SeedStreams(seeds))[0]  # noqa: E731
    method = FPD(teacher, teacher, None, None, FPDConfig())
    assert method.generator.emb_perturb == 0.0 and torch.equal(
        draw(0.0), method.generator.draft(cond, SeedStreams(seeds))[0]
    )
    assert FPD(teacher, teacher, None, None, FPDConfig(emb_perturb=0.1)).generator.emb_perturb == 0.1
    assert not torch.equal(draw(0.0), draw(0.1))


def _state(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


@pytest.mark.skipif(not asset_path("teacher_shapes").exists(), reason="shipped shapes teacher not built yet")
@pytest.mark.parametrize("estimator,gan", [("ste", False), ("soft", True)])
def test_one_step_changes_student_only(estimator, gan):
    from harness.trainers.fpd import FPDTrainConfig, build_gan, build_shapes
    from harness.trainers.common import shapes_conditions

    cfg = FPDTrainConfig(estimator=estimator, gan=gan)
    tok, teacher, backbone = build_shapes(cfg)
    student = copy.deepcopy(teacher).train().requires_grad_(True)
    gan_obj = build_gan(cfg, backbone) if gan else None
    before = {
        "teacher": _state(teacher),
        "tok": _state(tok),
        "backbone": _state(backbone.net),
        "student": _state(student),
    }
    method = FPD(student, teacher, tok, backbone, cfg.fpd(), gan_obj)
    opt = torch.optim.AdamW(student.parameters(), lr=1e-3)
    seeds = list(range(16))
    loss, logs, _ = method.loss(shapes_conditions("shapes", seeds), seeds)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert torch.isfinite(loss) and logs["drift_norm"] > 0
    for name, net in (("teacher", teacher), ("tok", tok), ("backbone", backbone.net)):
        after = net.state_dict()
        assert all(torch.equal(before[name][k], after[k]) for k in after), name
    changed = [k for k, v in student.state_dict().items() if not torch.equal(v, before["student"][k])]
    assert len(changed) > 0


def test_two_processes_match_one(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    one, two = tmp_path / "one.safetensors", tmp_path / "two.safetensors"
    subprocess.run([sys.executable, str(WORKER), str(one)], check=True, env=env, timeout=300)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29517",
            str(WORKER),
            str(two),
        ],
        check=True,
        env=env,
        timeout=300,
        capture_output=True,
    )
    a, b = load_file(one), load_file(two)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)
    trained = [k for k in a if not k.startswith("init.")]
    assert any(not torch.equal(a[k], a[f"init.{k}"]) for k in trained)  # training moved the student


def test_condition_blocks():
    from methods.fpd import FPDConfig, condition_leaders

    assert condition_leaders(6, 3) == [0, 0, 0, 3, 3, 3] and condition_leaders(3, 1) == [0, 1, 2]
    with pytest.raises(ValueError, match="per_cond"):
        FPDConfig(drift_sets="condition")


def test_data_positives_are_renders_of_each_condition():
    """The drifting control: positives are fresh training renders whose class is the sample's condition,
    a different render for each sample of a condition block."""
    from evaluators.shapes_detector import detect_shapes
    from harness.tasks import shapes as S
    from harness.trainers.common import shapes_conditions, shapes_renders

    cond_seeds, seeds = [3, 3, 10, 10], [100, 101, 102, 103]
    imgs = shapes_renders("shapes", cond_seeds, seeds)
    assert imgs.shape == (4, 3, 32, 32) and imgs.min() >= -1 and imgs.max() <= 1
    labels = shapes_conditions("shapes", cond_seeds).tolist()
    u8 = ((imgs + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    for img, lab in zip(u8, labels):
        det = detect_shapes(img)[0]
        assert S.class_label(det["class"], det["color"]) == lab
    assert not torch.equal(imgs[0], imgs[1])
    with pytest.raises(ValueError, match="positives"):
        from methods.fpd import FPDConfig

        FPDConfig(positives="teachers")


@pytest.mark.skipif(not asset_path("teacher_shapes").exists(), reason="shipped shapes teacher not built yet")
def test_data_positives_skip_the_teacher_step():
    """The control's positives are renders: the teacher is never called, and the loss still trains the student."""
    from harness.trainers.common import shapes_conditions, shapes_renders
    from harness.trainers.fpd import FPDTrainConfig, build_shapes

    cfg = FPDTrainConfig(positives="data")
    tok, teacher, backbone = build_shapes(cfg)
    student = copy.deepcopy(teacher).train().requires_grad_(True)

    def refuse(*a, **k):
        raise AssertionError("teacher called by the data control")

    teacher.forward = refuse
    seeds = list(range(8))
    loss, logs, _ = FPD(student, teacher, tok, backbone, cfg.fpd()).loss(
        shapes_conditions("shapes", seeds), seeds, data=shapes_renders("shapes", seeds, [s + 50 for s in seeds])
    )
    loss.backward()
    assert torch.isfinite(loss) and "target_changed" not in logs
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())


@pytest.mark.skipif(not asset_path("teacher_shapes").exists(), reason="shipped shapes teacher not built yet")
def test_token_control_is_the_cross_entropy_to_the_target_and_skips_the_features():
    """objective='tokens' (a control): CE of the student's logits to its own target's tokens; Φ never runs."""
    from harness.trainers.common import shapes_conditions
    from harness.trainers.fpd import FPDTrainConfig, build_shapes

    cfg = FPDTrainConfig(objective="tokens")
    tok, teacher, backbone = build_shapes(cfg)
    student = copy.deepcopy(teacher).train().requires_grad_(True)
    method = FPD(student, teacher, tok, backbone, cfg.fpd())
    method.lift = lambda *a: (_ for _ in ()).throw(AssertionError("features computed by the token control"))
    seeds = list(range(8))
    loss, logs, _ = method.loss(shapes_conditions("shapes", seeds), seeds)
    loss.backward()
    assert 0 < loss.item() < 10 and 0 < logs["target_changed"] < 1
    with pytest.raises(ValueError, match="positives='target'"):
        from methods.fpd import FPDConfig

        FPDConfig(objective="paired", positives="data")
