import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py
os.environ.setdefault("FPD_NO_PROGRESS", "1")
# One cache of reference features per test session (shared by the console-script subprocesses), not ~/.cache.
os.environ.setdefault("FPD_CACHE_DIR", __import__("tempfile").mkdtemp(prefix="fpd-test-cache-"))
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture
def tiny_nets():
    """A tiny random teacher + tokenizer of the shapes layout (no shipped assets needed)."""
    from harness.networks.shapes_transformer import ShapesMaskTransformer, TransformerConfig
    from harness.networks.shapes_vq import ShapesVQ, VQConfig

    torch.manual_seed(0)
    tok = ShapesVQ(VQConfig(channels=16, codebook_size=32, code_dim=8)).eval()
    teacher = ShapesMaskTransformer(
        TransformerConfig(num_tokens=64, codebook_size=32, width=32, depth=1, heads=2)
    ).eval()
    return teacher, tok
