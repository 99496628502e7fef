import pytest
import torch

from methods.masking import maskgit_v1_schedule, proper_arccos_schedule, remask

# docs/references/teachers.md §1.3 (re-computed values of MaskGIT-pytorch v1 adap_sche and the Di4C/ReDi schedule)
V1 = {
    16: [1, 6, 9, 10, 12, 14, 15, 16, 18, 19, 20, 21, 22, 23, 25, 25],
    8: [1, 18, 26, 32, 38, 43, 48, 50],
    4: [1, 59, 87, 109],
    2: [1, 255],
    1: [256],
}
PROPER = {
    16: [10, 10, 11, 10, 11, 11, 11, 11, 12, 13, 14, 14, 17, 19, 24, 58],
    8: [20, 21, 22, 22, 25, 28, 36, 82],
    4: [41, 44, 53, 118],
    2: [85, 171],
    1: [256],
}


@pytest.mark.parametrize("n", [16, 8, 4, 2, 1])
def test_schedules_match_the_reference(n):
    assert maskgit_v1_schedule(n, 256) == V1[n]
    assert proper_arccos_schedule(n, 256) == PROPER[n]


@pytest.mark.parametrize("n", [1, 3, 5, 12, 16])
def test_schedules_reveal_every_token_for_the_shapes_grid(n):
    for f in (maskgit_v1_schedule, proper_arccos_schedule):
        s = f(n, 64)
        assert sum(s) == 64 and len(s) == n and min(s) >= 1


@pytest.mark.parametrize("n", [40, 48, 63, 64])
def test_schedules_with_nearly_one_token_per_step_stay_valid(n):
    # the original's last-step correction goes negative here (64 steps, maskgit-v1: ..., 2, 2, -3)
    for f in (maskgit_v1_schedule, proper_arccos_schedule):
        s = f(n, 64)
        assert sum(s) == 64 and len(s) == n and min(s) >= 1
    assert maskgit_v1_schedule(64, 64) == [1] * 64


def test_more_steps_than_tokens_are_refused():
    with pytest.raises(ValueError, match="at most 64 steps"):
        maskgit_v1_schedule(65, 64)


def test_steps_below_one_are_refused():
    with pytest.raises(ValueError):
        maskgit_v1_schedule(0, 64)


def test_remask_masks_exact_counts():
    tok = torch.zeros(4, 64, dtype=torch.long)
    out, mask = remask(tok, torch.tensor([0.0, 0.25, 0.5, 1.0]), 99, torch.rand(4, 64))
    assert mask.sum(1).tolist() == [1, 16, 32, 64]  # at least one position
    assert (out[mask] == 99).all() and (out[~mask] == 0).all()
