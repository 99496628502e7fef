"""DiMO-style baseline (methods/dimo.py, harness/trainers/dimo.py) on tiny random networks."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch

from methods.dimo import EMA, DiMO, DiMOConfig, dimo_gradient, freeze_embeddings, one_step_draft
from methods.fpd import OneStepStudent
from methods.masking import remask
from methods.rng import SeedStreams

from helpers import perturbed, tiny  # noqa: E402

torch.set_num_threads(1)


def setup(cfg: DiMOConfig | None = None):
    cfg = cfg or DiMOConfig()
    teacher = tiny().requires_grad_(False)
    gen = perturbed(teacher, 1).requires_grad_(True)
    aux = perturbed(teacher, 2).requires_grad_(True)
    freeze_embeddings(gen, cfg.frozen)
    freeze_embeddings(aux, cfg.frozen)
    return teacher, gen, aux, DiMO(gen, aux, teacher, None, cfg)


def test_generator_logit_gradient_is_p_aux_minus_p_teacher_over_B_on_remasked_positions():
    teacher, gen, aux, method = setup()
    seeds, cond = [3, 14, 15, 92, 65], torch.tensor([0, 5, 7, 23, 11])
    B = len(seeds)
    loss, _, logits = method.generator_loss(cond, seeds)
    logits.retain_grad()
    loss.backward()
    # independent recomputation with the same per-sample draws: sampler draft, then the arccos re-mask
    rng = SeedStreams(seeds)
    with torch.no_grad():
        z_ref, x = OneStepStudent(gen, None, 0.6, 1.0, 0.1).draft(cond, rng)
        ratio = torch.arccos(rng.rand(1)[:, 0].double()) / (math.pi / 2)
        x_t, mask = remask(x, ratio, teacher.mask_id, rng.rand(teacher.num_tokens))
        lc, lu = teacher(x_t, cond), teacher(x_t, teacher.null_cond(cond))
        p_t = (lu + 2.0 * (lc - lu)).softmax(-1)  # DiMO true_cfg 2: ℓ_u + s(ℓ_c − ℓ_u)
        p_f = aux(x_t, cond).softmax(-1)  # aux: conditional only
    assert torch.allclose(logits.detach(), z_ref, atol=1e-5)
    assert 0 < mask.sum() < mask.numel()
    expected = torch.where(mask[..., None], (p_f - p_t) / B, 0.0)
    assert torch.allclose(logits.grad, expected, atol=1e-7, rtol=1e-4)
    assert (logits.grad[~mask] == 0).all()
    assert expected[mask].abs().max() > 1e-4  # a non-trivial gradient was checked
    # the generator loss reaches the generator only
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in gen.parameters())
    assert all(p.grad is None for p in aux.parameters()) and all(p.grad is None for p in teacher.parameters())


def test_jeffreys_endpoints_are_forward_and_reverse_kl_logit_gradients():
    torch.manual_seed(0)
    l_t, l_f = torch.randn(3, 5, 7), torch.randn(3, 5, 7, requires_grad=True)
    lp_t = l_t.log_softmax(-1)
    fkl = (lp_t.exp() * (lp_t - l_f.log_softmax(-1))).sum()  # KL(p_T‖p_F)
    rkl = (l_f.softmax(-1) * (l_f.log_softmax(-1) - lp_t)).sum()  # KL(p_F‖p_T)
    (g_fkl,) = torch.autograd.grad(fkl, l_f)
    (g_rkl,) = torch.autograd.grad(rkl, l_f)
    assert torch.allclose(dimo_gradient(l_t, l_f.detach(), beta=0.0), g_fkl, atol=1e-6)
    assert torch.allclose(dimo_gradient(l_t, l_f.detach(), beta=1.0), g_rkl, atol=1e-6)
    mid = dimo_gradient(l_t, l_f.detach(), beta=0.3)
    assert torch.allclose(mid, 0.7 * g_fkl + 0.3 * g_rkl, atol=1e-6)


def test_aux_step_updates_only_the_aux_model():
    teacher, gen, aux, method = setup()
    before = {
        n: {k: v.clone() for k, v in m.state_dict().items()}
        for n, m in (("teacher", teacher), ("gen", gen), ("aux", aux))
    }
    opt = torch.optim.Adam([p for p in aux.parameters() if p.requires_grad], lr=1e-2)
    loss, logs = method.aux_loss(torch.tensor([1, 2, 3]), [7, 8, 9])
    assert loss.requires_grad and logs["loss_fake"] > 0
    loss.backward()
    opt.step()
    assert all(p.grad is None for p in gen.parameters()) and all(p.grad is None for p in teacher.parameters())
    for name, m in (("teacher", teacher), ("gen", gen)):
        assert all(torch.equal(v, before[name][k]) for k, v in m.state_dict().items()), name
    changed = {k for k, v in aux.state_dict().items() if not torch.equal(v, before["aux"][k])}
    assert (
        "blocks.layers.0.linear1.weight" in changed and "head.weight" not in changed
    )  # readout frozen (fix_emb_layer)
    assert not changed & {
        "tok_emb.weight",
        "pos_emb",
        "cond_emb.weight",
        "cond_pos",
        "head.weight",
        "head.bias",
    }  # frozen embeddings


def test_freeze_embeddings_and_ema_warmup():
    m = tiny()
    frozen = freeze_embeddings(m, DiMOConfig().frozen)
    assert set(frozen) == {
        "tok_emb.weight",
        "pos_emb",
        "cond_emb.weight",
        "cond_pos",
        "head.weight",
        "head.bias",
    }  # readout too
    assert not m.head.weight.requires_grad and m.norm.weight.requires_grad
    ema = EMA(m, 0.9999)
    target = perturbed(m, 5)
    e0 = ema.model.norm.weight.clone()
    assert ema.update(target, 0) == pytest.approx(0.1)  # min(0.9999, (1+0)/(10+0))
    assert torch.allclose(ema.model.norm.weight, 0.1 * e0 + 0.9 * target.norm.weight)
    assert EMA(m, 0.9999).update(target, 10**6) == pytest.approx(0.9999)


def test_training_draft_matches_the_sampler():
    """The generator sees the same z_init (and embedding noise) in training as OneStepStudent at inference."""
    g = tiny()
    cond, seeds = torch.tensor([0, 1, 2]), [5, 6, 7]
    a = one_step_draft(g, cond, SeedStreams(seeds), 0.6, 1.0, 0.1)
    b = OneStepStudent(g, None, 0.6, 1.0, 0.1).draft(cond, SeedStreams(seeds))
    assert torch.equal(a[1], b[1]) and torch.allclose(a[0], b[0])


def test_trainer_runs_resumes_exactly_and_exports(tmp_path, monkeypatch):
    T, teacher = _tiny_trainer(monkeypatch)
    cfg = T.DiMOTrainConfig(steps=3, batch=4, lr=1e-3, fake_lr=1e-3, warmup=2)
    full = T.train(cfg, tmp_path / "full", sample_every=3)
    T.train(T.DiMOTrainConfig(steps=2, batch=4, lr=1e-3, fake_lr=1e-3, warmup=2), tmp_path / "split", sample_every=0)
    T.train(cfg, tmp_path / "split", sample_every=0)  # resume 2 -> 3
    from harness.io import load_weights

    a, meta = load_weights(tmp_path / "full" / "student")
    b, _ = load_weights(tmp_path / "split" / "student")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["norm.weight"], teacher.norm.weight) and torch.equal(a["head.weight"], teacher.head.weight)
    assert meta["config"]["method"] == "dimo"
    assert meta["config"]["train"]["r_init"] == 0.6 and meta["config"]["train"]["emb_perturb"] == 0.1
    assert meta["costs"]["aux_score_net"] is True and meta["costs"]["trainable_params"] > 0
    assert (tmp_path / "full" / "samples" / "step_0000003_ema.png").exists()
    assert (tmp_path / "full" / "student_raw.safetensors").exists()
    assert full["costs"]["sec_per_step"] is not None
    log = [json.loads(l) for l in (tmp_path / "full" / "log.jsonl").read_text().splitlines()]
    assert {"loss_dm", "loss_fake", "grad_norm_g"} <= set(log[-1])


def _tiny_trainer(monkeypatch):
    """harness.trainers.dimo with a tiny random teacher and tokenizer in place of the shipped networks."""
    import harness.trainers.dimo as T
    from harness.networks.shapes_vq import ShapesVQ, VQConfig

    torch.manual_seed(0)
    tok = ShapesVQ(VQConfig(channels=16, codebook_size=32, code_dim=8)).eval()
    teacher = tiny(num_tokens=64).requires_grad_(False)
    monkeypatch.setattr(T, "build_networks", lambda cfg: (tok, copy.deepcopy(teacher)))
    monkeypatch.setenv("FPD_NO_PROGRESS", "1")
    return T, teacher


def test_one_rate_for_both_networks_by_default(tmp_path, monkeypatch):
    """The official code trains generator and auxiliary model at one rate (1e-5 / 1e-5): fake_lr 0 follows lr."""
    T, _ = _tiny_trainer(monkeypatch)
    assert T.DiMOTrainConfig().fake_lr == 0.0
    for name, fake in (("same", 0.0), ("own", 2e-4)):
        T.train(T.DiMOTrainConfig(steps=2, batch=4, lr=5e-4, fake_lr=fake, warmup=1), tmp_path / name, sample_every=0)
        state = torch.load(
            next((tmp_path / name / "checkpoints").glob("step_*")) / "train_state.pt", weights_only=False
        )
        lrs = {k: o["param_groups"][0]["lr"] for k, o in state["optimizers"].items()}
        assert lrs == {"opt_g": 5e-4, "opt_f": fake or 5e-4}
    assert sorted(p.name for p in (tmp_path / "same" / "curve").iterdir()) == ["step_0000000", "step_0000002"]


def test_random_ratio_per_step(tmp_path, monkeypatch):
    """r_init_max (the official random_a_b): another update than the fixed ratio, the same one when re-run."""
    from harness.errors import HarnessError
    from harness.io import load_weights

    T, _ = _tiny_trainer(monkeypatch)
    with pytest.raises(HarnessError, match="r_init_max"):
        T.train(T.DiMOTrainConfig(steps=1, batch=4, r_init_max=0.5), tmp_path / "bad", sample_every=0)
    w = {}
    for name, hi in (("fixed", 0.0), ("random", 0.95), ("again", 0.95)):
        T.train(T.DiMOTrainConfig(steps=2, batch=4, lr=1e-3, warmup=1, r_init_max=hi), tmp_path / name, sample_every=0)
        w[name] = load_weights(tmp_path / name / "student_raw")[0]
    assert all(torch.equal(w["random"][k], w["again"][k]) for k in w["random"])
    assert not all(torch.equal(w["random"][k], w["fixed"][k]) for k in w["random"])
