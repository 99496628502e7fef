"""SDTT baseline (methods/sdtt.py, harness/trainers/sdtt.py) on tiny random networks."""

from __future__ import annotations

import copy

import pytest
import torch

from methods.sdtt import SDTT, SDTTConfig, masked_fraction, sdtt_divergence

from helpers import perturbed, tiny  # noqa: E402

torch.set_num_threads(1)


def batch(n: int = 6, L: int = 16, K: int = 32):
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, K, (n, L), generator=g), torch.arange(n) % 24, list(range(100, 100 + n))


def test_round_boundary_copies_student_into_teacher_and_halves_steps():
    teacher = tiny().requires_grad_(False)
    student = perturbed(teacher, 3).requires_grad_(True)
    m = SDTT(student, teacher, SDTTConfig())
    assert m.teacher_steps == 16 and SDTTConfig().rounds == 4
    assert [SDTTConfig().teacher_steps(k) for k in range(4)] == [16, 8, 4, 2]
    assert not torch.equal(teacher.head.weight, student.head.weight)
    assert m.end_round() == 8 and m.teacher_steps == 8
    s_sd, t_sd = student.state_dict(), teacher.state_dict()
    assert all(torch.equal(s_sd[k], t_sd[k]) for k in s_sd)
    with torch.no_grad():  # a copy, not shared storage
        student.head.weight.add_(1.0)
    assert not torch.equal(teacher.head.weight, student.head.weight)
    assert [m.end_round() for _ in range(3)] == [4, 2, 1]


def test_divergence_is_zero_at_equality_and_matches_kl():
    torch.manual_seed(0)
    a, b = torch.randn(2, 5, 7).log_softmax(-1), torch.randn(2, 5, 7).log_softmax(-1)
    mask = torch.tensor([[1, 0, 1, 1, 0], [0, 0, 1, 0, 1]], dtype=torch.bool)
    for mode in ("kl-bwd", "kl-fwd"):
        assert sdtt_divergence(a, a, mask, mode) == 0
    bwd = (a.exp() * (a - b)).sum(-1)[mask].mean()
    fwd = (b.exp() * (b - a)).sum(-1)[mask].mean()
    assert torch.allclose(sdtt_divergence(a, b, mask, "kl-bwd"), bwd)
    assert torch.allclose(sdtt_divergence(a, b, mask, "kl-fwd"), fwd)
    assert not torch.allclose(bwd, fwd)


@pytest.mark.parametrize("divergence", ["kl-bwd", "kl-fwd"])
def test_loss_is_zero_when_student_equals_teacher(divergence):
    x0, cond, seeds = batch()
    teacher = tiny()
    # one distill step: the target IS the teacher at x_t, so student == teacher gives exactly zero
    m = SDTT(copy.deepcopy(teacher), teacher, SDTTConfig(num_distill_steps=1, divergence=divergence))
    assert m.loss(x0, cond, seeds)[0].item() == pytest.approx(0.0, abs=1e-6)
    # two steps with a teacher whose prediction ignores its input: targets equal the student's again
    const = tiny()
    with torch.no_grad():
        const.head.weight.zero_()
        const.head.bias.normal_()
    m2 = SDTT(copy.deepcopy(const), const, SDTTConfig(divergence=divergence))
    assert m2.loss(x0, cond, seeds)[0].item() == pytest.approx(0.0, abs=1e-6)
    # ... and a different student gives a positive loss
    m3 = SDTT(perturbed(teacher, 4), teacher, SDTTConfig(divergence=divergence))
    assert m3.loss(x0, cond, seeds)[0].item() > 1e-3


class Recording(SDTT):
    def _reveal(self, logp, pred, still, r, u):
        out = super()._reveal(logp, pred, still, r, u)
        self.seen = (pred.clone(), still.clone(), r.clone(), out.clone())
        return out


@pytest.mark.parametrize("rule", ["confidence", "ancestral"])
def test_targets_come_from_the_step_that_unmasked_each_token(rule):
    x0, cond, seeds = batch()
    teacher = tiny()
    m = Recording(perturbed(teacher, 5), teacher, SDTTConfig(teacher_step=rule, cond_drop=0.0))
    m.teacher_steps = 4
    from methods.rng import SeedStreams

    rng = SeedStreams(seeds)
    x_t, mask, r, c = m.corrupt(x0, cond, rng)
    target = m.teacher_targets(x_t, mask, r, c, rng)
    pred, still, r_seen, rev = m.seen
    assert torch.equal(still, mask) and torch.equal(r_seen, r)
    assert rev.any() and (mask & ~rev).any() and not (rev & ~mask).any()
    with torch.no_grad():
        lp0 = teacher(x_t, c).log_softmax(-1)
        lp1 = teacher(torch.where(rev, pred, x_t), c).log_softmax(-1)
    assert torch.allclose(target[rev], lp0[rev], atol=1e-5)
    assert torch.allclose(target[mask & ~rev], lp1[mask & ~rev], atol=1e-5)
    if rule == "confidence":  # exactly round(L·γ(r)) − round(L·γ(r + 1/K)) tokens revealed
        L = x0.shape[1]
        n = (mask.sum(1) - (L * masked_fraction((r + 0.25).clamp(max=1))).round().long()).clamp(min=0)
        assert torch.equal(rev.sum(1), n)
    assert torch.equal(mask.sum(1), (x0.shape[1] * masked_fraction(r)).round().long().clamp(1, x0.shape[1]))


def test_trainer_rounds_exports_and_resume(tmp_path, monkeypatch):
    import harness.trainers.sdtt as T
    from harness.io import load_weights
    from harness.networks.shapes_vq import ShapesVQ, VQConfig

    torch.manual_seed(0)
    tok = ShapesVQ(VQConfig(channels=16, codebook_size=32, code_dim=8)).eval()
    teacher = tiny(num_tokens=64).requires_grad_(False)
    monkeypatch.setattr(T, "build_networks", lambda cfg: (tok, copy.deepcopy(teacher)))
    monkeypatch.setenv("FPD_NO_PROGRESS", "1")
    kw = {"round_steps": 2, "batch": 4, "lr": 1e-3, "warmup": 1, "n_train": 24, "start_steps": 4}  # 4 -> 2 -> 1
    full = T.train(T.SDTTTrainConfig(steps=4, **kw), tmp_path / "full", sample_every=2)
    assert full["students"] == ["student_1step", "student_2step"]
    T.train(T.SDTTTrainConfig(steps=3, **kw), tmp_path / "split", sample_every=0)  # stop mid round 1
    T.train(T.SDTTTrainConfig(steps=4, **kw), tmp_path / "split", sample_every=0)  # resume with its teacher
    for name in ("student_2step", "student_1step"):
        a, meta = load_weights(tmp_path / "full" / name)
        b, _ = load_weights(tmp_path / "split" / name)
        assert all(torch.equal(a[k], b[k]) for k in a), name
        assert meta["config"]["method"] == "sdtt" and meta["costs"]["aux_score_net"] is False
    s2, m2 = load_weights(tmp_path / "full" / "student_2step")
    s1, m1 = load_weights(tmp_path / "full" / "student_1step")
    assert (m2["config"]["teacher_steps"], m1["config"]["teacher_steps"]) == (4, 2)
    assert not torch.equal(s2["head.weight"], teacher.head.weight) and not torch.equal(
        s1["head.weight"], s2["head.weight"]
    )
    from safetensors.torch import load_file

    ck = tmp_path / "full" / "checkpoints" / "step_0000004" / "teacher.safetensors"
    assert all(torch.equal(load_file(ck)[k], s1[k]) for k in s1)  # copied again at the last boundary
    mid = load_file(tmp_path / "split" / "checkpoints" / "step_0000003" / "teacher.safetensors")
    assert all(torch.equal(mid[k], s2[k]) for k in s2)  # round 1 distils the round-0 student
    assert (tmp_path / "full" / "samples" / "step_0000002_2step.png").exists()
    with pytest.raises(Exception, match="exceeds"):
        T.train(T.SDTTTrainConfig(steps=5, **kw), tmp_path / "bad")
