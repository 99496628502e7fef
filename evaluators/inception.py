"""Inception-v3 features for ImageNet FID / IS / P / R: torch-fidelity's `inception-v3-compat`.

torch-fidelity's port reproduces the ADM TF evaluator to ~1e-3 FID (lavinal712/ADM-evaluation-suite-pytorch README):
TF1-exact bilinear resize to 299, (x-128)/128, pool3 '2048' for FID / P / R and
'logits_unbiased' (pool3 @ W, no bias) for IS, matching ADM's logits (guided-diffusion `evaluations/evaluator.py`).
Weights never download here (no network at run time, docs/references/design.md §4): they come from an
explicit path, $FPD_INCEPTION_WEIGHTS, or torch-fidelity's file in the torch hub cache.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from evaluators.errors import MissingWeights
from evaluators.features import check_uint8_images, register_extractor

WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
# torch-fidelity feature_extractor_inceptionv3.py URL_INCEPTION_V3
WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{WEIGHTS_FILE}"
ENV_VAR = "FPD_INCEPTION_WEIGHTS"


def find_inception_weights(path: str | os.PathLike | None = None) -> Path:
    """Resolve the weight file: explicit path, then $FPD_INCEPTION_WEIGHTS, then the hub cache."""
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise MissingWeights(
                "Inception-v3 (torch-fidelity)", WEIGHTS_FILE, WEIGHTS_URL, f"the given path {str(p)!r} is not a file"
            )
        return p
    env = os.environ.get(ENV_VAR)
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise MissingWeights(
                "Inception-v3 (torch-fidelity)", WEIGHTS_FILE, WEIGHTS_URL, f"${ENV_VAR}={env!r} is not a file"
            )
        return p
    # Where torch-fidelity's load_state_dict_from_url would have cached it (`feature_extractor_inceptionv3.py`).
    cached = Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE
    if cached.is_file():
        return cached
    raise MissingWeights(
        "Inception-v3 (torch-fidelity)", WEIGHTS_FILE, WEIGHTS_URL, f"or set ${ENV_VAR}, or place it in {cached.parent}"
    )


@register_extractor("inception-v3-compat")
class InceptionV3Compat(torch.nn.Module):
    """uint8 [B,3,H,W] -> {'pool': [B,2048], 'logits': [B,1008] unbiased}, float32 on `device`."""

    name = "inception-v3-compat"
    # Bump when anything changes the feature values (weights file, layers, resize); reference
    # statistics caches are keyed by name + version.
    version = f"torch-fidelity-2048+logits_unbiased/{WEIGHTS_FILE}"

    def __init__(
        self, weights_path: str | os.PathLike | None = None, device: str | torch.device = "cpu", batch_size: int = 64
    ) -> None:
        super().__init__()
        path = find_inception_weights(weights_path)
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        self.net = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=str(path)
        ).to(device)
        self.device = torch.device(device)
        self.batch_size = batch_size  # ADM evaluator feeds batches of 64

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        check_uint8_images(images)
        pools, logits = [], []
        for chunk in images.split(self.batch_size):
            p, lg = self.net(chunk.to(self.device))
            pools.append(p.float().cpu())
            logits.append(lg.float().cpu())
        return {"pool": torch.cat(pools), "logits": torch.cat(logits)}
