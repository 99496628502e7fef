"""Network shapes read back from state dicts: full files give the preset, reduced fixtures their own config."""

import dataclasses

import pytest
import torch

from harness.errors import HarnessError
from harness.networks.checkpoints import _kind, _module_for_sd
from harness.networks.fixtures import reduced_config
from harness.networks.infer_config import count_blocks, infer_config

KINDS = ["maskgit_transformer", "vqgan", "tatitok", "maskgen", "clip_text"]


def _official_sd(kind: str, cfg):
    """The state dict the official file of `kind` would hold for `cfg` (meta tensors: shapes only)."""
    k = _kind(kind)
    with torch.device("meta"):
        model = k["build"](cfg)
    return _module_for_sd(kind, model).state_dict()


@pytest.mark.parametrize("kind", KINDS)
def test_a_full_file_infers_exactly_the_preset_config(kind):
    base = _kind(kind)["config"]()
    assert infer_config(kind, _official_sd(kind, base), base, kind) == base


@pytest.mark.parametrize("kind", KINDS)
def test_a_reduced_file_infers_the_config_it_was_written_with(kind):
    base, small = _kind(kind)["config"](), reduced_config(kind)
    assert small != base
    assert infer_config(kind, _official_sd(kind, small), base, kind) == small


def test_head_count_stays_the_preset_and_must_divide_the_width():
    from harness.networks.maskgit_v1 import MaskGITConfig

    sd = _official_sd("maskgit_transformer", MaskGITConfig(hidden_dim=40, mlp_dim=80, depth=1, heads=8))
    with pytest.raises(HarnessError, match="width 40 read from the file does not split into the preset's 16 heads"):
        infer_config("maskgit_transformer", sd, MaskGITConfig(), "MaskGIT")
    got = infer_config("maskgit_transformer", sd, dataclasses.replace(MaskGITConfig(), heads=8), "MaskGIT")
    assert (got.hidden_dim, got.depth, got.heads) == (40, 1, 8)


def test_count_blocks_reads_numbered_children_only():
    sd = {"blocks.0.a": 0, "blocks.11.b": 0, "blocks_extra.3.c": 0, "other.2.d": 0}
    assert count_blocks(sd, "blocks.") == 12 and count_blocks(sd, "missing.") is None
