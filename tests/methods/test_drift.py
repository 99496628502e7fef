"""The drift field against a plain float64 re-implementation of the formula (docs/references/drift.md §1)."""

import numpy as np
import pytest
import torch

from methods.drift import drift_field, drift_loss


def reference_drift(x, pos, bandwidths, neg=None):
    """Straightforward float64 loops over groups: self-pairs excluded from both softmaxes entirely."""
    x, pos = x.double().numpy(), pos.double().numpy()
    G, N, C = x.shape
    out = np.zeros_like(x)
    negs = x if neg is None else neg.double().numpy()
    all_d = []
    for g in range(G):
        tgt = np.concatenate([negs[g], pos[g]])
        all_d.append(np.linalg.norm(x[g][:, None] - tgt[None], axis=-1))
    scale = np.mean(all_d)
    s = scale / np.sqrt(C)
    for h in bandwidths:
        vh = np.zeros_like(x)
        for g in range(G):
            tgt = np.concatenate([negs[g], pos[g]]) / s
            d = all_d[g] / scale
            k = np.exp(-d / h)
            if neg is None:
                k[np.arange(N), np.arange(N)] = 0.0  # no self weight at all
            a = np.sqrt((k / k.sum(1, keepdims=True)) * (k / k.sum(0, keepdims=True)))
            m = negs.shape[1]
            an, ap = a[:, :m], a[:, m:]
            wp, wn = ap * an.sum(1, keepdims=True), an * ap.sum(1, keepdims=True)
            xs = x[g] / s
            for i in range(N):
                vh[g, i] = (wp[i][:, None] * (tgt[m:] - xs[i])).sum(0) - (wn[i][:, None] * (tgt[:m] - xs[i])).sum(0)
        out += vh / np.sqrt((vh**2).mean())
    return out, s


def test_matches_float64_reference():
    torch.manual_seed(0)
    x, y = torch.randn(3, 12, 5), torch.randn(3, 12, 5) + 0.3
    for bw in [(0.2,), (0.05, 0.2), (0.5, 1.0)]:
        v, s, _ = drift_field(x, y, bw, floor=0.0)
        ref, s_ref = reference_drift(x, y, bw)
        assert abs(float(s) - s_ref) < 1e-5 * s_ref
        np.testing.assert_allclose(v.numpy(), ref, rtol=2e-3, atol=2e-4)


def test_zero_when_positives_and_negatives_are_the_same_set():
    torch.manual_seed(1)
    x, y = torch.randn(2, 10, 4), torch.randn(2, 10, 4)
    bw = (0.02, 0.05, 0.2)
    v, _, logs = drift_field(x, y, bw, neg=y)
    v2, _, logs2 = drift_field(x, y, bw)
    for h in bw:  # the raw per-bandwidth drift RMS (before normalisation) vanishes
        assert logs[f"drift_rms_h{h:g}"] < 1e-5 * logs2[f"drift_rms_h{h:g}"]
    assert v.abs().max() < 1e-2 and v2.abs().max() > 0.5


def test_self_pairs_get_no_weight():
    # Moving sample 0 changes only how others see it; its own self-distance never enters its drift.
    torch.manual_seed(2)
    x, y = torch.randn(1, 8, 6), torch.randn(1, 8, 6)
    v, _, _ = drift_field(x, y, (0.05,), floor=0.0)
    ref, _ = reference_drift(x, y, (0.05,))
    np.testing.assert_allclose(v.numpy(), ref, rtol=2e-3, atol=2e-4)
    # and without masking, the self term would dominate at small bandwidth and collapse the field
    x_unmasked, _, _ = drift_field(x, y, (0.05,), neg=x.clone(), floor=0.0)
    assert not torch.allclose(x_unmasked, v, atol=1e-3)


def test_invariant_to_feature_scale():
    torch.manual_seed(3)
    x, y = torch.randn(4, 16, 8), torch.randn(4, 16, 8)
    v1, s1, _ = drift_field(x, y)
    v2, s2, _ = drift_field(7.3 * x, 7.3 * y)
    torch.testing.assert_close(v1, v2, rtol=1e-4, atol=1e-4)
    assert abs(float(s2 / s1) - 7.3) < 1e-4


def test_loss_gradient_points_along_the_drift():
    torch.manual_seed(4)
    x = torch.randn(6, 3, 5, requires_grad=True)  # [B, G, C]
    y = torch.randn(6, 3, 5)
    loss, logs = drift_loss({"b": x}, {"b": y})
    loss.backward()
    v, s, _ = drift_field(x.detach().transpose(0, 1), y.transpose(0, 1))
    expect = -(2 / v.numel()) * v.transpose(0, 1) / s  # d/dx mean((x/s - sg(x/s + V))^2)
    torch.testing.assert_close(x.grad, expect, rtol=1e-4, atol=1e-6)
    assert logs["drift_norm"] > 0


def test_self_pairs_at_the_fixed_point():
    """At Y = X (the operator's fixed point) the official reading (own target a positive, self masked among
    the negatives) leaves a purely outward field; masking the own target too makes it exactly zero."""
    from methods.drift import drift_field

    torch.manual_seed(0)
    x = torch.randn(2, 32, 8)
    v, _, logs = drift_field(x, x.clone(), (0.05, 0.2), self_pairs="mask-negatives", normalize="none")
    assert logs["raw_norm"] > 0 and logs["raw_radial"] > 0.5 * logs["raw_norm"]  # repulsion, nothing balances it
    v, _, logs = drift_field(x, x.clone(), (0.05, 0.2), self_pairs="mask-both", normalize="none")
    assert v.abs().max() < 1e-5 and logs["raw_norm"] < 1e-5
    # targets less spread than the students: mask-both pulls inward
    v, _, logs = drift_field(x, 0.5 * x, (0.05, 0.2), self_pairs="mask-both", normalize="none")
    assert logs["raw_radial"] < 0


def test_rms_normaliser_blows_up_a_tiny_residual_and_none_does_not():
    from methods.drift import drift_field

    torch.manual_seed(1)
    x = torch.randn(1, 16, 4)
    y = x + 1e-3 * torch.randn_like(x)
    v_rms, _, _ = drift_field(x, y, (0.2,), self_pairs="mask-both", normalize="rms")
    v_raw, _, _ = drift_field(x, y, (0.2,), self_pairs="mask-both", normalize="none")
    assert v_rms.pow(2).mean().sqrt() == pytest.approx(1.0, rel=1e-3)
    assert v_raw.norm(dim=-1).mean() < 1e-2


def test_unknown_self_pairs_option_fails():
    from methods.drift import drift_field

    with pytest.raises(ValueError, match="self_pairs"):
        drift_field(torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), self_pairs="both")


def test_condition_sets_keep_other_conditions_targets_out():
    """set_size = samples per condition: a student is pulled only by its own condition's targets (the official
    code's class groups); in one mixed set another condition's targets, nearer than its own, drag it back."""
    torch.manual_seed(2)
    a = 0.1 * torch.randn(8, 1, 4)  # [B, G, C]: condition A's students near 0 ...
    b = 0.1 * torch.randn(8, 1, 4) + 3.0  # ... condition B's far away
    ya = a + torch.tensor([1.0, 0, 0, 0])  # A's targets at +x; B's land nearer A, on its -x side
    yb = 0.1 * torch.randn(8, 1, 4) - torch.tensor([0.5, 0, 0, 0])
    x, y = torch.cat([a, b]).requires_grad_(), torch.cat([ya, yb])
    pull = {}
    for set_size in (8, None):
        x.grad = None
        drift_loss({"k": x}, {"k": y}, (0.2,), set_size=set_size)[0].backward()
        pull[set_size] = float(-x.grad[:8, 0, 0].mean())  # descent direction of A's students along +x
    assert pull[8] > 2 * pull[None] > 0, pull
    with pytest.raises(ValueError, match="drift sets of 3"):
        drift_loss({"k": x}, {"k": y}, set_size=3)


def test_paired_control_pulls_each_student_to_its_own_target_and_pull_cos_tells_them_apart():
    """The paired control's gradient is −(y_i − x_i) per sample at the drift's step size; the drift logs the
    cosine of its field with that direction: near 1 when targets sit next to their own students, lower when
    a batch of look-alike targets makes the field pull toward the crowd."""
    from methods.drift import paired_loss

    torch.manual_seed(5)
    x = torch.randn(16, 2, 8, requires_grad=True)
    y = torch.randn(16, 2, 8)
    loss, logs = paired_loss({"b": x}, {"b": y}, n_terms=3)
    loss.backward()
    cos = torch.nn.functional.cosine_similarity(-x.grad, y - x.detach(), dim=-1)
    assert cos.min() > 0.999 and logs["paired_dist"] > 0
    xd = x.detach()
    _, moved = drift_loss({"b": xd}, {"b": xd + 2.0}, self_pairs="mask-negatives")
    _, unrelated = drift_loss({"b": xd}, {"b": y}, self_pairs="mask-negatives")
    assert moved["drift_pull_cos_own"] > 0.5 and abs(unrelated["drift_pull_cos_own"]) < 0.3
